//! Reads of kernel and user memory: syscall arguments from `pt_regs`, and task, file and
//! socket fields at the offsets in `OFFSETS` (resolved from BTF by user space).
//!
//! Two kinds of kernel reads. Through a BTF-typed pointer (the `pt_regs` argument of the
//! `tp_btf` program, `bpf_get_current_task_btf()`, and struct pointers loaded through those)
//! a field is a plain load ([`tload`]): the verifier knows the pointee type and, because
//! `OFFSETS` lives in frozen `.rodata`, the offset as a constant, so it checks the access
//! against kernel BTF and the JIT emits one exception-table-guarded `mov`. Everything else
//! (pointers the verifier sees as plain numbers, e.g. an element of `fdtable->fd`, which is a
//! `struct file **`) goes through `bpf_probe_read_kernel` ([`kread`]), a helper call costing
//! tens of nanoseconds each.

use aya_ebpf::helpers::generated::{
    bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_get_current_task, bpf_get_current_task_btf,
    bpf_get_current_uid_gid, bpf_probe_read_kernel, bpf_probe_read_kernel_str, bpf_probe_read_user,
    bpf_probe_read_user_str,
};
use sensor_ebpf_common::{mode, SockTuple, COMM_LEN, TS_COMPAT};

use crate::maps::offsets;

/// x86-64 `struct pt_regs` offsets of the syscall argument registers (uapi layout, stable).
const REG_OFFSETS: [u64; 6] = [
    112, /* di */
    104, /* si */
    96,  /* dx */
    56,  /* r10 */
    72,  /* r8 */
    64,  /* r9 */
];

/// The same `pt_regs` offsets for an ia32 syscall: ebx, ecx, edx, esi, edi, ebp (the low
/// 32 bits of each register; the kernel ignores the upper half).
const IA32_REG_OFFSETS: [u64; 6] = [
    40,  /* bx */
    88,  /* cx */
    96,  /* dx */
    104, /* si */
    112, /* di */
    32,  /* bp */
];

/// `pt_regs.cs`, and the user code segment of 32-bit code (`__USER32_CS`).
const REG_CS: u64 = 136;
const USER32_CS: u64 = 0x23;

/// How a syscall passes its arguments.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Abi {
    /// x86-64: rdi, rsi, rdx, r10, r8, r9.
    X64,
    /// ia32 (`int $0x80`, sysenter, 32-bit `syscall`): ebx, ecx, edx, esi, edi, ebp, 32 bits.
    Ia32,
    /// ia32 setuid/setreuid/setresuid with 16-bit uids (`old_uid_t`; 0xffff means -1).
    Ia32Uid16,
    /// `n` u32 values in user memory: ia32 socketcall(2) arguments, old ia32 mmap(2).
    U32Array(u8),
}

/// Where the arguments of the current syscall are: the user `pt_regs` (register ABIs) or
/// a user array (`Abi::U32Array`).
#[derive(Clone, Copy)]
pub struct Args {
    base: u64,
    abi: Abi,
}

impl Args {
    /// Arguments at `base` passed the `abi` way.
    #[inline(always)]
    pub fn new(base: u64, abi: Abi) -> Args {
        Args { base, abi }
    }

    /// True for a 32-bit caller (pointers and `long`s are 32 bits wide in user memory).
    #[inline(always)]
    pub fn compat(self) -> bool {
        self.abi != Abi::X64
    }
}

/// True when the syscall in progress is an ia32 one: x86 `in_ia32_syscall()`, i.e.
/// `TS_COMPAT` in `current->thread_info.status`. Without resolved offsets, a 32-bit code
/// segment in `regs` is the fallback (misses `int $0x80` from 64-bit code).
#[inline(always)]
pub unsafe fn in_ia32_syscall(regs: u64) -> bool {
    let o = offsets();
    if o.valid == 0 {
        return unsafe { kread::<u64>(regs + REG_CS) } == Some(USER32_CS);
    }
    let status: u32 = unsafe { tload(Task::current().0, o.task_ti_status as u64) };
    status & TS_COMPAT != 0
}

const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

/// Read a `T` from kernel address `addr`; `None` on fault.
#[inline(always)]
pub unsafe fn kread<T: Copy>(addr: u64) -> Option<T> {
    let mut v = core::mem::MaybeUninit::<T>::uninit();
    let r = unsafe {
        bpf_probe_read_kernel(
            v.as_mut_ptr().cast(),
            core::mem::size_of::<T>() as u32,
            addr as *const _,
        )
    };
    if r == 0 {
        Some(unsafe { v.assume_init() })
    } else {
        None
    }
}

