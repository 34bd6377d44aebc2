//! Developer tasks (`cargo xtask <task>`, an alias in `.cargo/config.toml`): the command line
//! here, one file per task.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

mod build_ebpf;
mod docs;
mod fuzz;
mod soak;

/// Developer tasks of sysflow-sensor.
#[derive(Parser)]
#[command(name = "xtask", bin_name = "cargo xtask", about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Build the eBPF probe object (nightly + bpf-linker) into target/sensor-ebpf/, where the
    /// sensor's build script embeds it.
    BuildEbpf {
        /// Build the probes with the release profile (what CI and the tests use).
        #[arg(long)]
        release: bool,
    },
    /// Write seed corpora, then run the cargo-fuzz targets (nightly + cargo-fuzz), each for
    /// the given time; crash inputs land in <fuzz crate>/artifacts/ (fuzz/ or
    /// sysflow-policy/fuzz/).
    Fuzz {
        /// Minutes per target.
        #[arg(long, default_value_t = 5.0, value_parser = positive_minutes)]
        minutes: f64,
        /// Run only this target.
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(
            fuzz::TARGETS.iter().map(|t| t.name)
        ))]
        target: Option<String>,
        /// Run all targets at once under `nice 19`, each logging to <fuzz crate>/logs/<target>.log.
        #[arg(long)]
        parallel: bool,
    },
    /// Write the `sensor` man pages (sensor.1, sensor-run.1, …) from its clap definitions.
    Man {
        /// Directory to write them into.
        #[arg(long, default_value = "target/man")]
        out: PathBuf,
    },
    /// Write `sensor` shell completions (bash, zsh, fish, elvish, powershell) from its clap
    /// definitions.
    Completions {
        /// Directory to write them into.
        #[arg(long, default_value = "target/completions")]
        out: PathBuf,
    },
    /// Run the soak test (tests/reliability/soak.rs) at full size in a release build and
    /// print its figures with the machine they came from, for BENCHMARKS.md.
    Soak {
        /// Records streamed through the pipeline (`_` separators allowed).
        #[arg(long, default_value = "10_000_000", value_parser = whole_number)]
        records: u64,
        /// Lines per second the slow reader drains (0: as fast as it can).
        #[arg(long, value_name = "LINES_PER_S", default_value = "50_000", value_parser = whole_number)]
        rate: u64,
    },
}

/// A whole number, `_` separators allowed (`10_000_000`).
fn whole_number(s: &str) -> Result<u64, String> {
    s.replace('_', "")
        .parse()
        .map_err(|_| format!("{s:?} is not a whole number"))
}

/// A positive number of minutes (fractions allowed).
fn positive_minutes(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(m) if m > 0.0 && m.is_finite() => Ok(m),
        _ => Err(format!("{s:?} is not a positive number")),
    }
}

/// The repository's root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Prints the files a task wrote.
fn report(files: Vec<PathBuf>) -> Result<()> {
    for f in files {
        println!("{}", f.display());
    }
    Ok(())
}

fn main() -> Result<()> {
    match Cli::parse().task {
        Task::BuildEbpf { release } => build_ebpf::run(&root(), release),
        Task::Fuzz {
            minutes,
            target,
            parallel,
        } => fuzz::run(&root(), minutes, target.as_deref(), parallel),
        Task::Soak { records, rate } => soak::run(&root(), records.max(1), rate),
        Task::Man { out } => report(docs::man(&root().join(out))?),
        Task::Completions { out } => report(docs::completions(&root().join(out))?),
    }
}
