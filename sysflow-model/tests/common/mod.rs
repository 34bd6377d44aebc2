//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The read-only reference folder beside the repo (`<repo>/../shared`). Worktrees one level
/// deeper (`<dir>/wt/<name>`) and `$SYSFLOW_SHARED` are accepted too. `None` (with a
/// "SKIPPED" message) when absent.
pub fn shared() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("SYSFLOW_SHARED").map(PathBuf::from),
        Some(PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared"))),
        Some(PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared"))),
    ];
    let found = candidates.into_iter().flatten().find(|p| p.join("traces").is_dir());
    if found.is_none() {
        eprintln!(
            "SKIPPED: ../shared not found at {}",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared")
        );
    }
    found
}
