//! Helpers shared by the print tests: locating ../shared, the real sysprint, running binaries.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// `../shared/traces` beside the repository (or under `$SYSFLOW_SHARED`, for worktrees that
/// do not sit beside it), or `None` (with a SKIPPED message).
pub fn traces_dir() -> Option<PathBuf> {
    let base = std::env::var_os("SYSFLOW_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared")));
    let d = base.join("traces");
    if d.is_dir() {
        Some(d.to_path_buf())
    } else {
        println!("SKIPPED: ../shared not found");
        None
    }
}

/// Trace files in `../shared/traces`, sorted by name.
pub fn traces(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read traces dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sf"))
        .collect();
    v.sort();
    v
}

/// Traces the Python sysprint cannot read (legacy 7- and 4-member layouts).
pub fn sysprint_reads(p: &Path) -> bool {
    !p.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("play."))
}

/// The real sysprint: `$SYSPRINT`, else `<repo>/.venv/bin/sysprint`, else `None` (SKIPPED).
pub fn real_sysprint() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SYSPRINT") {
        let p = PathBuf::from(p);
        if p.exists() {
            return Some(p);
        }
    }
    let p = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../.venv/bin/sysprint"
    ));
    if p.exists() {
        return Some(p.to_path_buf());
    }
    println!("SKIPPED: sysprint not installed (run .ci/run or set SYSPRINT)");
    None
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

pub fn ours() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sysprint"))
}

pub fn sensor() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sensor"))
}

/// A fresh temporary directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sfprint-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

/// Parses JSON lines.
pub fn json_lines(b: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(b)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}
