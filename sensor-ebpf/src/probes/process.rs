//! Process life cycle: exec, fork/clone (processes and threads), exit (every thread), a
//! process moving to another cgroup (into a container), and the setuid family.

use aya_ebpf::{macros::btf_tracepoint, programs::BtfTracePointContext};
use sensor_ebpf_common::{
    CgroupEvent, CredEvent, EventKind, ExecEvent, ExitEvent, ForkEvent, Op, ARGS_LEN,
};

use super::header;
use crate::{
    cgroup::{clear_cgroup, kn_names, task_cgroup, task_cgroup_kn},
    dpath::exe_path,
    kernel::{current_task, kernel_str, kread, sys_arg, tload, user_bytes, user_str, Args, Task},
    maps::{count_drop, is_self, offsets, wakeup_flags, EVENTS},
};

/// `sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)`;
/// fires in the new image after a successful exec (since 3.4).
#[btf_tracepoint(function = "sched_process_exec")]
pub fn sched_process_exec(ctx: BtfTracePointContext) -> i32 {
    let task = Task::current();
    let pt = task.pid_tgid();
    if is_self(pt) {
        return 0;
    }
    let bprm: u64 = ctx.arg(2);
    let o = offsets();
    let Some(mut e) = EVENTS.reserve::<ExecEvent>(0) else {
        count_drop(Op::Exec, pt);
        return 0;
    };
    let p = e.as_mut_ptr();
    unsafe {
        (*p).hdr = header(task, pt, EventKind::Exec, Op::Exec, 0);
        (*p).tty = 0;
        (*p).exe_len = 0;
        (*p).args_len = 0;
        (*p).args_truncated = 0;
        (*p).exe[0] = 0;
        (*p).args[0] = 0;
        if o.valid != 0 {
            let cur = current_task();
            if let Some(fname) = kread::<u64>(bprm + o.bprm_filename as u64) {
                (*p).exe_len = kernel_str(fname, &raw mut (*p).exe);
            }
            if let Some(signal) = kread::<u64>(cur + o.task_signal as u64) {
                let tty = kread::<u64>(signal + o.signal_tty as u64).unwrap_or(0);
                (*p).tty = (tty != 0) as u32;
            }
            if let Some(mm) = kread::<u64>(cur + o.task_mm as u64) {
                let start = kread::<u64>(mm + o.mm_arg_start as u64).unwrap_or(0);
                let end = kread::<u64>(mm + o.mm_arg_end as u64).unwrap_or(0);
                let len = end.saturating_sub(start);
                // Exactly the argument bytes (at most ARGS_LEN): a fixed-size read past
                // `arg_end` fails when argv and the environment are short and end near the
                // top of the stack mapping, as a container entrypoint's often are.
                if user_bytes(start, &raw mut (*p).args, len) {
                    (*p).args_len = if len > ARGS_LEN as u64 {
                        ARGS_LEN as u32
                    } else {
                        len as u32
                    };
                    (*p).args_truncated = (len > ARGS_LEN as u64) as u32;
                } else {
                    (*p).args_len = user_str(start, &raw mut (*p).args);
                    (*p).args_truncated = 1;
                }
            }
        }
        // The two walks last, each in a function of its own: the verifier follows every way
        // out of a loop into whatever comes after it, so little may come after.
        task_cgroup(task, &raw mut (*p).cgroup);
        let (n, complete) = exe_path(bprm, &raw mut (*p).exe_path);
        (*p).exe_path_len = n;
        (*p).exe_path_complete = complete as u32;
    }
    e.submit(wakeup_flags());
    0
}

/// `sched_process_fork(struct task_struct *parent, struct task_struct *child)`; runs in the
/// parent for every new task (process or thread).
#[btf_tracepoint(function = "sched_process_fork")]
pub fn sched_process_fork(ctx: BtfTracePointContext) -> i32 {
    let task = Task::current();
    let pt = task.pid_tgid();
    if is_self(pt) {
        return 0;
    }
    let child_ptr: u64 = ctx.arg(1);
    let child = Task::from_arg(child_ptr);
    let o = offsets();
    let (mut cpid, mut ctgid, mut cstart) = (0u32, 0u32, 0u64);
    if o.valid != 0 {
        unsafe {
            cpid = kread::<u32>(child_ptr + o.task_pid as u64).unwrap_or(0);
            ctgid = kread::<u32>(child_ptr + o.task_tgid as u64).unwrap_or(0);
            cstart = kread::<u64>(child_ptr + o.task_start_time as u64).unwrap_or(0);
        }
    }
    let Some(mut e) = EVENTS.reserve::<ForkEvent>(0) else {
        count_drop(Op::Fork, pt);
        return 0;
    };
    let p = e.as_mut_ptr();
    unsafe {
        (*p).hdr = header(task, pt, EventKind::Fork, Op::Fork, cpid as i64);
        (*p).child_pid = cpid;
        (*p).child_tgid = ctgid;
        (*p).child_start_ns = cstart;
        // Threads share their process's container: only new processes need the names.
        if cpid == ctgid {
            task_cgroup(child, &raw mut (*p).cgroup);
        } else {
            clear_cgroup(&raw mut (*p).cgroup);
        }
    }
    e.submit(wakeup_flags());
    0
}

