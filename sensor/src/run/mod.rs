//! `sensor run`: the SysFlow processor daemon (drop-in for sf-processor).
//!
//! Source (file, socket, Kafka or eBPF driver) → `sysflowreader` (flattener) → `policyengine` →
//! `exporter`s, as configured by a `pipeline.json` or the built-in pipeline. Each stage runs in
//! its own thread with bounded channels in between ([`graph`]). SIGINT/SIGTERM stop intake,
//! everything already read is drained and flushed, and the exit status is 0.

pub mod args;
pub mod graph;
pub mod metrics;
mod perms;
pub mod signals;

pub use args::{LogFormat, RunArgs};

use std::path::PathBuf;

use anyhow::Context;
use tracing_subscriber::EnvFilter;

use crate::config::{self, builtin, defaults, DriverKind, EventsSetting};
use crate::pipeline::{Intake, Registry};
use crate::policy::{adaptive, reload};
use crate::source::ebpf::{classes, collector::PROBE_LOG_TARGET, driver as ebpf_driver};
use crate::source::{self, socket::SocketOptions};

/// Why `sensor run` failed, when it is not at run time: attached to the error as context,
/// it selects the exit status ([`Failure::exit_code`]; the `sensor` binary exits with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The command line is wrong.
    #[error("invalid command line")]
    Usage,
    /// The pipeline, its rules or its exporters cannot be set up as configured.
    #[error("invalid configuration")]
    Config,
}

/// Exit statuses of `sensor` (`sensor --help`, docs/run.md).
pub mod exit {
    /// A runtime failure: input unreadable, socket or metrics port unavailable, probes
    /// refused. Restarting may help.
    pub const RUNTIME: u8 = 1;
    /// The command line is wrong (clap's usage errors exit with it too).
    pub const USAGE: u8 = 2;
    /// The configuration is invalid (sysexits' `EX_CONFIG`): pipeline file, rules, exporter
    /// settings, metrics address. Restarting will not help.
    pub const CONFIG: u8 = 78;
    /// A second SIGINT/SIGTERM stopped the sensor without draining.
    pub const ABORTED: u8 = 130;
}

impl Failure {
    /// The exit status for `e`: that of the [`Failure`] attached to it, else
    /// [`exit::RUNTIME`].
    pub fn exit_code(e: &anyhow::Error) -> u8 {
        match e.downcast_ref::<Failure>() {
            Some(Failure::Usage) => exit::USAGE,
            Some(Failure::Config) => exit::CONFIG,
            None => exit::RUNTIME,
        }
    }
}

/// The tracing filter: an explicit `--log` wins, else `RUST_LOG`, else `info`.
fn log_filter(level: Option<&str>, probe_log: bool) -> anyhow::Result<EnvFilter> {
    let directive = |level: &str| match level.to_ascii_lowercase().as_str() {
        "health" => "info".to_string(),
        "quiet" => "off".to_string(),
        other => other.to_string(),
    };
    let mut filter = match level {
        Some(l) => EnvFilter::new(directive(l)),
        None => match std::env::var("RUST_LOG") {
            Ok(v) if !v.trim().is_empty() => EnvFilter::try_new(&v)
                .map_err(|e| anyhow::anyhow!("RUST_LOG={v:?}: {e}"))
                .context(Failure::Usage)?,
            _ => EnvFilter::new("info"),
        },
    };
    if probe_log {
        filter = filter.add_directive(format!("{PROBE_LOG_TARGET}=debug").parse()?);
    }
    Ok(filter)
}

fn init_logging(level: Option<&str>, format: LogFormat, probe_log: bool) -> anyhow::Result<()> {
    let filter = log_filter(level, probe_log)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    // A second init (tests running `main` twice in one process) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
    Ok(())
}

/// Entry point of `sensor run`; returns the process exit code. Errors carry a [`Failure`]
/// when they are the command line's or the configuration's.
pub fn main(a: RunArgs) -> anyhow::Result<u8> {
    args::check_unsupported(&a).context(Failure::Usage)?;
    init_logging(a.log.as_deref(), a.log_format, a.probe_log)?;
    let pipeline = match &a.config {
        Some(p) => config::load_file(p),
        None => builtin::pipeline(),
    }
    .context(Failure::Config)?;
    if let Some(p) = &a.config {
        perms::warn_if_writable(p, "pipeline file");
    }
    let mut policies = Vec::new();
    perms::policy_paths(&pipeline.root, &mut policies);
    for p in &policies {
        perms::warn_if_writable(p, "policy");
    }
    let metrics_addr = match (&a.metrics, &pipeline.metrics) {
        (Some(addr), _) => Some(metrics::resolve(addr).context(Failure::Usage)?),
        (None, Some(addr)) => Some(
            metrics::resolve(addr)
                .context("pipeline key metrics.address")
                .context(Failure::Config)?,
        ),
        (None, None) => None,
    };
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
        (DriverKind::File, None) => {
            return Err(anyhow::anyhow!(
                "no input: give a trace file or directory (sensor run PATH), or use --input socket"
            ))
            .context(Failure::Usage)
        }
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
                    .map_err(|e| anyhow::anyhow!("--input kafka: {e}"))
                    .context(Failure::Usage)?,
            )
        }
        _ => None,
    };
    // Bound before the probes load: a taken port fails before anything else starts, and a
    // port below 1024 can still be had before the capabilities are dropped.
    let metrics = metrics_addr.map(metrics::Listener::bind).transpose()?;

    // Probes are attached before the pipeline starts, so a missing privilege fails fast, and
    // before any thread is spawned: capabilities are per thread, and every thread started
    // later inherits the reduced set.
    let collector = match input {
        DriverKind::Ebpf => {
            let entry = driver.filter(|d| d.driver == DriverKind::Ebpf);
            let mut opts = ebpf_driver::options(entry);
            opts.probe_log = a.probe_log;
            if entry.and_then(|d| d.events) == Some(EventsSetting::Auto) {
                opts.events = adaptive::needed(&pipeline.root).context(Failure::Config)?;
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
    let stop = registry.stop_flag();
    let (hup_tx, hup_rx) = crossbeam_channel::bounded(1);
    signals::spawn(stop.clone(), hup_tx, registry.clone())
        .context("cannot install signal handlers")?;

    let src_stats = registry.stage(format!("driver ({input:?})").to_lowercase());
    let endpoint = match metrics {
        Some(l) => Some(l.serve(metrics::State::new(
            registry.clone(),
            input,
            src_stats.clone(),
            stop.clone(),
        ))?),
        None => None,
    };
    let (tx, mut running) = graph::spawn(&pipeline.root, &registry).context(Failure::Config)?;
    reload::spawn(std::mem::take(&mut running.reloadables), hup_rx)
        .context("cannot start the policy watcher")?;

    let mut intake = Intake::new(tx, src_stats);
    if let Some(e) = &endpoint {
        e.running();
    }
    let res = if let Some(k) = &kafka {
        // The Kafka driver owns the intake: its rebalance callbacks hand batches on too.
        source::kafka::run(k, intake, &stop).map(|()| true)
    } else {
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
        res
    };
    if let Some(e) = &endpoint {
        e.finished();
    }
    running.join();
    registry.log("exit");
    match res {
        Ok(true) => Ok(0),
        Ok(false) => {
            tracing::error!("some input could not be read (see above)");
            Ok(exit::RUNTIME)
        }
        Err(e) => Err(e),
    }
}
