//! `sensor run`: the SysFlow processor daemon (drop-in for sf-processor).
//!
//! Source (file, socket, Kafka or eBPF driver) → `sysflowreader` (flattener) → `policyengine` →
//! `exporter`s, as configured by a `pipeline.json` or the built-in pipeline. Each stage runs in
//! its own thread with bounded channels in between ([`graph`]). SIGINT/SIGTERM stop intake,
//! everything already read is drained and flushed, and the exit status is 0.

pub mod args;
pub mod graph;
mod perms;
pub mod signals;

pub use args::RunArgs;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Context;

use crate::config::{self, builtin, defaults, DriverKind, EventsSetting};
use crate::pipeline::{Intake, Registry};
use crate::policy::{adaptive, reload};
use crate::source::ebpf::{classes, collector::PROBE_LOG_TARGET, driver as ebpf_driver};
use crate::source::{self, socket::SocketOptions};

fn init_logging(level: &str, probe_log: bool) -> anyhow::Result<()> {
    let directive = match level.to_ascii_lowercase().as_str() {
        "trace" | "debug" | "info" | "warn" | "error" => level.to_ascii_lowercase(),
        "health" => "info".into(),
        "quiet" | "off" => "off".into(),
        other => anyhow::bail!(
            "--log: expected trace, debug, info, warn, error, health or quiet, got {other:?}"
        ),
    };
    let mut filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(directive));
    if probe_log {
        filter = filter.add_directive(format!("{PROBE_LOG_TARGET}=debug").parse()?);
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    Ok(())
}

/// Entry point of `sensor run`; returns the process exit code.
pub fn main(a: RunArgs) -> anyhow::Result<u8> {
    args::check_unsupported(&a)?;
    init_logging(&a.log, a.probe_log)?;
    let pipeline = match &a.config {
        Some(p) => config::load_file(p)?,
        None => builtin::pipeline()?,
    };
    if let Some(p) = &a.config {
        perms::warn_if_writable(p, "pipeline file");
    }
    let mut policies = Vec::new();
    perms::policy_paths(&pipeline.root, &mut policies);
    for p in &policies {
        perms::warn_if_writable(p, "policy");
    }
    if a.check {
        println!("{}", serde_json::to_string_pretty(&pipeline)?);
        return Ok(0);
    }

    let driver = pipeline.driver.as_ref();
    let input = a
        .input
        .or(driver.map(|d| d.driver))
        .unwrap_or(DriverKind::File);
    let path = a
        .path
        .clone()
        .or_else(|| driver.and_then(|d| d.path.clone()));
    let path = match (input, path) {
        (_, Some(p)) => Some(p),
        (DriverKind::Socket, None) => Some(PathBuf::from(defaults::SOCKET_PATH)),
        (DriverKind::File, None) => anyhow::bail!(
            "no input: give a trace file or directory (sensor run PATH), or use --input socket"
        ),
        (DriverKind::Ebpf | DriverKind::Kafka, None) => None,
    };
    // The Kafka driver's settings: the entry's, with the command line's BROKERS/TOPIC over.
    let kafka = match input {
        DriverKind::Kafka => {
            let entry = driver
                .filter(|d| d.driver == DriverKind::Kafka)
                .and_then(|d| d.kafka.clone())
                .unwrap_or_default();
            let target = path.as_ref().map(|p| p.to_string_lossy().into_owned());
            Some(
                entry
                    .with_target(target.as_deref())
                    .map_err(|e| anyhow::anyhow!("--input kafka: {e}"))?,
            )
        }
        _ => None,
    };

    // Probes are attached before the pipeline starts, so a missing privilege fails fast, and
    // before any thread is spawned: capabilities are per thread, and every thread started
    // later inherits the reduced set.
    let collector = match input {
        DriverKind::Ebpf => {
            let entry = driver.filter(|d| d.driver == DriverKind::Ebpf);
            let mut opts = ebpf_driver::options(entry);
            opts.probe_log = a.probe_log;
            if entry.and_then(|d| d.events) == Some(EventsSetting::Auto) {
                opts.events = adaptive::needed(&pipeline.root)?;
                adaptive::started_with(opts.events);
                tracing::info!(
                    events = %classes::names(opts.events),
                    "events: auto: syscall events the rules can use"
                );
            }
            Some(ebpf_driver::start(&opts, a.keep_caps)?)
        }
        _ => None,
    };
    let registry = Registry::default();
    let stop = Arc::new(AtomicBool::new(false));
    let (hup_tx, hup_rx) = crossbeam_channel::bounded(1);
    signals::spawn(stop.clone(), hup_tx, registry.clone())
        .context("cannot install signal handlers")?;

    let src_stats = registry.stage(format!("driver ({input:?})").to_lowercase());
    let (tx, mut running) = graph::spawn(&pipeline.root, &registry)?;
    reload::spawn(std::mem::take(&mut running.reloadables), hup_rx)
        .context("cannot start the policy watcher")?;

    let mut intake = Intake::new(tx, src_stats);
    if let Some(k) = &kafka {
        // The Kafka driver owns the intake (its rebalance callbacks hand batches on too).
        let res = source::kafka::run(k, intake, &stop);
        running.join();
        registry.log("exit");
        return res.map(|()| 0);
    }
    let res = match (input, &path) {
        (DriverKind::File, Some(p)) => source::file::run(p, &mut intake, &stop),
        (DriverKind::Socket, Some(p)) => {
            let opts = SocketOptions {
                path: p.clone(),
                // The command line wins over the pipeline's driver entry.
                mode: a
                    .socket_mode
                    .or(driver.and_then(|d| d.mode))
                    .unwrap_or(defaults::SOCKET_MODE),
                owner: a.socket_owner.or(driver.and_then(|d| d.owner)),
            };
            source::socket::run(&opts, &mut intake, &stop).map(|()| true)
        }
        _ => match collector {
            Some(c) => ebpf_driver::run(c, &mut intake, &stop, &registry).map(|()| true),
            None => Ok(true),
        },
    };
    // Closing the first channel drains the pipeline stage by stage.
    drop(intake);
    running.join();
    registry.log("exit");
    match res {
        Ok(true) => Ok(0),
        Ok(false) => {
            tracing::error!("some input could not be read (see above)");
            Ok(1)
        }
        Err(e) => Err(e),
    }
}
