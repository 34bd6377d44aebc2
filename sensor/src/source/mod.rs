//! Record sources: the eBPF collector and S3 object stores (trace files and the live socket
//! are read elsewhere).

#[allow(unused_imports)] // the pipeline (`--input ebpf`) uses more of it than `record`
pub mod ebpf;

#[allow(dead_code)] // wired into `sensor print -i s3` by the print code
pub mod s3;
