//! Helpers shared by the sysflow-sensor tests, benches, fuzz targets and `xtask`: where the
//! peers and reference data are ([`locate`]), generated traces ([`traces`], [`flat`], [`entities`]),
//! running and measuring child processes ([`run`], [`reliability`]), the eBPF recording
//! harness ([`ebpf`], [`ia32`]), the sysprint comparisons ([`print`]), a real S3 server
//! ([`s3`]), HTTP on loopback ([`http`]), a Docker daemon and local images ([`docker`]),
//! containerd ([`containerd`]), a real rsyslogd ([`rsyslog`]), a real Kafka-protocol broker and
//! client ([`kafka`]) and what keeps tests of one binary from disturbing each other ([`isolate`]).
//!
//! Dev only (`publish = false`). Nothing here knows the path of the binaries under test:
//! `env!("CARGO_BIN_EXE_sensor")` exists only in the test crate itself, so helpers that run
//! `sensor` or `sysprint` take the path (or a ready [`std::process::Command`]) as an argument.
//! A helper that finds a peer missing prints `SKIPPED: <why>` and returns `None`; the test
//! then returns.

pub mod containerd;
pub mod docker;
pub mod ebpf;
pub mod entities;
pub mod flat;
pub mod http;
#[cfg(target_arch = "x86_64")]
pub mod ia32;
pub mod isolate;
pub mod kafka;
pub mod locate;
pub mod print;
pub mod reliability;
pub mod rsyslog;
pub mod run;
pub mod s3;
pub mod traces;

pub use locate::{analytics_tool, repo_root, shared_dir, sysprint, sysprint_or_skip, traces_dir};
