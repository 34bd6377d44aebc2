//! The `sensor` command line: the subcommands and where each is handed over. `main.rs` only
//! calls [`run`] and exits with [`exit_code`]; the definitions live here so that tools
//! (completions, man page: `cargo xtask man`) can reach them too.

use std::ffi::OsString;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::{policy, print, record, run as daemon};

/// What `--help` says about the environment and exit statuses.
const AFTER_HELP: &str = "\
Environment:
  RUST_LOG                 log filter when --log is not given (tracing syntax, e.g. warn,sensor=debug)
  SENSOR_METRICS           run: metrics address, as --metrics ADDR; healthcheck: the address to ask
  <PLUGIN>_<KEY>           run: overrides a key of every plugin of that name in the pipeline,
                           e.g. EXPORTER_EXPORT=syslog, EXPORTER_SYSLOG_HOST=siem,
                           POLICYENGINE_POLICIES=/etc/sysflow/rules, POLICYENGINE_MODE=enrich
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, AWS_DEFAULT_REGION,
  AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL
                           print -i s3: credentials, region and endpoint when not given as flags
  NODE_IP                  record: the node address written in the trace header

Exit status:
  0    success
  1    runtime failure (input unreadable, socket or port unavailable, probes refused)
  2    invalid command line
  78   invalid configuration (pipeline file, rules, exporter settings, metrics address)
  130  a second SIGINT/SIGTERM stopped `run` without draining";

/// All-in-one runtime-security sensor for Linux speaking SysFlow.
#[derive(Parser, Debug)]
#[command(name = "sensor", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands of `sensor`.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the pipeline: reader -> flattener -> policy engine -> exporter.
    #[command(version, after_help = AFTER_HELP)]
    Run(daemon::RunArgs),
    /// Print or convert SysFlow traces (drop-in for sysprint).
    Print(Box<print::PrintArgs>),
    /// Policy tools (`policy check PATH`).
    Policy(policy::PolicyArgs),
    /// Record SysFlow traces from the eBPF probes.
    Record(record::RecordArgs),
    /// Ask a running sensor's /healthz (or /readyz); exit 0 when it answers 200. For
    /// container health checks.
    Healthcheck(daemon::metrics::HealthcheckArgs),
}

/// Parses the command line (sf-processor's single-dash options after `run` included) and
/// runs the subcommand; returns its exit code. A command-line error comes back as the
/// [`clap::Error`] (print it with its own `print`), `--help` and `--version` too (exit 0).
pub fn run(args: impl IntoIterator<Item = OsString>) -> anyhow::Result<u8> {
    let matches = Cli::command().try_get_matches_from(daemon::args::rewrite(args))?;
    let cli = Cli::from_arg_matches(&matches)?;
    match cli.command {
        Command::Run(a) => daemon::main(a),
        Command::Print(a) => print::main(*a),
        Command::Policy(a) => policy::main(a),
        Command::Record(a) => record::main(a),
        Command::Healthcheck(a) => daemon::metrics::healthcheck(a),
    }
}

/// The exit status for an error of [`run`]: clap's for its errors (2, or 0 for `--help`),
/// else by the failure attached ([`daemon::Failure`]): 2 usage, 78 configuration, 1 runtime.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    match e.downcast_ref::<clap::Error>() {
        Some(c) => u8::try_from(c.exit_code()).unwrap_or(daemon::exit::USAGE),
        None => daemon::Failure::exit_code(e),
    }
}
