//! Warnings about input files other users could change: whoever can write the pipeline or
//! the policies decides what the sensor reports (or hides).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::config::{PluginConfig, Stage};

/// Paths of every policy file or directory named in the pipeline.
pub fn policy_paths(stage: &Stage, out: &mut Vec<PathBuf>) {
    if let PluginConfig::Policy(p) = &stage.plugin {
        if let Some(path) = &p.policies {
            out.push(path.clone());
        }
    }
    for c in &stage.children {
        policy_paths(c, out);
    }
}

/// Logs a warning for `path` (and, for a directory, every policy file in it) when its mode
/// lets the group or others write it. Returns how many warnings were logged.
pub fn warn_if_writable(path: &Path, what: &str) -> usize {
    let mut paths = vec![path.to_path_buf()];
    if path.is_dir() {
        if let Ok(files) = sysflow_policy::policy_files(path) {
            paths.extend(files);
        }
    }
    let mut n = 0;
    for p in paths {
        let Ok(m) = std::fs::metadata(&p) else {
            continue;
        };
        let mode = m.permissions().mode() & 0o7777;
        if mode & 0o022 != 0 {
            tracing::warn!(
                "{what} {} is writable by {} (mode {mode:04o}); whoever can write it controls \
                 what the sensor reports",
                p.display(),
                if mode & 0o002 != 0 {
                    "every user"
                } else {
                    "its group"
                }
            );
            n += 1;
        }
    }
    n
}
