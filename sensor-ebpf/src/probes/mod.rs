//! Probe programs, one file per event family. Each program is a thin wrapper that calls a
//! shared `*_exit` function; failures to reserve ring space are counted per class.

mod dup;
mod file;
mod io;
mod process;
mod syscalls;

use aya_ebpf::helpers::generated::bpf_ktime_get_ns;
use sensor_ebpf_common::{EventHeader, EventKind, Op};

use crate::{
    kernel::Task,
    maps::{comm_excluded, count_filtered, exclude_active},
};

/// True (and counted in `FILTERED`) when the comm filter skips this `op` of `task`. Called by
/// the I/O, open, dup and directory-entry handlers first thing, with the task pointer they
/// fetch anyway; the setuid family and chdir/fchdir are not filtered (identities stay right,
/// and the working directory is shared by the threads of a process). Without exclusions the
/// cost is the load of the frozen `EXCLUDE_ACTIVE` (the verifier prunes the rest).
#[inline(always)]
pub(crate) fn filtered(task: Task, op: Op) -> bool {
    if !exclude_active() || !comm_excluded(&task.comm()) {
        return false;
    }
    count_filtered(op.class());
    true
}

/// Header for an event of `task` (the current task; `pid_tgid` is `task.pid_tgid()`).
#[inline(always)]
pub(crate) fn header(task: Task, pid_tgid: u64, kind: EventKind, op: Op, ret: i64) -> EventHeader {
    EventHeader {
        ts_ns: unsafe { bpf_ktime_get_ns() },
        pid_tgid,
        uid_gid: task.uid_gid(),
        ret,
        kind: kind as u16,
        op: op as u16,
        _pad: 0,
    }
}
