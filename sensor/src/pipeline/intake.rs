//! The driver side of the first channel: records are batched for the flattener and counted.

use std::sync::Arc;

use crossbeam_channel::Sender;
use sysflow_model::SysFlow;

use super::{Ack, RecordBatch, StageStats, StreamId, BATCH};

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
            batch: RecordBatch::with_capacity(BATCH),
            stats,
        }
    }

    /// Queues one record; blocks when the pipeline is full (backpressure).
    pub fn push(&mut self, rec: SysFlow) -> Result<(), Closed> {
        self.batch.recs.push(rec);
        if self.batch.recs.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    /// Queues one record of `stream` (a driver that interleaves several streams, each with
    /// entity tables of its own: the Kafka driver's hosts).
    pub fn push_to(&mut self, stream: StreamId, rec: SysFlow) -> Result<(), Closed> {
        match self.batch.runs.last_mut() {
            Some((s, n)) if *s == stream => *n += 1,
            _ => self.batch.runs.push((stream, 1)),
        }
        self.push(rec)
    }

    /// Records queued and not yet handed over.
    pub fn pending(&self) -> usize {
        self.batch.recs.len()
    }

    /// Attaches `ack` to the batch being filled: every event made from it holds the token,
    /// so the driver learns when the exporters have taken all of them (the Kafka driver
    /// commits offsets then). A batch flushed empty drops it at once.
    pub fn set_ack(&mut self, ack: Ack) {
        self.batch.ack = Some(ack);
    }

    /// Asks the flattener to drop the entity tables of `stream` after the current batch.
    pub fn forget(&mut self, stream: StreamId) {
        self.batch.forget.push(stream);
    }

    /// Hands the partial batch over (call before waiting for more input).
    pub fn flush(&mut self) -> Result<(), Closed> {
        if self.batch.recs.is_empty() && self.batch.forget.is_empty() {
            // Nothing to carry: an attached token completes here.
            self.batch.ack = None;
            return Ok(());
        }
        let n = self.batch.recs.len() as u64;
        let b = std::mem::replace(&mut self.batch, RecordBatch::with_capacity(BATCH));
        self.tx.send(b).map_err(|_| Closed)?;
        StageStats::add(&self.stats.output, n);
        Ok(())
    }
}
