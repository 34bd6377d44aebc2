//! Record sources: the eBPF collector (trace files and the live socket are read elsewhere;
//! S3 object stores are in the library, `sensor::source::s3`).

#[allow(unused_imports)] // the pipeline (`--input ebpf`) uses more of it than `record`
pub mod ebpf;
