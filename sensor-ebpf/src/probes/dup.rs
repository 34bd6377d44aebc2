//! Descriptor duplication on exit: dup, dup2, dup3 and fcntl(F_DUPFD, F_DUPFD_CLOEXEC), so a
//! duplicated descriptor joins the flow of the file it refers to (shell redirections).
//! Reported whatever the file type: dup2 onto a descriptor also ends what was open there.

use sensor_ebpf_common::{DupEvent, EventKind, Op};

use super::{filtered, header};
use crate::{
    kernel::{file_mode, sys_arg, Args, Task},
    log::failed,
    maps::{count_drop, is_self, wakeup_flags, EVENTS},
};

const F_DUPFD: u64 = 0;
const F_DUPFD_CLOEXEC: u64 = 1030;
const O_CLOEXEC: u64 = 0o2000000;

#[inline(never)]
pub(crate) unsafe fn dup_exit(regs: Args, ret: i64, op: Op) {
    let task = Task::current();
    if filtered(task, op) {
        return;
    }
    let pt = task.pid_tgid();
    if is_self(pt) {
        return;
    }
    if ret < 0 {
        failed(op, pt, ret);
        return;
    }
    let cloexec = match op {
        Op::FcntlDupfd => match unsafe { sys_arg(regs, 1) } {
            F_DUPFD => false,
            F_DUPFD_CLOEXEC => true,
            // Every other fcntl command: not a duplication, nothing to report.
            _ => return,
        },
        Op::Dup3 => (unsafe { sys_arg(regs, 2) } & O_CLOEXEC) != 0,
        _ => false,
    };
    let oldfd = unsafe { sys_arg(regs, 0) } as i32;
    if op == Op::Dup2 && oldfd as i64 == ret {
        // dup2(fd, fd) changes nothing.
        return;
    }
    let i_mode = match unsafe { task.file_of_fd(oldfd as i64) } {
        Some(f) => unsafe { file_mode(f) },
        None => 0,
    };
    let Some(mut e) = EVENTS.reserve::<DupEvent>(0) else {
        count_drop(op, pt);
        return;
    };
    e.write(DupEvent {
        hdr: header(task, pt, EventKind::Dup, op, ret),
        oldfd,
        cloexec: cloexec as u32,
        i_mode,
        _pad: 0,
    });
    e.submit(wakeup_flags());
}
