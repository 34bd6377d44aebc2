//! The `ebpf` driver: SysFlow records built from the sensor's own eBPF probes.
//!
//! Hook for the eBPF helper: replace the body of [`run`] with the probe loop, pushing records
//! into the sink until `stop` is set.

use std::sync::atomic::AtomicBool;

use super::Sink;

/// Checks, before the pipeline starts, that the probes can run here.
pub fn available() -> anyhow::Result<()> {
    anyhow::bail!(
        "--input ebpf is not built into this sensor yet; use --input file PATH or --input socket [PATH]"
    )
}

/// Runs the probes until `stop` is set.
pub fn run(_sink: &mut Sink, _stop: &AtomicBool) -> anyhow::Result<()> {
    available()
}
