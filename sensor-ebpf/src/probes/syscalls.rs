//! One `sys_exit` raw tracepoint (BTF-typed) for every syscall of interest: the syscall
//! number selects the handler; the arguments are still in the user `pt_regs` at exit (as
//! Falco's modern probe reads them). Cheaper to attach than one fexit per syscall, and
//! fexit/trampolines may be unavailable (e.g. under some lockdown/LSM policies).
//!
//! ia32 (compat) syscalls reach the same tracepoint with their own numbers (ia32 read = 3 is
//! x86-64 close) and arguments in ebx, ecx, edx, esi, edi, ebp: `in_ia32_syscall` picks the
//! table, [`Args`] the registers. socketcall(2) and the old ia32 mmap(2) pass a user array of
//! u32 instead. x32 syscalls (`__X32_SYSCALL_BIT` set) match neither table: not reported.

use aya_ebpf::{macros::btf_tracepoint, programs::BtfTracePointContext};
use sensor_ebpf_common::{classes, Op};

use super::{
    dup::dup_exit,
    file::{open_exit, path_exit},
    io::{io_exit, xfer_exit},
    process::cred_exit,
};
use crate::{
    kernel::{in_ia32_syscall, sys_arg, tload, Abi, Args},
    maps::reports,
};

/// `pt_regs.orig_ax`: the syscall number.
const ORIG_AX: u64 = 120;

/// The handler an op goes to.
#[derive(Clone, Copy)]
enum H {
    Io,
    /// Two descriptors (sendfile, splice, copy_file_range); the op is the read side.
    Xfer,
    Open,
    Path,
    Dup,
    Cred,
}

/// ia32-only entries: the real call comes from the arguments.
#[derive(Clone, Copy)]
enum Ia32 {
    Call(H, Op),
    /// Setuid family with 16-bit uids.
    Uid16(Op),
    /// socketcall(call, u32 *args).
    Socketcall,
    /// old_mmap(struct mmap_arg_struct *): six u32, fd the fifth.
    OldMmap,
}

/// x86-64 syscall number → handler (arch/x86/entry/syscalls/syscall_64.tbl).
#[inline(always)]
fn x64_call(nr: u64) -> Option<(H, Op)> {
    Some(match nr {
        0 => (H::Io, Op::Read),
        1 => (H::Io, Op::Write),
        2 => (H::Open, Op::Open),
        3 => (H::Io, Op::Close),
        9 => (H::Io, Op::Mmap),
        17 => (H::Io, Op::Pread64),
        18 => (H::Io, Op::Pwrite64),
        19 => (H::Io, Op::Readv),
        20 => (H::Io, Op::Writev),
        32 => (H::Dup, Op::Dup),
        40 => (H::Xfer, Op::SendfileIn),
        33 => (H::Dup, Op::Dup2),
        42 => (H::Io, Op::Connect),
        43 => (H::Io, Op::Accept),
        44 => (H::Io, Op::Sendto),
        45 => (H::Io, Op::Recvfrom),
        46 => (H::Io, Op::Sendmsg),
        47 => (H::Io, Op::Recvmsg),
        48 => (H::Io, Op::Shutdown),
        72 => (H::Dup, Op::FcntlDupfd),
        80 => (H::Path, Op::Chdir),
        81 => (H::Path, Op::Fchdir),
        82 => (H::Path, Op::Rename),
        83 => (H::Path, Op::Mkdir),
        84 => (H::Path, Op::Rmdir),
        85 => (H::Open, Op::Creat),
        86 => (H::Path, Op::Link),
        87 => (H::Path, Op::Unlink),
        88 => (H::Path, Op::Symlink),
        105 => (H::Cred, Op::Setuid),
        113 => (H::Cred, Op::Setreuid),
        117 => (H::Cred, Op::Setresuid),
        257 => (H::Open, Op::Openat),
        258 => (H::Path, Op::Mkdirat),
        263 => (H::Path, Op::Unlinkat),
        264 => (H::Path, Op::Renameat),
        265 => (H::Path, Op::Linkat),
        266 => (H::Path, Op::Symlinkat),
        275 => (H::Xfer, Op::SpliceIn),
        288 => (H::Io, Op::Accept4),
        292 => (H::Dup, Op::Dup3),
        295 => (H::Io, Op::Preadv),
        296 => (H::Io, Op::Pwritev),
        299 => (H::Io, Op::Recvmmsg),
        307 => (H::Io, Op::Sendmmsg),
        308 => (H::Io, Op::Setns),
        316 => (H::Path, Op::Renameat2),
        326 => (H::Xfer, Op::CopyFileRangeIn),
        327 => (H::Io, Op::Preadv2),
        328 => (H::Io, Op::Pwritev2),
        437 => (H::Open, Op::Openat2),
        _ => return None,
    })
}

