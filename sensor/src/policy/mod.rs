//! `sensor policy` (stub; to be implemented).

/// Arguments of `sensor policy`.
#[derive(clap::Args, Debug)]
pub struct PolicyArgs {}

/// Entry point of `sensor policy`; returns the process exit code.
pub fn main(_args: PolicyArgs) -> anyhow::Result<u8> {
    anyhow::bail!("sensor policy is not implemented yet")
}
