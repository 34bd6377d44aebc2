//! Record sources: the eBPF collector (trace files and the live socket are read elsewhere).

pub mod ebpf;
