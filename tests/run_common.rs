//! Helpers shared by the `run_*` integration tests (included with `#[path]`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The sensor binary under test.
pub fn sensor() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sensor"))
}

/// `../shared` beside the repository (or `$SYSFLOW_SHARED`), or `None` (the caller prints
/// SKIPPED and returns).
pub fn shared() -> Option<PathBuf> {
    let p = std::env::var_os("SYSFLOW_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared")).to_path_buf()
        });
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("SKIPPED: ../shared not found");
        None
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Parses every stdout line as JSON; panics with the line when one is not.
pub fn json_lines(s: &str) -> Vec<serde_json::Value> {
    s.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| {
                let head: String = l.chars().take(300).collect();
                panic!("not JSON ({e}): {head}…")
            })
        })
        .collect()
}

/// Rule names of an exported record's `policies`.
pub fn rule_ids(v: &serde_json::Value) -> Vec<String> {
    v["policies"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
