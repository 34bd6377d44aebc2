//! Record sources: the eBPF collector (trace files and the live socket are read elsewhere).

#[allow(unused_imports)] // the pipeline (`--input ebpf`) uses more of it than `record`
pub mod ebpf;