/// `cgroup_attach_task(struct cgroup *dst_cgrp, const char *path, struct task_struct *task,
/// bool threadgroup)`; runs in the writer of `cgroup.procs` (runc, systemd, containerd) once
/// per hierarchy the task moves in. Only a move in the tracked hierarchy of a group leader
/// (the process) is reported.
#[btf_tracepoint(function = "cgroup_attach_task")]
pub fn cgroup_attach_task(ctx: BtfTracePointContext) -> i32 {
    let o = offsets();
    if o.valid == 0 || o.cgroup_valid == 0 {
        return 0;
    }
    let dst: u64 = ctx.arg(0);
    let task = Task::from_arg(ctx.arg(2));
    let pt = task.pid_tgid();
    if pt as u32 != (pt >> 32) as u32 || is_self(pt) {
        return 0;
    }
    // The task's cgroup in the tracked hierarchy is `dst` only when this move is in it (the
    // task already belongs to `dst` when the tracepoint fires).
    let kn = unsafe { task_cgroup_kn(task) };
    let dst_kn: u64 = unsafe { tload(dst, o.cgroup_kn as u64) };
    if kn == 0 || kn != dst_kn {
        return 0;
    }
    let Some(mut e) = EVENTS.reserve::<CgroupEvent>(0) else {
        count_drop(Op::CgroupAttach, pt);
        return 0;
    };
    let p = e.as_mut_ptr();
    unsafe {
        (*p).hdr = header(task, pt, EventKind::Cgroup, Op::CgroupAttach, 0);
        clear_cgroup(&raw mut (*p).cgroup);
        kn_names(kn, &raw mut (*p).cgroup);
    }
    e.submit(wakeup_flags());
    0
}

/// `sched_process_exit(struct task_struct *p, ...)`; runs in the exiting task, once per thread.
#[btf_tracepoint(function = "sched_process_exit")]
pub fn sched_process_exit(_ctx: BtfTracePointContext) -> i32 {
    let task = Task::current();
    let pt = task.pid_tgid();
    if is_self(pt) {
        return 0;
    }
    let o = offsets();
    let (mut code, mut dead) = (0i32, 0u32);
    if o.valid != 0 {
        unsafe {
            let cur = current_task();
            code = kread::<i32>(cur + o.task_exit_code as u64).unwrap_or(0);
            if let Some(signal) = kread::<u64>(cur + o.task_signal as u64) {
                // `signal->live` is decremented before the tracepoint: 0 = whole group gone.
                let live = kread::<i32>(signal + o.signal_live as u64).unwrap_or(1);
                dead = (live == 0) as u32;
            }
        }
    } else {
        dead = ((pt >> 32) as u32 == pt as u32) as u32;
    }
    let Some(mut e) = EVENTS.reserve::<ExitEvent>(0) else {
        count_drop(Op::Exit, pt);
        return 0;
    };
    e.write(ExitEvent {
        hdr: header(task, pt, EventKind::Exit, Op::Exit, code as i64),
        exit_code: code,
        group_dead: dead,
    });
    e.submit(wakeup_flags());
    0
}

#[inline(never)]
pub(crate) unsafe fn cred_exit(regs: Args, ret: i64, op: Op) {
    let task = Task::current();
    let pt = task.pid_tgid();
    if is_self(pt) {
        return;
    }
    let uid_arg = unsafe {
        match op {
            Op::Setuid => sys_arg(regs, 0),
            _ => sys_arg(regs, 1),
        }
    } as u32;
    let Some(mut e) = EVENTS.reserve::<CredEvent>(0) else {
        count_drop(op, pt);
        return;
    };
    let hdr = header(task, pt, EventKind::Cred, op, ret);
    e.write(CredEvent {
        euid: if uid_arg == u32::MAX {
            hdr.uid()
        } else {
            uid_arg
        },
        hdr,
        uid_arg,
    });
    e.submit(wakeup_flags());
}
