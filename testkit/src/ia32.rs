//! ia32 (compat) syscalls issued from this 64-bit test process with `int $0x80`, so the
//! compat paths of the probes can be tested without a 32-bit toolchain. Arguments are 32-bit:
//! every pointer must lie below 4 GiB, hence [`Low`], an arena mapped with `MAP_32BIT`.

use std::{os::unix::ffi::OsStrExt, path::Path};

/// ia32 syscall numbers (arch/x86/entry/syscalls/syscall_32.tbl).
pub mod nr {
    pub const READ: u32 = 3;
    pub const WRITE: u32 = 4;
    pub const OPEN: u32 = 5;
    pub const CLOSE: u32 = 6;
    pub const CREAT: u32 = 8;
    pub const LINK: u32 = 9;
    pub const UNLINK: u32 = 10;
    pub const LSEEK: u32 = 19;
    pub const GETPID: u32 = 20;
    pub const SETUID: u32 = 23;
    pub const PIPE: u32 = 42;
    pub const SETREUID: u32 = 70;
    pub const MMAP: u32 = 90;
    pub const MUNMAP: u32 = 91;
    pub const SETRESUID: u32 = 164;
    pub const SENDFILE: u32 = 187;
    pub const SENDFILE64: u32 = 239;
    pub const RENAME: u32 = 38;
    pub const MKDIR: u32 = 39;
    pub const RMDIR: u32 = 40;
    pub const DUP: u32 = 41;
    pub const DUP2: u32 = 63;
    pub const SYMLINK: u32 = 83;
    pub const SOCKETCALL: u32 = 102;
    pub const READV: u32 = 145;
    pub const WRITEV: u32 = 146;
    pub const PREAD64: u32 = 180;
    pub const PWRITE64: u32 = 181;
    pub const MMAP2: u32 = 192;
    pub const SETREUID32: u32 = 203;
    pub const SETRESUID32: u32 = 208;
    pub const SETUID32: u32 = 213;
    pub const FCNTL64: u32 = 221;
    pub const OPENAT: u32 = 295;
    pub const MKDIRAT: u32 = 296;
    pub const UNLINKAT: u32 = 301;
    pub const RENAMEAT: u32 = 302;
    pub const LINKAT: u32 = 303;
    pub const SYMLINKAT: u32 = 304;
    pub const SPLICE: u32 = 313;
    pub const DUP3: u32 = 330;
    pub const RENAMEAT2: u32 = 353;
    pub const SOCKET: u32 = 359;
    pub const CONNECT: u32 = 362;
    pub const SENDTO: u32 = 369;
    pub const SENDMSG: u32 = 370;
    pub const RECVFROM: u32 = 371;
    pub const SHUTDOWN: u32 = 373;
    pub const COPY_FILE_RANGE: u32 = 377;
    pub const PREADV2: u32 = 378;
    pub const PWRITEV2: u32 = 379;

    /// socketcall(2) call numbers (linux/net.h).
    pub const SYS_SOCKET: u32 = 1;
    pub const SYS_CONNECT: u32 = 3;
    pub const SYS_SEND: u32 = 9;
    pub const SYS_RECV: u32 = 10;
    pub const SYS_SENDTO: u32 = 11;
    pub const SYS_SHUTDOWN: u32 = 13;
    pub const SYS_SENDMSG: u32 = 16;
}

/// `AT_FDCWD` as a 32-bit argument.
pub const AT_FDCWD: u32 = -100i32 as u32;

/// Issue ia32 syscall `nr` with up to six 32-bit arguments (ebx, ecx, edx, esi, edi, ebp);
/// returns eax (a negative errno on failure).
///
/// # Safety
/// A raw syscall: the caller vouches for the arguments (pointers into [`Low`]).
pub unsafe fn int80(nr: u32, a: [u32; 6]) -> i32 {
    let ret: u32;
    // rbx and rbp cannot be asm operands: swap ebx in and out, save rbp on the stack.
    // SAFETY: the caller vouches for the syscall; every register the kernel may change
    // (eax, and r8-r11, zeroed by older kernels) is declared.
    unsafe {
        std::arch::asm!(
            "xchg {b}, rbx",
            "push rbp",
            "mov ebp, {f:e}",
            "int 0x80",
            "pop rbp",
            "xchg {b}, rbx",
            b = inout(reg) u64::from(a[0]) => _,
            f = in(reg) a[5],
            inlateout("eax") nr => ret,
            in("ecx") a[1],
            in("edx") a[2],
            in("esi") a[3],
            in("edi") a[4],
            out("r8") _,
            out("r9") _,
            out("r10") _,
            out("r11") _,
        );
    }
    ret as i32
}

