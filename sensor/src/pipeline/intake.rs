//! The driver side of the first channel: records are batched for the flattener and counted.

use std::sync::Arc;

use crossbeam_channel::Sender;
use sysflow_model::SysFlow;

use super::{RecordBatch, StageStats, BATCH};

/// Batches a driver's records into the pipeline's first stage and counts them.
pub struct Intake {
    tx: Sender<RecordBatch>,
    batch: RecordBatch,
    /// The driver's counters (`out`: records handed to the pipeline).
    pub stats: Arc<StageStats>,
}

/// The pipeline has gone away (its first stage ended); the driver should stop.
#[derive(Debug)]
pub struct Closed;

impl Intake {
    /// An intake feeding `tx`, counting into `stats`.
    pub fn new(tx: Sender<RecordBatch>, stats: Arc<StageStats>) -> Self {
        Intake {
            tx,
            batch: Vec::with_capacity(BATCH),
            stats,
        }
    }

    /// Queues one record; blocks when the pipeline is full (backpressure).
    pub fn push(&mut self, rec: SysFlow) -> Result<(), Closed> {
        self.batch.push(rec);
        if self.batch.len() >= BATCH {
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
        let b = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        self.tx.send(b).map_err(|_| Closed)?;
        StageStats::add(&self.stats.output, n);
        Ok(())
    }
}
