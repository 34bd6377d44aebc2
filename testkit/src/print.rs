//! Helpers of the print tests: the shared trace files, running a printer the same way for
//! both implementations, temporary directories, JSON lines. (The shared traces and the real
//! sysprint are found by [`crate::locate`].)

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Trace files (`*.sf`) in `dir` (the shared traces), sorted by name.
pub fn traces(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read traces dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sf"))
        .collect();
    v.sort();
    v
}

/// Whether the Python sysprint reads `p`: not the legacy `play.*` traces (7- and 4-member
/// layouts).
pub fn sysprint_reads(p: &Path) -> bool {
    !p.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("play."))
}

/// Runs a program with `TZ=UTC` and stdin from /dev/null (so the table width is the
/// 80-column fallback for both implementations).
pub fn run(prog: &Path, args: &[&std::ffi::OsStr]) -> Output {
    Command::new(prog)
        .args(args)
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", prog.display()))
}

/// A fresh temporary directory for one test: `sfprint-<name>-<pid>`, so `name` must be
/// unique among the tests of a binary (they share the pid).
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sfprint-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

/// Parses JSON lines (every line, an empty one is an error).
pub fn json_lines(b: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(b)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}
