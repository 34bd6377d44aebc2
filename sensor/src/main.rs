//! `sensor`: the sysflow-sensor daemon and CLI. Parses the command line and hands over to
//! the library (`sensor::cli`); prints what failed and exits with its status (`sensor
//! --help` lists them).

use std::process::ExitCode;

fn main() -> ExitCode {
    match sensor::cli::run(std::env::args_os()) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            match e.downcast_ref::<clap::Error>() {
                // Usage errors, --help and --version, as clap formats them.
                Some(c) => {
                    let _ = c.print();
                }
                None => eprintln!("sensor: error: {e:#}"),
            }
            ExitCode::from(sensor::cli::exit_code(&e))
        }
    }
}
