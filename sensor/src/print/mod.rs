//! `sensor print` (stub; to be implemented).

/// Arguments of `sensor print`.
#[derive(clap::Args, Debug)]
pub struct PrintArgs {}

/// Entry point of `sensor print`; returns the process exit code.
pub fn main(_args: PrintArgs) -> anyhow::Result<u8> {
    anyhow::bail!("sensor print is not implemented yet")
}
