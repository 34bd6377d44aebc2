//! `sensor run` (stub; to be implemented).

/// Arguments of `sensor run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {}

/// Entry point of `sensor run`; returns the process exit code.
pub fn main(_args: RunArgs) -> anyhow::Result<u8> {
    anyhow::bail!("sensor run is not implemented yet")
}
