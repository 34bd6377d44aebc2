//! Probe programs, one file per event family. Each program is a thin wrapper that calls a
//! shared `*_exit` function; failures to reserve ring space are counted per class.

mod dup;
mod file;
mod io;
mod process;
mod syscalls;

use aya_ebpf::helpers::generated::{bpf_get_current_pid_tgid, bpf_ktime_get_ns};
use sensor_ebpf_common::{EventHeader, EventKind, Op};

/// Header for an event of the current task.
#[inline(always)]
pub(crate) fn header(pid_tgid: u64, kind: EventKind, op: Op, ret: i64) -> EventHeader {
    EventHeader {
        ts_ns: unsafe { bpf_ktime_get_ns() },
        pid_tgid,
        uid_gid: crate::kernel::current_uid_gid(),
        ret,
        kind: kind as u16,
        op: op as u16,
        _pad: 0,
    }
}

/// `tgid << 32 | tid` of the current task.
#[inline(always)]
pub(crate) fn pid_tgid() -> u64 {
    unsafe { bpf_get_current_pid_tgid() }
}
