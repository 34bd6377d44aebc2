//! Command-line compatibility with sf-processor: its single-dash long options (`-config x`,
//! `-log=info`, …) are rewritten to clap's `--` form before parsing; options we have no
//! equivalent for fail with a clear message.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::config::{DriverKind, SocketOwner};

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
    pub input: Option<DriverKind>,
    /// Log level: trace, debug, info (the default), warn, error, health (= info) or quiet.
    /// Logs go to stderr. Given, it wins over RUST_LOG; without it RUST_LOG applies (any
    /// tracing filter, such as `warn,sensor::policy=debug`).
    #[arg(long, value_name = "LEVEL", ignore_case = true, value_parser = [
        "trace", "debug", "info", "warn", "error", "health", "quiet", "off",
    ])]
    pub log: Option<String>,
    /// Log format: `text` (the default) or `json` (one JSON object per line, for log
    /// collectors).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
    pub log_format: LogFormat,
    /// Serve Prometheus metrics at http://ADDR/metrics, with /healthz and /readyz for
    /// liveness and readiness probes. ADDR is HOST:PORT or :PORT (every IPv4 interface);
    /// port 0 picks a free one (logged). Off by default; wins over the pipeline's
    /// `metrics.address`.
    #[arg(long, value_name = "ADDR", env = crate::run::metrics::ENV_ADDR)]
    pub metrics: Option<String>,
    /// Mode of the socket file created by `--input socket` (octal).
    #[arg(long, value_name = "OCTAL", value_parser = crate::config::plugins::parse_mode)]
    pub socket_mode: Option<u32>,
    /// Owner of the socket file, `UID[:GID]` (numeric), set before the socket listens.
    /// Needs the privilege to chown (root or CAP_CHOWN).
    #[arg(long, value_name = "UID[:GID]")]
    pub socket_owner: Option<SocketOwner>,
    /// Check the configuration, print the resolved pipeline as JSON and exit.
    #[arg(long)]
    pub check: bool,
    /// Trace file or directory (`file`), socket path (`socket`, default /sock/sysflow.sock),
    /// or `BROKERS/TOPIC[,TOPIC]` (`kafka`, e.g. `k1:9092,k2:9092/sysflow`; default: the
    /// kafka driver entry's `kafka.config` and `kafka.topics`).
    pub path: Option<PathBuf>,
    /// With `--input ebpf`: keep every capability after the probes are attached (for
    /// debugging; by default all but what the collector still needs are dropped).
    #[arg(long)]
    pub keep_caps: bool,
    /// With `--input ebpf`: log the probes' debug messages (events lost to a full ring,
    /// failed syscalls the probes skip, descriptors they cannot resolve) on stderr; off by
    /// default, when they cost nothing.
    #[arg(long)]
    pub probe_log: bool,
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

/// Format of the log lines on stderr.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (tracing-subscriber's JSON formatter).
    Json,
}

/// Single-dash spellings of the original and what they become.
const RENAMES: &[(&str, &str)] = &[
    ("config", "--config"),
    ("input", "--input"),
    ("driver", "--input"),
    ("log", "--log"),
    ("version", "--version"),
    ("test", "--check"),
    ("plugdir", "--plugdir"),
    ("driverdir", "--driverdir"),
    ("cpuprofile", "--cpuprofile"),
    ("memprofile", "--memprofile"),
    ("traceprofile", "--traceprofile"),
    ("perflog", "--perflog"),
];

/// Rewrites `-name` / `-name=value` of the original's options after the `run` subcommand.
pub fn rewrite(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut in_run = false;
    let mut done = false;
    for a in args {
        let Some(s) = a.to_str() else {
            out.push(a);
            continue;
        };
        if !in_run && !done && s == "run" && out.len() == 1 {
            in_run = true;
            out.push(a);
            continue;
        }
        if in_run && !done {
            if s == "--" {
                done = true;
            } else if let Some(rest) = s.strip_prefix('-').filter(|r| !r.starts_with('-')) {
                let (name, value) = match rest.split_once('=') {
                    Some((n, v)) => (n, Some(v)),
                    None => (rest, None),
                };
                if let Some((_, long)) = RENAMES.iter().find(|(n, _)| *n == name) {
                    out.push(match value {
                        Some(v) => format!("{long}={v}").into(),
                        None => (*long).into(),
                    });
                    continue;
                }
            }
        }
        out.push(a);
    }
    out
}

/// Refuses the original's options that have no equivalent here.
pub fn check_unsupported(a: &RunArgs) -> anyhow::Result<()> {
    if a.plugdir.is_some() || a.driverdir.is_some() {
        anyhow::bail!(
            "-plugdir/-driverdir: dynamic plugin and driver libraries are not supported; every plugin is built in"
        );
    }
    if a.cpuprofile.is_some() || a.memprofile.is_some() || a.traceprofile.is_some() {
        anyhow::bail!(
            "-cpuprofile/-memprofile/-traceprofile: Go profiles are not available; profile with `perf record` instead"
        );
    }
    if a.perflog {
        anyhow::bail!(
            "-perflog: not available; the stage counters are logged at exit and on SIGUSR1"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw(v: &[&str]) -> Vec<String> {
        rewrite(v.iter().map(OsString::from))
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect()
    }

    #[test]
    fn single_dash_options_become_long() {
        assert_eq!(
            rw(&[
                "sensor",
                "run",
                "-config",
                "p.json",
                "-log=error",
                "-driver",
                "file",
                "x.sf"
            ]),
            [
                "sensor",
                "run",
                "--config",
                "p.json",
                "--log=error",
                "--input",
                "file",
                "x.sf"
            ]
        );
        assert_eq!(
            rw(&["sensor", "run", "-test"]),
            ["sensor", "run", "--check"]
        );
        // Short flags, other subcommands and anything after `--` are left alone.
        assert_eq!(
            rw(&["sensor", "print", "-config"]),
            ["sensor", "print", "-config"]
        );
        assert_eq!(
            rw(&["sensor", "run", "--", "-log"]),
            ["sensor", "run", "--", "-log"]
        );
    }
}
