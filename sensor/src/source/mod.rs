//! Drivers that feed SysFlow records into the pipeline: [`file`] (trace files), [`socket`]
//! (a collector's live stream) and [`live`] (the native eBPF collector, [`ebpf`]).
//! S3 object stores are in the library (`sensor::source::s3`).

pub mod decode;
#[allow(unused_imports)] // the pipeline (`--input ebpf`) uses more of it than `record`
pub mod ebpf;
pub mod file;
pub mod live;
pub mod socket;

use std::sync::Arc;

use crossbeam_channel::Sender;
use sysflow_model::SysFlow;

use crate::config::defaults;
use crate::run::stats::StageStats;

/// Batches records for the first stage and counts them.
pub struct Sink {
    tx: Sender<Vec<SysFlow>>,
    batch: Vec<SysFlow>,
    pub stats: Arc<StageStats>,
}

/// The pipeline has gone away (its first stage ended); the driver should stop.
#[derive(Debug)]
pub struct Closed;

impl Sink {
    pub fn new(tx: Sender<Vec<SysFlow>>, stats: Arc<StageStats>) -> Self {
        Sink {
            tx,
            batch: Vec::with_capacity(defaults::BATCH),
            stats,
        }
    }

    /// Queues one record; blocks when the pipeline is full (backpressure).
    pub fn push(&mut self, rec: SysFlow) -> Result<(), Closed> {
        self.batch.push(rec);
        if self.batch.len() >= defaults::BATCH {
            self.flush()?;
        }
        Ok(())
    }

    /// Hands the partial batch over (call before waiting for more input).
    pub fn flush(&mut self) -> Result<(), Closed> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let n = self.batch.len() as u64;
        let b = std::mem::replace(&mut self.batch, Vec::with_capacity(defaults::BATCH));
        self.tx.send(b).map_err(|_| Closed)?;
        StageStats::add(&self.stats.output, n);
        Ok(())
    }
}
