//! Descriptor I/O on exit: read/write and their positional and vectored forms, the
//! send/recv family, mmap, setns, close, and the socket calls connect/accept/shutdown.
//!
//! Only regular files and inet sockets are reported (the collector's `fileOnly` default);
//! pipes, ttys, unix sockets and the like are filtered here to keep the ring quiet.

use sensor_ebpf_common::{classes, mode, EventKind, IoEvent, Op, SockTuple};

use super::{filtered, header};
use crate::{
    kernel::{
        file_mode, is_reported_mode, sock_tuple, sockaddr_remote, sys_arg, user_ptr, Args, Task,
    },
    log::{failed, no_file},
    maps::{count_drop, is_self, reports, wakeup_flags, EVENTS},
};

const IPPROTO_UDP: u16 = 17;

#[inline(never)]
pub(crate) unsafe fn io_exit(regs: Args, ret: i64, op: Op) {
    let task = Task::current();
    if filtered(task, op) {
        return;
    }
    let pt = task.pid_tgid();
    if is_self(pt) {
        return;
    }
    let mut fd = unsafe { sys_arg(regs, 0) } as i32 as i64;
    match op {
        Op::Mmap => {
            fd = unsafe { sys_arg(regs, 4) } as i32 as i64;
            if fd < 0 {
                // Anonymous mapping: no file.
                return;
            }
            if ret < 0 {
                failed(op, pt, ret);
                return;
            }
        }
        Op::Accept | Op::Accept4 => {
            if ret < 0 {
                failed(op, pt, ret);
                return;
            }
            fd = ret;
        }
        Op::Close | Op::Setns if ret < 0 => {
            failed(op, pt, ret);
            return;
        }
        _ => {}
    }
    unsafe { report_fd(task, pt, regs, ret, op, fd) };
}

/// sendfile, splice and copy_file_range move data between two descriptors without passing
/// it through user memory: one event for the read side (`in_fd`) and one for the write side
/// (`out_fd`), each with the call's return value (bytes moved), so both flows count them.
/// Pipes on either side are filtered like any pipe.
#[inline(never)]
pub(crate) unsafe fn xfer_exit(regs: Args, ret: i64, read_op: Op) {
    let task = Task::current();
    if filtered(task, read_op) {
        return;
    }
    let pt = task.pid_tgid();
    if is_self(pt) {
        return;
    }
    let (in_arg, out_arg, write_op) = match read_op {
        // sendfile(out_fd, in_fd, offset, count)
        Op::SendfileIn => (1, 0, Op::SendfileOut),
        // splice(fd_in, off_in, fd_out, off_out, len, flags)
        Op::SpliceIn => (0, 2, Op::SpliceOut),
        // copy_file_range(fd_in, off_in, fd_out, off_out, len, flags)
        _ => (0, 2, Op::CopyFileRangeOut),
    };
    let fd_in = unsafe { sys_arg(regs, in_arg) } as i32 as i64;
    let fd_out = unsafe { sys_arg(regs, out_arg) } as i32 as i64;
    unsafe {
        report_fd(task, pt, regs, ret, read_op, fd_in);
        report_fd(task, pt, regs, ret, write_op, fd_out);
    }
}

/// One I/O event for `op` on `fd`, if `fd` is a regular file or an inet socket (close is
/// reported for any descriptor: its file is already gone at exit).
#[inline(always)]
unsafe fn report_fd(task: Task, pt: u64, regs: Args, ret: i64, op: Op, fd: i64) {
    let mut i_mode = 0;
    let mut sock = SockTuple::default();
    if op != Op::Close {
        let Some(file) = (unsafe { task.file_of_fd(fd) }) else {
            no_file(op, pt, fd, ret);
            return;
        };
        i_mode = unsafe { file_mode(file) };
        if !is_reported_mode(i_mode) {
            return;
        }
        let class = if i_mode & mode::S_IFMT == mode::S_IFSOCK {
            classes::NET
        } else {
            classes::FILE
        };
        if !reports(class) {
            return;
        }
        if i_mode & mode::S_IFMT == mode::S_IFSOCK {
            if op == Op::Mmap || op == Op::Setns {
                return;
            }
            unsafe { sock_tuple(file, &mut sock) };
            if sock.family != 2 && sock.family != 10 {
                return;
            }
            if sock.proto == IPPROTO_UDP {
                // Unconnected UDP: the peer is in the call's address argument.
                match op {
                    Op::Sendto | Op::Recvfrom => unsafe {
                        sockaddr_remote(sys_arg(regs, 4), &mut sock)
                    },
                    Op::Sendmsg | Op::Recvmsg => unsafe {
                        // msg_name is the first member of (compat_)msghdr.
                        let msghdr = sys_arg(regs, 1);
                        if let Some(name) = user_ptr(regs, msghdr) {
                            sockaddr_remote(name, &mut sock);
                        }
                    },
                    _ => {}
                }
            }
        }
    }
    let Some(mut e) = EVENTS.reserve::<IoEvent>(0) else {
        count_drop(op, pt);
        return;
    };
    e.write(IoEvent {
        hdr: header(task, pt, EventKind::Io, op, ret),
        fd: fd as i32,
        i_mode,
        sock,
    });
    e.submit(wakeup_flags());
}
