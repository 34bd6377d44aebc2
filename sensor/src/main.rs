//! `sensor`: the sysflow-sensor daemon and CLI. Parses the command line and hands over to
//! the library (`sensor::cli`).

use std::process::ExitCode;

fn main() -> ExitCode {
    match sensor::cli::run(std::env::args_os()) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("sensor: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
