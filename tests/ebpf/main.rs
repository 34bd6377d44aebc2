//! The eBPF collector under real workloads: `sensor record` and `sensor run --input ebpf` load
//! the probes, this process does file, process and network work, and the traces (or alerts)
//! must say exactly that. One module per topic.
//!
//! Needs root, kernel BTF and a sensor built after `cargo xtask build-ebpf --release`;
//! otherwise each test prints `SKIPPED: ...` and returns. Every test that starts a sensor
//! holds [`testkit::ebpf::lock`]: one sensor at a time, and no other test of this binary
//! bursting syscalls into its ring meanwhile (a concurrent burst fills the ring, and
//! `run::ebpf_input_alerts_on_a_live_workload` asserts `drops=0`). The `sensor run --input
//! ebpf` tests (`run`) live here rather than in the `run` binary for that reason.

use std::path::Path;
use std::process::Command;

use testkit::ebpf::Recording;

mod collector;
#[cfg(target_arch = "x86_64")]
mod compat;
mod falco_events;
mod fd;
mod filter;
mod observe;
mod privs;
mod readback;
mod rings;
mod run;
mod xfer;

/// The sensor binary under test.
const SENSOR: &str = env!("CARGO_BIN_EXE_sensor");

/// The sensor under test as a command.
fn sensor() -> Command {
    Command::new(SENSOR)
}

/// [`testkit::ebpf::start`] with the sensor under test.
fn start(name: &str, extra: &[&str]) -> Option<Recording> {
    testkit::ebpf::start(Path::new(SENSOR), name, extra)
}
