//! Library part of the `sensor` crate: the stages shared by the `sensor` and `sysprint`
//! binaries, the benchmarks and the integration tests.

pub mod policy;
pub mod print;

/// Record sources the library stages use (the eBPF collector is in the binary).
pub mod source {
    pub mod s3;
    /// Checks of the eBPF collector's settings, shared by the command line, the pipeline
    /// configuration and its fuzz target (the collector itself is in the binary).
    pub mod ebpf {
        pub mod classes;
        pub mod filter;
    }
}
