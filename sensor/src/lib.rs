//! Library side of the `sensor` binary: stages that benchmarks and integration tests use.

pub mod policy;
