//! The native eBPF collector: aya probes (`sensor-ebpf`) → raw events → SysFlow records
//! with the original collector's semantics.
//!
//! - [`collector`]: load/attach, ring-buffer reading, drop counters.
//! - [`builder`]: raw events → SysFlow records (entities, flows, events).
//! - [`containers`]: which container a process is in (cgroup names from the probes) and
//!   what its runtime says about it (Docker API, containerd/CRI-O bundles).
//! - [`filter`]: process names excluded in the kernel.
//! - [`classes`]: which syscall events the probes report (`--events`).
//! - [`btf`]: kernel struct offsets for the probes (run-time CO-RE).
//! - [`procfs`]: processes that existed before the sensor, names, clocks.
//! - [`privs`]: capabilities dropped once the probes are attached.
//! - [`driver`]: the `ebpf` driver of `sensor run` (collector → pipeline).

pub mod btf;
pub mod builder;
pub mod classes;
pub mod collector;
pub mod containers;
pub mod driver;
pub mod filter;
pub mod object;
pub mod paths;
pub mod privs;
pub mod procfs;
pub mod raw;
pub mod reorder;
pub mod stats;

pub use builder::{Builder, BuilderConfig, BuilderStats, NetworkFlow6};
pub use collector::{Collector, CollectorConfig, CollectorError};
pub use stats::Summary;
