//! Helpers of the reliability tests: temp dirs, running a child with a timeout and reading
//! its peak RSS (`wait4`), RSS of a running process, a reproducible random generator, a
//! per-thread allocation meter. (Their generated traces are in [`crate::traces`].)

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Creates `sf-rel-<tag>-<pid>-<n>` under the system temp dir.
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("sf-rel-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How a child ended.
#[derive(Debug)]
pub struct Finished {
    /// Exit code, `None` when killed by a signal (or by the timeout).
    pub code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    /// Killed (SIGKILL) after the timeout.
    pub timed_out: bool,
    /// Peak resident set size of the child, in KiB (`ru_maxrss`).
    pub max_rss_kib: i64,
    /// Everything it wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr, as text.
    pub stderr: String,
}

/// Runs `cmd` with stdout/stderr to files in `dir`, kills it after `timeout`, and reaps it
/// with `wait4` to read its own peak RSS.
pub fn run_measured(mut cmd: Command, dir: &Path, timeout: Duration) -> Finished {
    let out_p = dir.join("child.stdout");
    let err_p = dir.join("child.stderr");
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out_p).expect("stdout file"))
        .stderr(std::fs::File::create(&err_p).expect("stderr file"));
    let child = cmd.spawn().expect("spawn child");
    let pid = child.id() as libc::pid_t;
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let (status, ru) = loop {
        let mut status = 0;
        // SAFETY: plain syscall on our own child with valid out-pointers.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut ru) };
        if r == pid {
            break (status, ru);
        }
        assert!(r == 0, "wait4 failed: {}", std::io::Error::last_os_error());
        if !timed_out && Instant::now() > deadline {
            timed_out = true;
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    // The child is reaped; std's handle must not wait again.
    std::mem::forget(child);
    let (code, signal) = if libc::WIFEXITED(status) {
        (Some(libc::WEXITSTATUS(status)), None)
    } else if libc::WIFSIGNALED(status) {
        (None, Some(libc::WTERMSIG(status)))
    } else {
        (None, None)
    };
    Finished {
        code,
        signal,
        timed_out,
        max_rss_kib: ru.ru_maxrss,
        stdout: std::fs::read(&out_p).unwrap_or_default(),
        stderr: String::from_utf8_lossy(&std::fs::read(&err_p).unwrap_or_default()).into_owned(),
    }
}

/// Resident set size of a running process in KiB (`VmRSS` of /proc/PID/status).
pub fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Peak resident set size of a running process in KiB (`VmHWM`).
pub fn rss_hwm_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A deterministic xorshift64* generator (no dependency; reproducible failures).
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

thread_local! {
    // Signed: memory freed on another thread than it was allocated on can push a thread's
    // count below its start.
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

/// Counts the heap bytes live on each thread and their peak, so a test can bound what one
/// decode allocates even while other tests run on other threads.
pub struct Meter;

impl Meter {
    /// Runs `f` and returns its result with the peak bytes it had live above the start.
    pub fn peak<R>(f: impl FnOnce() -> R) -> (R, usize) {
        let base = LIVE.with(Cell::get);
        PEAK.with(|p| p.set(base));
        let r = f();
        let peak = PEAK.with(Cell::get).wrapping_sub(base);
        (r, usize::try_from(peak).unwrap_or(0))
    }
}

fn add(n: usize) {
    let _ = LIVE.try_with(|l| {
        let v = l.get().wrapping_add(n as isize);
        l.set(v);
        let _ = PEAK.try_with(|p| {
            if v > p.get() {
                p.set(v)
            }
        });
    });
}

fn sub(n: usize) {
    let _ = LIVE.try_with(|l| l.set(l.get().wrapping_sub(n as isize)));
}

// SAFETY: forwards to the system allocator; the counters are const thread-locals (no
// allocation, no destructor).
unsafe impl GlobalAlloc for Meter {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        add(l.size());
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        sub(l.size());
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        add(l.size());
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        add(new);
        sub(l.size());
        unsafe { System.realloc(p, l, new) }
    }
}