/// ia32 syscall number → handler (arch/x86/entry/syscalls/syscall_32.tbl).
#[inline(always)]
fn ia32_call(nr: u64) -> Option<Ia32> {
    use Ia32::Call;
    Some(match nr {
        3 => Call(H::Io, Op::Read),
        4 => Call(H::Io, Op::Write),
        5 => Call(H::Open, Op::Open),
        6 => Call(H::Io, Op::Close),
        8 => Call(H::Open, Op::Creat),
        9 => Call(H::Path, Op::Link),
        10 => Call(H::Path, Op::Unlink),
        12 => Call(H::Path, Op::Chdir),
        23 => Ia32::Uid16(Op::Setuid),
        38 => Call(H::Path, Op::Rename),
        39 => Call(H::Path, Op::Mkdir),
        40 => Call(H::Path, Op::Rmdir),
        41 => Call(H::Dup, Op::Dup),
        55 => Call(H::Dup, Op::FcntlDupfd),
        63 => Call(H::Dup, Op::Dup2),
        70 => Ia32::Uid16(Op::Setreuid),
        83 => Call(H::Path, Op::Symlink),
        90 => Ia32::OldMmap,
        102 => Ia32::Socketcall,
        133 => Call(H::Path, Op::Fchdir),
        145 => Call(H::Io, Op::Readv),
        146 => Call(H::Io, Op::Writev),
        164 => Ia32::Uid16(Op::Setresuid),
        180 => Call(H::Io, Op::Pread64),
        181 => Call(H::Io, Op::Pwrite64),
        // sendfile and sendfile64 differ only in the offset's width.
        187 | 239 => Call(H::Xfer, Op::SendfileIn),
        192 => Call(H::Io, Op::Mmap),
        203 => Call(H::Cred, Op::Setreuid),
        208 => Call(H::Cred, Op::Setresuid),
        213 => Call(H::Cred, Op::Setuid),
        221 => Call(H::Dup, Op::FcntlDupfd),
        295 => Call(H::Open, Op::Openat),
        296 => Call(H::Path, Op::Mkdirat),
        301 => Call(H::Path, Op::Unlinkat),
        302 => Call(H::Path, Op::Renameat),
        303 => Call(H::Path, Op::Linkat),
        304 => Call(H::Path, Op::Symlinkat),
        313 => Call(H::Xfer, Op::SpliceIn),
        330 => Call(H::Dup, Op::Dup3),
        333 => Call(H::Io, Op::Preadv),
        334 => Call(H::Io, Op::Pwritev),
        337 | 417 => Call(H::Io, Op::Recvmmsg),
        345 => Call(H::Io, Op::Sendmmsg),
        346 => Call(H::Io, Op::Setns),
        353 => Call(H::Path, Op::Renameat2),
        362 => Call(H::Io, Op::Connect),
        364 => Call(H::Io, Op::Accept4),
        369 => Call(H::Io, Op::Sendto),
        370 => Call(H::Io, Op::Sendmsg),
        371 => Call(H::Io, Op::Recvfrom),
        372 => Call(H::Io, Op::Recvmsg),
        373 => Call(H::Io, Op::Shutdown),
        377 => Call(H::Xfer, Op::CopyFileRangeIn),
        378 => Call(H::Io, Op::Preadv2),
        379 => Call(H::Io, Op::Pwritev2),
        437 => Call(H::Open, Op::Openat2),
        _ => return None,
    })
}

