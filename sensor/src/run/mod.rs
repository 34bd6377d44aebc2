//! `sensor run`: the SysFlow processor daemon (drop-in for sf-processor).
//!
//! Source (file, socket or eBPF driver) → `sysflowreader` (flattener) → `policyengine` →
//! `exporter`s, as configured by a `pipeline.json` or the built-in pipeline. Each stage runs in
//! its own thread with bounded channels in between ([`graph`]). SIGINT/SIGTERM stop intake,
//! everything already read is drained and flushed, and the exit status is 0.

mod adaptive;
pub mod args;
pub mod builtin;
mod decay;
pub mod event;
pub mod flatten;
pub mod graph;
mod perms;
pub mod policy_stage;
pub mod reload;
pub mod rules;
pub mod signals;
pub mod stats;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Context;

use crate::config::{self, defaults, DriverKind, EventsSetting};
use crate::source::{self, socket::SocketOptions, Sink};

/// Where records come from.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// A trace file or a directory of them (read once, in name order).
    File,
    /// A Unix SOCK_SEQPACKET socket a collector connects to.
    Socket,
    /// The sensor's own eBPF probes.
    Ebpf,
}

/// Arguments of `sensor run`. The single-dash spellings of sf-processor (`-config`, `-input`,
/// `-driver`, `-log`, `-version`, `-test`, …) are accepted too.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Pipeline description (sf-processor's pipeline.json). Default: the built-in pipeline,
    /// which alerts with the built-in rules as JSON on stdout.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Input driver. Default: the pipeline's `drivers` entry, else `file`.
    #[arg(long, value_enum)]
    pub input: Option<Input>,
    /// Log level: trace, debug, info, warn, error, health (= info) or quiet. Logs go to stderr.
    #[arg(long, default_value = "info", value_name = "LEVEL")]
    pub log: String,
    /// Mode of the socket file created by `--input socket` (octal).
    #[arg(long, value_name = "OCTAL", value_parser = config::plugins::parse_mode)]
    pub socket_mode: Option<u32>,
    /// Owner of the socket file, `UID[:GID]` (numeric), set before the socket listens.
    /// Needs the privilege to chown (root or CAP_CHOWN).
    #[arg(long, value_name = "UID[:GID]")]
    pub socket_owner: Option<config::SocketOwner>,
    /// Check the configuration, print the resolved pipeline as JSON and exit.
    #[arg(long)]
    pub check: bool,
    /// Trace file or directory (`file`), or socket path (`socket`, default /sock/sysflow.sock).
    pub path: Option<PathBuf>,
    /// With `--input ebpf`: keep every capability after the probes are attached (for
    /// debugging; by default all but what the collector still needs are dropped).
    #[arg(long)]
    pub keep_caps: bool,
    #[arg(long, hide = true)]
    pub plugdir: Option<String>,
    #[arg(long, hide = true)]
    pub driverdir: Option<String>,
    #[arg(long, hide = true)]
    pub cpuprofile: Option<String>,
    #[arg(long, hide = true)]
    pub memprofile: Option<String>,
    #[arg(long, hide = true)]
    pub traceprofile: Option<String>,
    #[arg(long, hide = true)]
    pub perflog: bool,
}

fn init_logging(level: &str) -> anyhow::Result<()> {
    let directive = match level.to_ascii_lowercase().as_str() {
        "trace" | "debug" | "info" | "warn" | "error" => level.to_ascii_lowercase(),
        "health" => "info".into(),
        "quiet" | "off" => "off".into(),
        other => anyhow::bail!(
            "--log: expected trace, debug, info, warn, error, health or quiet, got {other:?}"
        ),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(directive));
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
    init_logging(&a.log)?;
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
    let input = a.input.unwrap_or(match driver.map(|d| d.driver) {
        Some(DriverKind::Socket) => Input::Socket,
        Some(DriverKind::Ebpf) => Input::Ebpf,
        _ => Input::File,
    });
    let path = a
        .path
        .clone()
        .or_else(|| driver.and_then(|d| d.path.clone()));
    let path = match (input, path) {
        (_, Some(p)) => Some(p),
        (Input::Socket, None) => Some(PathBuf::from(defaults::SOCKET_PATH)),
        (Input::File, None) => anyhow::bail!(
            "no input: give a trace file or directory (sensor run PATH), or use --input socket"
        ),
        (Input::Ebpf, None) => None,
    };

    // Probes are attached before the pipeline starts, so a missing privilege fails fast, and
    // before any thread is spawned: capabilities are per thread, and every thread started
    // later inherits the reduced set.
    let collector = match input {
        Input::Ebpf => {
            let entry = driver.filter(|d| d.driver == DriverKind::Ebpf);
            let mut opts = source::live::options(entry);
            if entry.and_then(|d| d.events) == Some(EventsSetting::Auto) {
                opts.events = adaptive::needed(&pipeline.root)?;
                adaptive::started_with(opts.events);
                tracing::info!(
                    events = %source::ebpf::classes::names(opts.events),
                    "events: auto: syscall events the rules can use"
                );
            }
            Some(source::live::start(&opts, a.keep_caps)?)
        }
        _ => None,
    };
    let registry = stats::Registry::default();
    let stop = Arc::new(AtomicBool::new(false));
    let (hup_tx, hup_rx) = crossbeam_channel::bounded(1);
    signals::spawn(stop.clone(), hup_tx, registry.clone())
        .context("cannot install signal handlers")?;

    let src_stats = registry.stage(format!("driver ({input:?})").to_lowercase());
    let (tx, mut running) = graph::spawn(&pipeline.root, &registry)?;
    reload::spawn(std::mem::take(&mut running.reloadables), hup_rx)
        .context("cannot start the policy watcher")?;

    let mut sink = Sink::new(tx, src_stats);
    let res = match (input, &path) {
        (Input::File, Some(p)) => source::file::run(p, &mut sink, &stop),
        (Input::Socket, Some(p)) => {
            let opts = SocketOptions {
                path: p.clone(),
                // The command line wins over the pipeline's driver entry.
                mode: a
                    .socket_mode
                    .or(driver.and_then(|d| d.mode))
                    .unwrap_or(defaults::SOCKET_MODE),
                owner: a.socket_owner.or(driver.and_then(|d| d.owner)),
            };
            source::socket::run(&opts, &mut sink, &stop).map(|()| true)
        }
        _ => match collector {
            Some(c) => source::live::run(c, &mut sink, &stop, &registry).map(|()| true),
            None => Ok(true),
        },
    };
    // Closing the first channel drains the pipeline stage by stage.
    drop(sink);
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
