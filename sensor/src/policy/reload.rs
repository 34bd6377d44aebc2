//! Hot reload of policy rules: `monitor: local` watches the policy path, and SIGHUP reloads
//! every path-based rule set. A new rule set is compiled here, off the record path, and
//! handed to its stage, which swaps it in between two records; a rule set that fails to
//! compile is logged and the old one stays in force.

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{select, unbounded, Receiver, Sender};
use notify::{RecursiveMode, Watcher};

use super::rules::{Loader, Rules};

/// After the first change, further events within this window are folded into one reload
/// (editors write files in several steps).
const SETTLE: Duration = Duration::from_millis(300);

/// A policy stage whose rules can be reloaded.
pub struct Reloadable {
    pub label: String,
    pub path: PathBuf,
    /// `monitor: local`
    pub watch: bool,
    pub loader: Loader,
    pub swap: Sender<Rules>,
}

/// Starts the reload thread. `hup` delivers SIGHUPs; the thread ends when `hup` closes.
pub fn spawn(items: Vec<Reloadable>, hup: Receiver<()>) -> anyhow::Result<Option<JoinHandle<()>>> {
    if items.is_empty() {
        return Ok(None);
    }
    let (ev_tx, ev_rx) = unbounded::<PathBuf>();
    let mut watcher = None;
    if items.iter().any(|r| r.watch) {
        let tx = ev_tx.clone();
        let mut w = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if let Ok(ev) = res {
                if matches!(ev.kind, notify::EventKind::Access(_)) {
                    return;
                }
                for p in ev.paths {
                    let _ = tx.send(p);
                }
            }
        })?;
        for r in items.iter().filter(|r| r.watch) {
            // Watch the directory (a file's parent), so that files replaced by rename are seen.
            let dir = if r.path.is_dir() {
                r.path.clone()
            } else {
                r.path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."))
                    .to_path_buf()
            };
            w.watch(&dir, RecursiveMode::NonRecursive)?;
            tracing::info!(
                "{}: watching {} for rule changes (applied as soon as the files settle; monitor.interval is not used)",
                r.label,
                dir.display()
            );
        }
        watcher = Some(w);
    }
    drop(ev_tx);
    let h = std::thread::Builder::new()
        .name("policy-reload".into())
        .spawn(move || {
            let _keep = watcher;
            // Without a watcher the event channel is closed at once; selecting on a closed
            // channel returns immediately, so it is replaced by one that never fires (else
            // this thread would spin).
            let ev_rx = if _keep.is_some() {
                ev_rx
            } else {
                crossbeam_channel::never()
            };
            loop {
                let mut targets: Vec<bool> = vec![false; items.len()];
                select! {
                    recv(hup) -> m => {
                        if m.is_err() { return; }
                        tracing::info!("SIGHUP: reloading rules");
                        targets.iter_mut().for_each(|t| *t = true);
                    }
                    recv(ev_rx) -> p => {
                        let Ok(p) = p else { continue };
                        mark(&items, &p, &mut targets);
                        // Let the burst of events settle.
                        while let Ok(p) = ev_rx.recv_timeout(SETTLE) {
                            mark(&items, &p, &mut targets);
                        }
                    }
                }
                for (r, _) in items.iter().zip(&targets).filter(|(_, t)| **t) {
                    match (r.loader)() {
                        Ok(set) => {
                            let missing = super::adaptive::missing(&set);
                            // Swap first, log after: whoever waits for the log line (an
                            // operator, a test) may rely on the new rules being in force.
                            let _ = r.swap.send(set);
                            tracing::info!(
                                "{}: rules from {} recompiled",
                                r.label,
                                r.path.display()
                            );
                            if missing != 0 {
                                tracing::warn!(
                                    "{}: the reloaded rules can also match {} events, which the eBPF probes were started without (events: auto); restart the sensor to report them",
                                    r.label,
                                    crate::source::ebpf::classes::names(missing)
                                );
                            }
                        }
                        Err(e) => tracing::error!(
                            "{}: rules in {} do not compile; keeping the previous rules: {e:#}",
                            r.label,
                            r.path.display()
                        ),
                    }
                }
            }
        })?;
    Ok(Some(h))
}

/// Marks the watched rule sets a changed path belongs to (policy files only).
fn mark(items: &[Reloadable], changed: &Path, targets: &mut [bool]) {
    let is_rule = changed
        .extension()
        .is_some_and(|e| e == "yaml" || e == "yml");
    for (r, t) in items.iter().zip(targets.iter_mut()) {
        if !r.watch {
            continue;
        }
        let hit = if r.path.is_dir() {
            is_rule && changed.parent() == Some(r.path.as_path())
        } else {
            changed.file_name() == r.path.file_name()
        };
        if hit {
            *t = true;
        }
    }
}