/// socketcall(2) call number → (op, number of u32 arguments the kernel copies in;
/// `nargs[]` of net/socket.c). send/recv have no address arguments, so reading stops at 4.
#[inline(always)]
fn socketcall(call: u64) -> Option<(Op, u8)> {
    Some(match call {
        3 => (Op::Connect, 3),
        5 => (Op::Accept, 3),
        9 => (Op::Sendto, 4),
        10 => (Op::Recvfrom, 4),
        11 => (Op::Sendto, 6),
        12 => (Op::Recvfrom, 6),
        13 => (Op::Shutdown, 2),
        16 => (Op::Sendmsg, 3),
        17 => (Op::Recvmsg, 3),
        18 => (Op::Accept4, 4),
        19 => (Op::Recvmmsg, 5),
        20 => (Op::Sendmmsg, 4),
        _ => return None,
    })
}

/// The handler, op and argument source of the syscall in progress; `None` = not traced.
#[inline(always)]
unsafe fn resolve(regs: u64, nr: u64) -> Option<(H, Op, Args)> {
    let x64 = x64_call(nr);
    let ia32 = ia32_call(nr);
    if x64.is_none() && ia32.is_none() {
        // Not traced in either ABI: skip the compat check.
        return None;
    }
    if !unsafe { in_ia32_syscall(regs) } {
        let (h, op) = x64?;
        return Some((h, op, Args::new(regs, Abi::X64)));
    }
    let compat = Args::new(regs, Abi::Ia32);
    Some(match ia32? {
        Ia32::Call(h, op) => (h, op, compat),
        Ia32::Uid16(op) => (H::Cred, op, Args::new(regs, Abi::Ia32Uid16)),
        Ia32::OldMmap => {
            let arr = unsafe { sys_arg(compat, 0) };
            (H::Io, Op::Mmap, Args::new(arr, Abi::U32Array(6)))
        }
        Ia32::Socketcall => {
            let (op, n) = socketcall(unsafe { sys_arg(compat, 0) })?;
            let arr = unsafe { sys_arg(compat, 1) };
            (H::Io, op, Args::new(arr, Abi::U32Array(n)))
        }
    })
}

/// `sys_exit(struct pt_regs *regs, long ret)`.
#[btf_tracepoint(function = "sys_exit")]
pub fn sys_exit(ctx: BtfTracePointContext) -> i32 {
    let regs: u64 = ctx.arg(0);
    let ret: i64 = ctx.arg(1);
    // A direct load from the typed `pt_regs`: syscalls of no interest (most of them) leave
    // after one load and one compare, before any helper call.
    let nr: u64 = unsafe { tload(regs, ORIG_AX) };
    let Some((h, op, args)) = (unsafe { resolve(regs, nr) }) else {
        return 0;
    };
    // Classes left out by `--events`: the descriptor calls are sorted into files and sockets
    // once the descriptor's type is known (`io::report_fd`).
    let class = match (h, op) {
        (H::Cred, _) => classes::SETUID,
        (H::Open | H::Path, _) | (H::Io, Op::Mmap | Op::Setns) => classes::FILE,
        _ => classes::FILE | classes::NET,
    };
    if !reports(class) {
        return 0;
    }
    unsafe {
        match h {
            H::Io => io_exit(args, ret, op),
            H::Xfer => xfer_exit(args, ret, op),
            H::Open => open_exit(args, ret, op),
            H::Path => path_exit(args, ret, op),
            H::Dup => dup_exit(args, ret, op),
            H::Cred => cred_exit(args, ret, op),
        }
    }
    0
}
