//! The `sensor` command line: the subcommands and where each is handed over. `main.rs` only
//! calls [`run`]; the definitions live here so that tools (completions, man page) can reach
//! them too.

use std::ffi::OsString;

use clap::{Parser, Subcommand};

use crate::{policy, print, record, run as daemon};

/// All-in-one runtime-security sensor for Linux speaking SysFlow.
#[derive(Parser, Debug)]
#[command(name = "sensor", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands of `sensor`.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the pipeline: reader -> flattener -> policy engine -> exporter.
    #[command(version)]
    Run(daemon::RunArgs),
    /// Print or convert SysFlow traces (drop-in for sysprint).
    Print(Box<print::PrintArgs>),
    /// Policy tools (`policy check PATH`).
    Policy(policy::PolicyArgs),
    /// Record SysFlow traces from the eBPF probes.
    Record(record::RecordArgs),
}

/// Parses the command line (sf-processor's single-dash options after `run` included) and
/// runs the subcommand; returns its exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> anyhow::Result<u8> {
    let cli = Cli::parse_from(daemon::args::rewrite(args));
    match cli.command {
        Command::Run(a) => daemon::main(a),
        Command::Print(a) => print::main(*a),
        Command::Policy(a) => policy::main(a),
        Command::Record(a) => record::main(a),
    }
}
