//! `sensor run`, the daemon: configuration, end to end on the shared traces, the collector
//! socket, syslog exporters against a real rsyslogd, Kafka against a real broker, signals
//! and reloads, the pipeline's stages and counters, `sensor policy check`, and Sigma rules
//! through the binary. One module per topic; helpers in `testkit::run` and `testkit::kafka`.
//! (`sensor run --input ebpf` is tested in the `ebpf` binary, with the other tests that load
//! probes.)
//!
//! Tests that need a missing peer (../shared, rsyslogd, tansu, confluent-kafka) print
//! `SKIPPED: ...` and return.

use std::process::Command;

mod config;
mod deploy;
mod e2e;
mod encode;
mod kafka;
mod lifecycle;
mod metrics;
mod operator;
mod pipeline;
mod policy_check;
mod sigma;
mod socket;
mod syslog;

/// The sensor binary under test.
fn sensor() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sensor"))
}
