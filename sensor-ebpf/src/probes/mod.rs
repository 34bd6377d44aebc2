//! Probe programs, one file per event family. Each program is a thin wrapper that calls a
//! shared `*_exit` function; failures to reserve ring space are counted per class.

mod dup;
mod file;
mod io;
mod process;
mod syscalls;

use aya_ebpf::helpers::generated::bpf_ktime_get_ns;
use sensor_ebpf_common::{EventHeader, EventKind, Op};

use crate::kernel::Task;

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