/// Shorthand for [`int80`] with fewer arguments (the rest are 0).
///
/// # Safety
/// As [`int80`].
pub unsafe fn sys(nr: u32, args: &[u32]) -> i32 {
    let mut a = [0u32; 6];
    a[..args.len()].copy_from_slice(args);
    // SAFETY: forwarded to the caller.
    unsafe { int80(nr, a) }
}

/// `Err(why)` when this kernel cannot run ia32 syscalls (no CONFIG_IA32_EMULATION, or
/// `ia32_emulation=0`): tried in a forked child, where a SIGSEGV from `int $0x80` is harmless.
pub fn available() -> Result<(), String> {
    // SAFETY: the child only calls async-signal-safe functions and a raw syscall.
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err("fork failed".into());
    }
    if child == 0 {
        // SAFETY: getpid takes no arguments; _exit ends the child.
        unsafe {
            let ok = sys(nr::GETPID, &[]) == libc::getpid();
            libc::_exit(if ok { 0 } else { 1 });
        }
    }
    let mut status = 0;
    // SAFETY: waiting for the child forked above.
    unsafe { libc::waitpid(child, &mut status, 0) };
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(())
    } else {
        Err(format!(
            "int $0x80 getpid failed (wait status {status:#x}): no ia32 emulation"
        ))
    }
}

/// A bump arena below 4 GiB for paths, buffers and argument arrays of ia32 calls.
pub struct Low {
    base: *mut u8,
    len: usize,
    used: usize,
}

impl Low {
    /// Map 64 KiB with `MAP_32BIT`.
    pub fn new() -> Low {
        let len = 64 << 10;
        // SAFETY: anonymous private mapping, no aliasing.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_32BIT,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED, "mmap MAP_32BIT");
        assert!((p as usize) + len <= u32::MAX as usize, "arena below 4 GiB");
        Low {
            base: p.cast(),
            len,
            used: 0,
        }
    }

    /// `n` zeroed bytes; their 32-bit address.
    pub fn buf(&mut self, n: usize) -> u32 {
        let at = self.used.next_multiple_of(8);
        assert!(at + n <= self.len, "arena full");
        self.used = at + n;
        (self.base as usize + at) as u32
    }

    /// A copy of `b`; its 32-bit address.
    pub fn bytes(&mut self, b: &[u8]) -> u32 {
        let a = self.buf(b.len());
        // SAFETY: `a` is a fresh range of b.len() bytes inside the mapping.
        unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), a as usize as *mut u8, b.len()) };
        a
    }

    /// A NUL-terminated copy of `p`.
    pub fn path(&mut self, p: &Path) -> u32 {
        let mut v = p.as_os_str().as_bytes().to_vec();
        v.push(0);
        self.bytes(&v)
    }

    /// An array of u32 (iovec of a 32-bit process, socketcall arguments, compat msghdr).
    pub fn u32s(&mut self, v: &[u32]) -> u32 {
        let b: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.bytes(&b)
    }

    /// A `struct sockaddr_in` for 127.0.0.1:`port`.
    pub fn sockaddr_lo(&mut self, port: u16) -> u32 {
        let mut sa = [0u8; 16];
        sa[..2].copy_from_slice(&2u16.to_le_bytes());
        sa[2..4].copy_from_slice(&port.to_be_bytes());
        sa[4..8].copy_from_slice(&[127, 0, 0, 1]);
        self.bytes(&sa)
    }

    /// Read `n` bytes at 32-bit address `a` of this arena.
    pub fn read(&self, a: u32, n: usize) -> Vec<u8> {
        let off = a as usize - self.base as usize;
        assert!(off + n <= self.len);
        // SAFETY: inside the mapping (checked above).
        unsafe { std::slice::from_raw_parts(self.base.add(off), n) }.to_vec()
    }
}

impl Default for Low {
    fn default() -> Low {
        Low::new()
    }
}

impl Drop for Low {
    fn drop(&mut self) {
        // SAFETY: unmapping the arena mapped in `new`.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}
