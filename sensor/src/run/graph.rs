//! Turns the configured plugin tree into threads joined by bounded channels.
//!
//! Each stage is one thread, so every branch keeps input order; channels carry batches of
//! records and hold [`crate::pipeline::CHANNEL_BATCHES`] of them, so a slow exporter slows the reader
//! down instead of growing a queue. When a stage's input closes it passes the close on
//! (dropping its senders) after handing over everything it holds: closing the driver's
//! channel drains the whole tree.

use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::Context;
use crossbeam_channel::{bounded, Receiver, Sender};

use crate::config::{PluginConfig, PolicyConfig, PolicyMode, Stage};
use crate::export::{self, Exporter};
use crate::flatten;
use crate::pipeline::{EventBatch, Fanout, QueueDepth, RecordBatch, Registry, CHANNEL_BATCHES};
use crate::policy::reload::Reloadable;
use crate::policy::rules::{self, RuleSource, Rules};
use crate::policy::stage::{self as policy_stage, PolicyStage};

/// Where a policy stage receives reloaded rule sets.
type SwapRx = Receiver<Rules>;

/// The stage threads of a running pipeline.
pub struct Running {
    handles: Vec<(String, JoinHandle<()>)>,
    /// Policy stages whose rules can be reloaded.
    pub reloadables: Vec<Reloadable>,
}

impl Running {
    /// Waits for every stage to drain and finish.
    pub fn join(self) {
        for (label, h) in self.handles {
            if h.join().is_err() {
                tracing::error!("{label}: stage thread panicked");
            }
        }
    }
}

/// Builds every stage (opening exporters and compiling rules, so configuration errors show
/// before any input is read) and starts their threads. Returns the root's input.
pub fn spawn(root: &Stage, registry: &Registry) -> anyhow::Result<(Sender<RecordBatch>, Running)> {
    let mut running = Running {
        handles: Vec::new(),
        reloadables: Vec::new(),
    };
    let PluginConfig::Reader(cfg) = &root.plugin else {
        anyhow::bail!("{}: the first plugin must be a sysflowreader", root.label);
    };
    let outs = children(root, registry, &mut running)?;
    let stats = registry.stage(&root.label);
    let cfg = cfg.clone();
    let (tx, rx) = bounded::<RecordBatch>(CHANNEL_BATCHES);
    let queue = watch(registry, &root.label, &rx);
    let h = thread(&root.label, move || {
        let _queue = queue;
        flatten::run(cfg, rx, outs, stats)
    })?;
    running.handles.push((root.label.clone(), h));
    Ok((tx, running))
}

fn children(stage: &Stage, registry: &Registry, running: &mut Running) -> anyhow::Result<Fanout> {
    let mut txs = Vec::new();
    for c in &stage.children {
        txs.push(spawn_event_stage(c, registry, running)?);
    }
    Ok(Fanout::new(txs))
}

fn spawn_event_stage(
    stage: &Stage,
    registry: &Registry,
    running: &mut Running,
) -> anyhow::Result<Sender<EventBatch>> {
    let (tx, rx) = bounded::<EventBatch>(CHANNEL_BATCHES);
    let queue = watch(registry, &stage.label, &rx);
    match &stage.plugin {
        PluginConfig::Reader(_) => anyhow::bail!(
            "{}: a sysflowreader cannot follow another plugin",
            stage.label
        ),
        PluginConfig::Exporter(cfg) => {
            let stats = registry.stage(&stage.label);
            let exp = Exporter::build(cfg, stats, registry.stop_flag())?;
            let h = thread(&stage.label, move || {
                let _queue = queue;
                export::run(exp, rx)
            })?;
            running.handles.push((stage.label.clone(), h));
        }
        PluginConfig::Policy(cfg) => {
            let outs = children(stage, registry, running)?;
            let stats = registry.stage(&stage.label);
            let (rules, swap) = policy_rules(stage, cfg, running)?;
            // Without rules (bypass) there is nothing to spread over workers.
            let bypass = cfg.policies.is_none() && cfg.mode != PolicyMode::Alert;
            let workers = if bypass {
                1
            } else {
                policy_stage::workers(cfg.concurrency)
            };
            tracing::debug!("{}: {workers} policy worker(s)", stage.label);
            let st = PolicyStage {
                rules,
                swap,
                mode: cfg.mode,
                workers,
                rx,
                outs,
                stats,
            };
            let h = thread(&stage.label, move || {
                let _queue = queue;
                st.run()
            })?;
            running.handles.push((stage.label.clone(), h));
        }
    }
    Ok(tx)
}

/// Compiles the stage's rules; registers it for reloads when they come from a path.
fn policy_rules(
    stage: &Stage,
    cfg: &PolicyConfig,
    running: &mut Running,
) -> anyhow::Result<(Rules, SwapRx)> {
    let (swap_tx, swap_rx) = crossbeam_channel::unbounded();
    let src = match (&cfg.policies, cfg.mode) {
        (Some(p), _) => RuleSource::Path(p.clone()),
        (None, PolicyMode::Alert) => {
            tracing::info!(
                "{}: no \"policies\" given; using the built-in rules",
                stage.label
            );
            RuleSource::Builtin
        }
        (None, _) => {
            tracing::info!(
                "{}: no \"policies\" given; forwarding every record",
                stage.label
            );
            return Ok((Arc::new(rules::Bypass), swap_rx));
        }
    };
    let loader = rules::loader_with(src.clone(), rules::LoadSpec::of(cfg));
    let set = loader().with_context(|| format!("{}: cannot load the rules", stage.label))?;
    if let RuleSource::Path(path) = src {
        running.reloadables.push(Reloadable {
            label: stage.label.clone(),
            path,
            watch: cfg.monitor,
            loader,
            swap: swap_tx,
        });
    }
    Ok((set, swap_rx))
}

/// Lets the registry see how full a stage's input channel is (the metrics endpoint's queue
/// depths). The stage's thread holds what this returns, so the registry loses sight of the
/// channel when the stage ends and never keeps it open.
fn watch<T: Send + 'static>(
    registry: &Registry,
    label: &str,
    rx: &Receiver<T>,
) -> Arc<dyn QueueDepth> {
    let q: Arc<dyn QueueDepth> = Arc::new(rx.clone());
    registry.watch_queue(label, &q);
    q
}

fn thread(label: &str, f: impl FnOnce() + Send + 'static) -> anyhow::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(label.chars().take(15).collect())
        .spawn(f)
        .with_context(|| format!("{label}: cannot start thread"))
}
