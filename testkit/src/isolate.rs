//! Keeping the tests of one binary from disturbing each other. The harness runs the tests of
//! a binary in parallel threads of one process; a test that measures time or memory, or that
//! needs the process to itself, says so here.
//!
//! - [`exclusive`] / [`shared`]: a test that must not share the machine's CPUs with the other
//!   tests of its binary (a timed soak) holds `exclusive()`; every other test of that binary
//!   holds `shared()` while it runs.
//! - [`in_child`]: a test that measures something the whole process carries (its peak RSS,
//!   which the kernel hands on to every child it starts) runs its body in a fresh process of
//!   the test binary, where nothing else has run.

use std::process::Command;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

static CPUS: RwLock<()> = RwLock::new(());

/// Held by a test that needs the CPUs to itself: waits for the tests holding [`shared`] to end
/// and keeps new ones from starting (std's lock lets a waiting writer in first).
pub fn exclusive() -> RwLockWriteGuard<'static, ()> {
    CPUS.write().unwrap_or_else(|e| e.into_inner())
}

/// Held by every other test of a binary that has an [`exclusive`] one.
pub fn shared() -> RwLockReadGuard<'static, ()> {
    CPUS.read().unwrap_or_else(|e| e.into_inner())
}

/// Set in the child started by [`in_child`] to the test it runs.
const CHILD_ENV: &str = "TESTKIT_IN_CHILD";

/// Runs test `path` (`module_path!()` + `::` + its name, so `crate::module::test`) alone in a
/// fresh process of the current test binary. In that child it returns `true`: the caller
/// goes on with its body. In the parent it runs the child (`--exact`, one thread), prints the
/// child's output (so `SKIPPED` lines show) and returns `false` once the child passed: the
/// caller returns. A failing child fails the parent's test with its output.
pub fn in_child(path: &str) -> bool {
    // The harness names tests without the crate: `module::test`.
    let name = path.split_once("::").map_or(path, |(_, rest)| rest);
    if std::env::var(CHILD_ENV).is_ok_and(|v| v == name) {
        return true;
    }
    let exe = std::env::current_exe().expect("path of the test binary");
    let out = Command::new(&exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, name)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} for {name}: {e}", exe.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{name} failed in its own process ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // A filter that matched nothing would pass silently.
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "{name} did not run in the child:\n{stdout}\n{stderr}"
    );
    // The test's own output (SKIPPED lines, figures); not the child harness's lines, which
    // would count twice for whoever reads the parent's output.
    let own = |l: &&str| {
        !(l.is_empty()
            || l.starts_with("running 1 test")
            || l.starts_with("test result: ")
            || l.starts_with(&format!("test {name} ... ")))
    };
    for l in stdout.lines().filter(own) {
        println!("{l}");
    }
    eprint!("{stderr}");
    false
}
