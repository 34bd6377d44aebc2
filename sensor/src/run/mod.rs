//! `sensor run` (being implemented).

pub mod event;
pub mod stats;

/// Arguments of `sensor run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {}

/// Entry point of `sensor run`; returns the process exit code.
pub fn main(_args: RunArgs) -> anyhow::Result<u8> {
    anyhow::bail!("sensor run is not implemented yet")
}
