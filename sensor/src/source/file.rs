//! The `file` driver: a trace file, or every file of a directory in name order (not
//! recursive), each read once; then the pipeline drains and the run ends.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use anyhow::Context;

use super::decode;
use crate::pipeline::Intake;
use crate::pipeline::StageStats;

/// Reads `path` into the intake until done or `stop` is set. Returns whether every file was
/// read without error (a bad file is logged and skipped, as by the original).
pub fn run(path: &Path, intake: &mut Intake, stop: &AtomicBool) -> anyhow::Result<bool> {
    let files = list(path)?;
    let mut clean = true;
    for f in files {
        if stop.load(Relaxed) {
            break;
        }
        tracing::info!("reading {}", f.display());
        let recs = match decode::open_trace(&f) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("{}: {e:#}", f.display());
                StageStats::add(&intake.stats.decode_errors, 1);
                clean = false;
                continue;
            }
        };
        // Counted locally and published every batch: no shared-counter update per record.
        let mut read = 0u64;
        for r in recs {
            match r {
                Ok(rec) => {
                    read += 1;
                    if read == crate::pipeline::BATCH as u64 {
                        StageStats::add(&intake.stats.input, std::mem::take(&mut read));
                    }
                    if intake.push(rec).is_err() {
                        StageStats::add(&intake.stats.input, read);
                        return Ok(clean);
                    }
                }
                Err(e) => {
                    tracing::error!("{}: {e:#}; skipping the rest of this file", f.display());
                    StageStats::add(&intake.stats.decode_errors, 1);
                    clean = false;
                    break;
                }
            }
            // Checked per record so that a signal stops intake promptly; every record read so
            // far is still handed on.
            if stop.load(Relaxed) {
                tracing::info!("stopping intake in {}", f.display());
                break;
            }
        }
        StageStats::add(&intake.stats.input, read);
        if intake.flush().is_err() {
            return Ok(clean);
        }
    }
    let _ = intake.flush();
    Ok(clean)
}

/// The files to read: `path` itself, or the regular files in it sorted by name.
fn list(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read input {}", path.display()))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for e in std::fs::read_dir(path).with_context(|| format!("cannot list {}", path.display()))? {
        let e = e.with_context(|| format!("cannot list {}", path.display()))?;
        let p = e.path();
        if p.is_file() {
            files.push(p);
        } else {
            tracing::warn!("skipping {} (not a regular file)", p.display());
        }
    }
    files.sort();
    if files.is_empty() {
        tracing::warn!("no trace files in {}", path.display());
    }
    Ok(files)
}
