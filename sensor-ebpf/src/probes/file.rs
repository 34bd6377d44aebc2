//! Path-based calls on exit: the open family (with the resulting descriptor) and the
//! directory-entry calls mkdir/rmdir/unlink/link/symlink/rename, plus chdir/fchdir so user
//! space can make relative paths absolute.

use sensor_ebpf_common::{EventKind, Op, OpenEvent, PathEvent, AT_FDCWD};

use super::{filtered, header};
use crate::{
    kernel::{file_mode, sys_arg, sys_args, uread, user_str, Args, Task},
    log::failed,
    maps::{count_drop, is_self, wakeup_flags, EVENTS},
};

/// `O_CREAT | O_WRONLY | O_TRUNC`: what creat(2) means.
const CREAT_FLAGS: u32 = 0o100 | 0o1 | 0o1000;

#[inline(never)]
pub(crate) unsafe fn open_exit(regs: Args, ret: i64, op: Op) {
    let task = Task::current();
    if filtered(task, op) {
        return;
    }
    let pt = task.pid_tgid();
    if is_self(pt) {
        return;
    }
    if ret < 0 {
        // A failed open creates no flow; library-path probing would flood the ring.
        failed(op, pt, ret);
        return;
    }
    let (dirfd, path, flags) = unsafe {
        match op {
            Op::Open => (AT_FDCWD, sys_arg(regs, 0), sys_arg(regs, 1) as u32),
            Op::Creat => (AT_FDCWD, sys_arg(regs, 0), CREAT_FLAGS),
            Op::Openat2 => {
                let how = sys_arg(regs, 2);
                let f = uread::<u64>(how).unwrap_or(0) as u32;
                (sys_arg(regs, 0) as i32, sys_arg(regs, 1), f)
            }
            _ => (
                sys_arg(regs, 0) as i32,
                sys_arg(regs, 1),
                sys_arg(regs, 2) as u32,
            ),
        }
    };
    let i_mode = match unsafe { task.file_of_fd(ret) } {
        Some(f) => unsafe { file_mode(f) },
        None => 0,
    };
    let Some(mut e) = EVENTS.reserve::<OpenEvent>(0) else {
        count_drop(op, pt);
        return;
    };
    let p = e.as_mut_ptr();
    unsafe {
        (*p).hdr = header(task, pt, EventKind::Open, op, ret);
        (*p).dirfd = dirfd;
        (*p).flags = flags;
        (*p).i_mode = i_mode;
        (*p).path_len = user_str(path, &raw mut (*p).path);
    }
    e.submit(wakeup_flags());
}

/// Argument positions of a path call: (dirfd1, path1, dirfd2, path2, flags); `None` = absent.
type Layout = (
    Option<usize>,
    Option<usize>,
    Option<usize>,
    Option<usize>,
    Option<usize>,
);

#[inline(always)]
fn layout(op: Op) -> Layout {
    match op {
        Op::Mkdir | Op::Rmdir | Op::Unlink | Op::Chdir => (None, Some(0), None, None, None),
        Op::Mkdirat => (Some(0), Some(1), None, None, None),
        Op::Unlinkat => (Some(0), Some(1), None, None, Some(2)),
        Op::Link | Op::Rename | Op::Symlink => (None, Some(0), None, Some(1), None),
        Op::Linkat => (Some(0), Some(1), Some(2), Some(3), Some(4)),
        Op::Symlinkat => (None, Some(0), Some(1), Some(2), None),
        Op::Renameat => (Some(0), Some(1), Some(2), Some(3), None),
        Op::Renameat2 => (Some(0), Some(1), Some(2), Some(3), Some(4)),
        Op::Fchdir => (Some(0), None, None, None, None),
        _ => (None, None, None, None, None),
    }
}

#[inline(never)]
pub(crate) unsafe fn path_exit(regs: Args, ret: i64, op: Op) {
    let task = Task::current();
    // chdir/fchdir are kept: the working directory is the whole process's.
    if op != Op::Chdir && op != Op::Fchdir && filtered(task, op) {
        return;
    }
    let pt = task.pid_tgid();
    if is_self(pt) {
        return;
    }
    if (op == Op::Chdir || op == Op::Fchdir) && ret < 0 {
        failed(op, pt, ret);
        return;
    }
    let (d1, p1, d2, p2, fl) = layout(op);
    let args = unsafe { sys_args(regs) };
    let arg = |i: Option<usize>| i.and_then(|i| args.get(i).copied());
    let Some(mut e) = EVENTS.reserve::<PathEvent>(0) else {
        count_drop(op, pt);
        return;
    };
    let p = e.as_mut_ptr();
    unsafe {
        (*p).hdr = header(task, pt, EventKind::Path, op, ret);
        (*p).dirfd1 = arg(d1).map(|v| v as i32).unwrap_or(AT_FDCWD);
        (*p).dirfd2 = arg(d2).map(|v| v as i32).unwrap_or(AT_FDCWD);
        (*p).flags = arg(fl).unwrap_or(0) as u32;
        (*p).len1 = user_str(arg(p1).unwrap_or(0), &raw mut (*p).path1) as u16;
        (*p).len2 = user_str(arg(p2).unwrap_or(0), &raw mut (*p).path2) as u16;
    }
    e.submit(wakeup_flags());
}