/// Load a `T` at `base + off` directly. `base` must be a BTF-typed kernel pointer the
/// verifier tracks (see the module doc) and `off` a constant to it (a literal or an `OFFSETS`
/// field) that is the offset of a member of type `T`: the verifier rejects anything else at
/// load time, so a wrong use cannot slip through silently. A faulting load yields 0.
#[inline(always)]
pub unsafe fn tload<T: Copy>(base: u64, off: u64) -> T {
    unsafe { core::ptr::read_volatile((base + off) as *const T) }
}

/// Read a `T` from user address `addr`; `None` on fault.
#[inline(always)]
pub unsafe fn uread<T: Copy>(addr: u64) -> Option<T> {
    let mut v = core::mem::MaybeUninit::<T>::uninit();
    let r = unsafe {
        bpf_probe_read_user(
            v.as_mut_ptr().cast(),
            core::mem::size_of::<T>() as u32,
            addr as *const _,
        )
    };
    if r == 0 {
        Some(unsafe { v.assume_init() })
    } else {
        None
    }
}

/// Syscall argument `n` (0-based, a constant at every call site); 32-bit arguments are
/// zero-extended (cast to `i32` for descriptors), an absent one is 0. An x86-64 argument is
/// one direct load from the typed user `pt_regs` of the `sys_exit` tracepoint.
#[inline(always)]
pub unsafe fn sys_arg(a: Args, n: usize) -> u64 {
    if n >= REG_OFFSETS.len() {
        return 0;
    }
    match a.abi {
        Abi::X64 => unsafe { tload::<u64>(a.base, REG_OFFSETS[n]) },
        Abi::Ia32 => unsafe { kread::<u32>(a.base + IA32_REG_OFFSETS[n]) }.unwrap_or(0) as u64,
        Abi::Ia32Uid16 => match unsafe { kread::<u16>(a.base + IA32_REG_OFFSETS[n]) } {
            Some(u16::MAX) => u32::MAX as u64,
            v => v.unwrap_or(0) as u64,
        },
        Abi::U32Array(len) => {
            if n >= len as usize {
                return 0;
            }
            unsafe { uread::<u32>(a.base + 4 * n as u64) }.unwrap_or(0) as u64
        }
    }
}

/// All six syscall arguments, for callers that pick one by a run-time index: a typed load
/// must have a constant offset, so the x86-64 registers are loaded one by one here and the
/// array is indexed afterwards (an ordinary stack read).
#[inline(always)]
pub unsafe fn sys_args(a: Args) -> [u64; 6] {
    unsafe {
        match a.abi {
            Abi::X64 => [
                tload(a.base, REG_OFFSETS[0]),
                tload(a.base, REG_OFFSETS[1]),
                tload(a.base, REG_OFFSETS[2]),
                tload(a.base, REG_OFFSETS[3]),
                tload(a.base, REG_OFFSETS[4]),
                tload(a.base, REG_OFFSETS[5]),
            ],
            _ => [
                sys_arg(a, 0),
                sys_arg(a, 1),
                sys_arg(a, 2),
                sys_arg(a, 3),
                sys_arg(a, 4),
                sys_arg(a, 5),
            ],
        }
    }
}

/// A user pointer stored at user address `addr` (32 bits wide for a compat caller).
#[inline(always)]
pub unsafe fn user_ptr(a: Args, addr: u64) -> Option<u64> {
    if a.compat() {
        unsafe { uread::<u32>(addr) }.map(|p| p as u64)
    } else {
        unsafe { uread::<u64>(addr) }
    }
}

/// Copy a NUL-terminated user string into `dst` (`N` bytes); returns the length without NUL.
#[inline(always)]
pub unsafe fn user_str<const N: usize>(src: u64, dst: *mut [u8; N]) -> u32 {
    if src == 0 {
        unsafe { (*dst)[0] = 0 };
        return 0;
    }
    let n = unsafe { bpf_probe_read_user_str(dst.cast(), N as u32, src as *const _) };
    if n > 0 {
        (n - 1) as u32
    } else {
        unsafe { (*dst)[0] = 0 };
        0
    }
}

