//! Library part of the `sensor` crate: the stages shared by the `sensor` and `sysprint`
//! binaries and the benchmarks.

pub mod print;
