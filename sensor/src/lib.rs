//! sysflow-sensor: a runtime-security sensor for Linux that speaks SysFlow.
//!
//! Every source feeds one chain, and the modules follow it:
//!
//! ```text
//! source (file | socket | s3 | ebpf) → flatten → policy → export
//!                 \_____________ pipeline (events, counters, channels) ____________/
//! ```
//!
//! - [`source`]: drivers that produce SysFlow records (trace files, a collector's socket,
//!   S3 objects, the sensor's own eBPF probes).
//! - [`flatten`]: the `sysflowreader` stage, joining records with their entities.
//! - [`policy`]: the `policyengine` stage around the `sysflow-policy` rule engine.
//! - [`export`]: the `exporter` stage, encoders × transports.
//! - [`pipeline`]: what the stages share (the event, counters, batching, fan-out).
//! - [`config`]: sf-processor's `pipeline.json` and its environment overrides, typed.
//! - [`run`]: `sensor run`, which builds the stage graph from a config and runs it.
//! - [`print`], [`record`]: the `sensor print`/`sysprint` and `sensor record` commands.
//! - [`cli`]: the command line of the `sensor` binary.
//!
//! The data model (records, Avro, entity tables, flat records) is the `sysflow-model` crate;
//! the probes are `sensor-ebpf`, with the structs both sides share in `sensor-ebpf-common`.

pub mod cli;
pub mod config;
pub mod export;
pub mod flatten;
pub mod pipeline;
pub mod policy;
pub mod print;
pub mod record;
pub mod run;
pub mod source;
mod time;