/// Copy a NUL-terminated kernel string into `dst`; returns the length without NUL.
#[inline(always)]
pub unsafe fn kernel_str<const N: usize>(src: u64, dst: *mut [u8; N]) -> u32 {
    let n = unsafe { bpf_probe_read_kernel_str(dst.cast(), N as u32, src as *const _) };
    if n > 0 {
        (n - 1) as u32
    } else {
        unsafe { (*dst)[0] = 0 };
        0
    }
}

/// Copy `len` user bytes (at most `N`, at least 1) into `dst`; false on fault.
#[inline(always)]
pub unsafe fn user_bytes<const N: usize>(src: u64, dst: *mut [u8; N], len: u64) -> bool {
    // Bounds the verifier can follow: 1 ..= N.
    let n = if len > N as u64 { N as u32 } else { len as u32 };
    if n == 0 {
        return false;
    }
    unsafe { bpf_probe_read_user(dst.cast(), n, src as *const _) == 0 }
}

/// The current `task_struct`.
#[inline(always)]
pub fn current_task() -> u64 {
    unsafe { bpf_get_current_task() }
}

/// The current task as a BTF-typed pointer, fetched once per event and shared by the
/// pid/tgid, uid/gid and descriptor reads below: each would otherwise be a helper call of its
/// own (`bpf_get_current_pid_tgid`, `bpf_get_current_uid_gid`, `bpf_get_current_task_btf`).
#[derive(Clone, Copy)]
pub struct Task(u64);

impl Task {
    /// The task running the probe.
    #[inline(always)]
    pub fn current() -> Task {
        Task(unsafe { bpf_get_current_task_btf() } as u64)
    }

    /// A task passed to a `tp_btf` program as a `struct task_struct *` argument (BTF-typed,
    /// so the same typed loads work on it).
    #[inline(always)]
    pub fn from_arg(ptr: u64) -> Task {
        Task(ptr)
    }

    /// The `task_struct` pointer.
    #[inline(always)]
    pub fn ptr(self) -> u64 {
        self.0
    }

    /// `tgid << 32 | tid`, as `bpf_get_current_pid_tgid` returns it.
    #[inline(always)]
    pub fn pid_tgid(self) -> u64 {
        let o = offsets();
        if o.valid == 0 {
            return unsafe { bpf_get_current_pid_tgid() };
        }
        let pid: u32 = unsafe { tload(self.0, o.task_pid as u64) };
        let tgid: u32 = unsafe { tload(self.0, o.task_tgid as u64) };
        (tgid as u64) << 32 | pid as u64
    }

    /// `gid << 32 | uid`, as `bpf_get_current_uid_gid` returns it, from `task->cred`. The
    /// helper also maps both ids through the initial user namespace (`from_kuid`, an identity
    /// map there) at ~40 ns per event; kernel ids are the initial namespace's ids.
    #[inline(always)]
    pub fn uid_gid(self) -> u64 {
        let o = offsets();
        if o.valid == 0 {
            return unsafe { bpf_get_current_uid_gid() };
        }
        let cred: u64 = unsafe { tload(self.0, o.task_cred as u64) };
        if cred == 0 {
            return 0;
        }
        let uid: u32 = unsafe { tload(cred, o.cred_uid as u64) };
        let gid: u32 = unsafe { tload(cred, o.cred_gid as u64) };
        (gid as u64) << 32 | uid as u64
    }

    /// `task->comm`, NUL-padded as the kernel keeps it: two typed loads (the verifier allows
    /// loads of any width inside a `char[]` member), or `bpf_get_current_comm` when the
    /// offset is unknown.
    #[inline(always)]
    pub fn comm(self) -> [u8; COMM_LEN] {
        let o = offsets();
        if o.valid == 0 || o.task_comm == 0 {
            let mut buf = [0u8; COMM_LEN];
            unsafe { bpf_get_current_comm(buf.as_mut_ptr().cast(), COMM_LEN as u32) };
            return buf;
        }
        let lo: u64 = unsafe { tload(self.0, o.task_comm as u64) };
        let hi: u64 = unsafe { tload(self.0, o.task_comm as u64 + 8) };
        let mut buf = [0u8; COMM_LEN];
        buf[..8].copy_from_slice(&lo.to_ne_bytes());
        buf[8..].copy_from_slice(&hi.to_ne_bytes());
        buf
    }

