//! Library part of the `sensor` crate: the stages shared by the `sensor` and `sysprint`
//! binaries, the benchmarks and the integration tests.

pub mod policy;
pub mod print;
