//! `sysprint`: drop-in replacement for the Python sysprint 0.6.1 (same flags).

use std::process::ExitCode;

use clap::Parser;
use sensor::print::{run, PrintArgs};

/// sysprint: a human-readable printer and format converter for Sysflow captures.
#[derive(Parser, Debug)]
#[command(name = "sysprint", disable_version_flag = true)]
struct Cli {
    #[command(flatten)]
    args: PrintArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli.args, "sysprint") {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("sysprint: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