    /// The `struct file *` behind descriptor `fd` of this task.
    #[inline(always)]
    pub unsafe fn file_of_fd(self, fd: i64) -> Option<u64> {
        let o = offsets();
        if o.valid == 0 || fd < 0 {
            return None;
        }
        // task -> files -> fdt -> {max_fds, fd}: typed loads (task_struct, files_struct and
        // fdtable are BTF structs). `fdt->fd` is a `struct file **`, which the verifier types
        // as a number, so the element and what follows need the helper.
        let files: u64 = unsafe { tload(self.0, o.task_files as u64) };
        if files == 0 {
            return None;
        }
        let fdt: u64 = unsafe { tload(files, o.files_fdt as u64) };
        if fdt == 0 {
            return None;
        }
        let max: u32 = unsafe { tload(fdt, o.fdtable_max_fds as u64) };
        if fd as u64 >= max as u64 {
            return None;
        }
        let arr: u64 = unsafe { tload(fdt, o.fdtable_fd as u64) };
        let file: u64 = unsafe { kread(arr + (fd as u64) * 8)? };
        if file == 0 {
            None
        } else {
            Some(file)
        }
    }
}

/// `i_mode` of the inode behind `file`.
#[inline(always)]
pub unsafe fn file_mode(file: u64) -> u32 {
    let o = offsets();
    let Some(inode) = (unsafe { kread::<u64>(file + o.file_inode as u64) }) else {
        return 0;
    };
    unsafe { kread::<u16>(inode + o.inode_mode as u64) }.unwrap_or(0) as u32
}

/// Endpoints of the inet socket behind `file` (`file` must be a socket).
#[inline(always)]
pub unsafe fn sock_tuple(file: u64, t: &mut SockTuple) {
    let o = offsets();
    let Some(socket) = (unsafe { kread::<u64>(file + o.file_private_data as u64) }) else {
        return;
    };
    let Some(sk) = (unsafe { kread::<u64>(socket + o.socket_sk as u64) }) else {
        return;
    };
    if sk == 0 {
        return;
    }
    let family: u16 = unsafe { kread(sk + o.sk_family as u64) }.unwrap_or(0);
    t.family = family;
    t.proto = unsafe { kread::<u16>(sk + o.sk_protocol as u64) }.unwrap_or(0);
    t.sport = unsafe { kread::<u16>(sk + o.sk_num as u64) }.unwrap_or(0);
    t.dport = u16::from_be(unsafe { kread::<u16>(sk + o.sk_dport as u64) }.unwrap_or(0));
    if family == AF_INET {
        let s: [u8; 4] = unsafe { kread(sk + o.sk_rcv_saddr as u64) }.unwrap_or([0; 4]);
        let d: [u8; 4] = unsafe { kread(sk + o.sk_daddr as u64) }.unwrap_or([0; 4]);
        t.saddr[..4].copy_from_slice(&s);
        t.daddr[..4].copy_from_slice(&d);
    } else if family == AF_INET6 {
        t.saddr = unsafe { kread(sk + o.sk_v6_rcv_saddr as u64) }.unwrap_or([0; 16]);
        t.daddr = unsafe { kread(sk + o.sk_v6_daddr as u64) }.unwrap_or([0; 16]);
    }
}

/// Fill the remote end of `t` from a user `struct sockaddr *` (unconnected UDP send/recv).
#[inline(always)]
pub unsafe fn sockaddr_remote(addr: u64, t: &mut SockTuple) {
    if addr == 0 {
        return;
    }
    let Some(family) = (unsafe { uread::<u16>(addr) }) else {
        return;
    };
    let port = u16::from_be(unsafe { uread::<u16>(addr + 2) }.unwrap_or(0));
    if family == AF_INET && t.family == AF_INET {
        let a: [u8; 4] = unsafe { uread(addr + 4) }.unwrap_or([0; 4]);
        t.daddr = [0; 16];
        t.daddr[..4].copy_from_slice(&a);
        t.dport = port;
    } else if family == AF_INET6 && t.family == AF_INET6 {
        t.daddr = unsafe { uread(addr + 8) }.unwrap_or([0; 16]);
        t.dport = port;
    }
}

/// True for `i_mode` values the sensor reports I/O on: regular files and sockets.
#[inline(always)]
pub fn is_reported_mode(m: u32) -> bool {
    let t = m & mode::S_IFMT;
    t == mode::S_IFREG || t == mode::S_IFSOCK
}
