//! Drivers: where SysFlow records come from. [`file`] reads trace files, [`socket`] a
//! collector's live stream, [`s3`] trace objects of a bucket, [`kafka`] the streams sensors
//! publish to Kafka, and [`ebpf`] builds records itself from the sensor's probes. Each hands
//! its records to the pipeline through a [`crate::pipeline::Intake`]; [`decode`] is the
//! datum decoding the stream drivers share.

pub mod decode;
pub mod ebpf;
pub mod file;
pub mod kafka;
pub mod s3;
pub mod socket;
