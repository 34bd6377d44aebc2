//! Where the reference data and the peer programs are: `../shared` beside the repository, the
//! Python sysprint, the analytics venv. One function each, so every test looks in the same
//! places in the same order.

use std::path::{Path, PathBuf};

/// The repository's root (`testkit/..`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The read-only reference folder: `$SYSFLOW_SHARED` (for worktrees that do not sit beside
/// it), else `../shared` beside the repository. `None` after printing `SKIPPED` when it is
/// not a directory.
pub fn shared_dir() -> Option<PathBuf> {
    let p = std::env::var_os("SYSFLOW_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared"));
    if p.is_dir() {
        Some(p)
    } else {
        println!("SKIPPED: ../shared not found (set SYSFLOW_SHARED)");
        None
    }
}

/// The shared traces (`<shared>/traces`, see [`shared_dir`]), or `None` after printing
/// `SKIPPED`.
pub fn traces_dir() -> Option<PathBuf> {
    let d = shared_dir()?.join("traces");
    if d.is_dir() {
        Some(d)
    } else {
        println!("SKIPPED: {} not found", d.display());
        None
    }
}

/// The real (Python) sysprint 0.6.1: `$SYSPRINT`, else `<repo>/.venv/bin/sysprint` (where
/// `.ci/run` installs it), else `/opt/sfvenv/bin/sysprint`; the first that is a file.
/// Quiet: some tests only compare with it when it is there. [`sysprint_or_skip`] for those
/// that need it.
pub fn sysprint() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("SYSPRINT").map(PathBuf::from),
        Some(repo_root().join(".venv/bin/sysprint")),
        Some(PathBuf::from("/opt/sfvenv/bin/sysprint")),
    ];
    candidates.into_iter().flatten().find(|p| p.is_file())
}

/// [`sysprint`], or `None` after printing `SKIPPED`.
pub fn sysprint_or_skip() -> Option<PathBuf> {
    let p = sysprint();
    if p.is_none() {
        println!("SKIPPED: sysprint not installed (run .ci/run or set SYSPRINT)");
    }
    p
}

/// `<repo>/.venv-analytics/bin/<tool>`: the venv of the analytics peers (moto, pyarrow,
/// pandas, jupyter), kept apart from sysprint's `.venv` because their dependencies would
/// change its output. The caller checks that the tool is there (and what it can import).
pub fn analytics_tool(tool: &str) -> PathBuf {
    repo_root().join(".venv-analytics/bin").join(tool)
}

/// A program on `PATH` (`prometheus`, `dockerd`, `systemd-analyze`, …), or `None` after
/// printing `SKIPPED` with the package that brings it.
pub fn program(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        println!("SKIPPED: {name} not installed (.ci/run installs it)");
    }
    found
}
