//! One `sys_exit` raw tracepoint (BTF-typed) for every syscall of interest: the x86-64
//! syscall number selects the handler; the arguments are still in the user `pt_regs` at
//! exit (as Falco's modern probe reads them). Cheaper to attach than one fexit per syscall,
//! and fexit/trampolines may be unavailable (e.g. under some lockdown/LSM policies).

use aya_ebpf::{macros::btf_tracepoint, programs::BtfTracePointContext};
use sensor_ebpf_common::Op;

use super::{
    dup::dup_exit,
    file::{open_exit, path_exit},
    io::io_exit,
    process::cred_exit,
};
use crate::kernel::tload;

/// `pt_regs.orig_ax`: the syscall number.
const ORIG_AX: u64 = 120;

/// `sys_exit(struct pt_regs *regs, long ret)`.
#[btf_tracepoint(function = "sys_exit")]
pub fn sys_exit(ctx: BtfTracePointContext) -> i32 {
    let regs: u64 = ctx.arg(0);
    let ret: i64 = ctx.arg(1);
    // A direct load from the typed `pt_regs`: syscalls of no interest (most of them) leave
    // after one load and one compare, before any helper call.
    let nr: u64 = unsafe { tload(regs, ORIG_AX) };
    unsafe {
        match nr {
            0 => io_exit(regs, ret, Op::Read),
            1 => io_exit(regs, ret, Op::Write),
            2 => open_exit(regs, ret, Op::Open),
            3 => io_exit(regs, ret, Op::Close),
            9 => io_exit(regs, ret, Op::Mmap),
            17 => io_exit(regs, ret, Op::Pread64),
            18 => io_exit(regs, ret, Op::Pwrite64),
            19 => io_exit(regs, ret, Op::Readv),
            20 => io_exit(regs, ret, Op::Writev),
            32 => dup_exit(regs, ret, Op::Dup),
            33 => dup_exit(regs, ret, Op::Dup2),
            42 => io_exit(regs, ret, Op::Connect),
            43 => io_exit(regs, ret, Op::Accept),
            44 => io_exit(regs, ret, Op::Sendto),
            45 => io_exit(regs, ret, Op::Recvfrom),
            46 => io_exit(regs, ret, Op::Sendmsg),
            47 => io_exit(regs, ret, Op::Recvmsg),
            48 => io_exit(regs, ret, Op::Shutdown),
            72 => dup_exit(regs, ret, Op::FcntlDupfd),
            80 => path_exit(regs, ret, Op::Chdir),
            81 => path_exit(regs, ret, Op::Fchdir),
            82 => path_exit(regs, ret, Op::Rename),
            83 => path_exit(regs, ret, Op::Mkdir),
            84 => path_exit(regs, ret, Op::Rmdir),
            85 => open_exit(regs, ret, Op::Creat),
            86 => path_exit(regs, ret, Op::Link),
            87 => path_exit(regs, ret, Op::Unlink),
            88 => path_exit(regs, ret, Op::Symlink),
            105 => cred_exit(regs, ret, Op::Setuid),
            113 => cred_exit(regs, ret, Op::Setreuid),
            117 => cred_exit(regs, ret, Op::Setresuid),
            257 => open_exit(regs, ret, Op::Openat),
            258 => path_exit(regs, ret, Op::Mkdirat),
            263 => path_exit(regs, ret, Op::Unlinkat),
            264 => path_exit(regs, ret, Op::Renameat),
            265 => path_exit(regs, ret, Op::Linkat),
            266 => path_exit(regs, ret, Op::Symlinkat),
            288 => io_exit(regs, ret, Op::Accept4),
            292 => dup_exit(regs, ret, Op::Dup3),
            295 => io_exit(regs, ret, Op::Preadv),
            296 => io_exit(regs, ret, Op::Pwritev),
            299 => io_exit(regs, ret, Op::Recvmmsg),
            307 => io_exit(regs, ret, Op::Sendmmsg),
            316 => path_exit(regs, ret, Op::Renameat2),
            437 => open_exit(regs, ret, Op::Openat2),
            _ => {}
        }
    }
    0
}
