//! `sensor`: the sysflow-sensor daemon and CLI. Parses arguments and hands over.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod config;
mod export;
use sensor::policy;
use sensor::print;
mod record;
mod run;
mod source;

/// All-in-one runtime-security sensor for Linux speaking SysFlow.
#[derive(Parser, Debug)]
#[command(name = "sensor", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the pipeline: reader -> flattener -> policy engine -> exporter.
    #[command(version)]
    Run(run::RunArgs),
    /// Print or convert SysFlow traces (drop-in for sysprint).
    Print(Box<print::PrintArgs>),
    /// Policy tools (`policy check PATH`).
    Policy(policy::PolicyArgs),
    /// Record SysFlow traces from the eBPF probes.
    Record(record::RecordArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(run::args::rewrite(std::env::args_os()));
    let res = match cli.command {
        Command::Run(a) => run::main(a),
        Command::Print(a) => print::main(*a),
        Command::Policy(a) => policy::main(a),
        Command::Record(a) => record::main(a),
    };
    match res {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("sensor: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
