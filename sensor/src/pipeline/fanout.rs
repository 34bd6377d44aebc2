//! A stage's consumers: every output batch goes to each of them.

use crossbeam_channel::Sender;

use super::{EventBatch, StageStats};

/// A stage's consumers; a batch fans out to each of them (cloned for all but the last).
pub struct Fanout {
    txs: Vec<Sender<EventBatch>>,
}

impl Fanout {
    /// Fans out to these consumers, in order.
    pub fn new(txs: Vec<Sender<EventBatch>>) -> Self {
        Fanout { txs }
    }

    /// Passes a batch on to every consumer (blocking while one is full). A consumer that
    /// has stopped is removed, and the records it would have received are counted as
    /// dropped in `stats`.
    pub fn send(&mut self, batch: EventBatch, stats: &StageStats) {
        if batch.is_empty() {
            return;
        }
        let n = batch.len() as u64;
        let last = self.txs.len().saturating_sub(1);
        let mut batch = Some(batch);
        let mut dead = Vec::new();
        for (i, tx) in self.txs.iter().enumerate() {
            let b = if i == last {
                batch.take().unwrap_or_default()
            } else {
                batch.as_ref().cloned().unwrap_or_default()
            };
            if tx.send(b).is_err() {
                dead.push(i);
            }
        }
        for i in dead.into_iter().rev() {
            tracing::error!(
                "{}: a consumer stopped; its records are dropped",
                stats.label
            );
            StageStats::add(&stats.dropped, n);
            self.txs.remove(i);
        }
    }
}
