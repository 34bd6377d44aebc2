//! Library part of the `sensor` crate: the stages shared by the `sensor` and `sysprint`
//! binaries, the benchmarks and the integration tests.

pub mod policy;
pub mod print;

/// Record sources the library stages use (the eBPF collector is in the binary).
pub mod source {
    pub mod s3;
}
