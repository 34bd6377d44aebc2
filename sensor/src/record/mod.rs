//! `sensor record` (stub; to be implemented).

/// Arguments of `sensor record`.
#[derive(clap::Args, Debug)]
pub struct RecordArgs {}

/// Entry point of `sensor record`; returns the process exit code.
pub fn main(_args: RecordArgs) -> anyhow::Result<u8> {
    anyhow::bail!("sensor record is not implemented yet")
}
