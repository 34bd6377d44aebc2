//! The `sysflowreader` stage: raw records are joined with the entities they reference
//! ([`joiner`]: the model's entity tables), optionally de-duplicated over time ([`decay`]),
//! and passed on as [`Event`]s.

mod decay;
mod joiner;

pub use joiner::Flatten;

use std::sync::Arc;

use crossbeam_channel::Receiver;

use crate::config::ReaderConfig;
use crate::pipeline::{Event, Fanout, RecordBatch, StageStats};

/// Builds the flattener for a `sysflowreader` plugin.
pub fn build(cfg: &ReaderConfig) -> Box<dyn Flatten> {
    let inner =
        sysflow_model::tables::Flattener::new(sysflow_model::tables::TableConfig::default());
    if cfg.filter_enabled {
        return Box::new(decay::DecayFilter::new(inner, cfg.filter_maxage));
    }
    Box::new(inner)
}

/// The stage's thread body: flattens every arriving batch and passes it on, until the
/// driver closes its channel.
pub fn run(
    mut flat: Box<dyn Flatten>,
    rx: Receiver<RecordBatch>,
    mut outs: Fanout,
    stats: Arc<StageStats>,
) {
    for batch in rx {
        let n = batch.len();
        let mut out = Vec::with_capacity(n);
        for rec in batch {
            if let Some(f) = flat.push(rec) {
                out.push(Event::new(f));
            }
        }
        StageStats::add(&stats.input, n as u64);
        StageStats::add(&stats.output, out.len() as u64);
        outs.send(out, &stats);
    }
}
