//! The `sysflowreader` stage: raw records are joined with the entities they reference
//! ([`joiner`]: the model's entity tables), optionally de-duplicated over time ([`decay`]),
//! and passed on as [`Event`]s.

mod decay;
mod joiner;

pub use joiner::Flatten;

use std::collections::HashMap;
use std::sync::Arc;

use crossbeam_channel::Receiver;

use crate::config::ReaderConfig;
use crate::pipeline::{Event, Fanout, RecordBatch, StageStats, StreamId};

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
/// driver closes its channel. Each stream of a batch ([`RecordBatch::runs`]) is joined with
/// entity tables of its own, made on first use ([`build`]).
pub fn run(cfg: ReaderConfig, rx: Receiver<RecordBatch>, mut outs: Fanout, stats: Arc<StageStats>) {
    let mut streams: HashMap<StreamId, Box<dyn Flatten>> = HashMap::new();
    streams.insert(0, build(&cfg));
    for batch in rx {
        let RecordBatch {
            recs,
            runs,
            forget,
            ack,
        } = batch;
        let n = recs.len();
        let mut out = Vec::with_capacity(n);
        let mut recs = recs.into_iter();
        let whole = [(0, n as u32)];
        let runs = if runs.is_empty() {
            &whole[..]
        } else {
            &runs[..]
        };
        for &(stream, len) in runs {
            let flat = streams.entry(stream).or_insert_with(|| build(&cfg));
            for rec in recs.by_ref().take(len as usize) {
                if let Some(f) = flat.push(rec) {
                    let mut ev = Event::new(f);
                    ev.ack.clone_from(&ack);
                    out.push(ev);
                }
            }
        }
        for s in forget {
            streams.remove(&s);
        }
        StageStats::add(&stats.input, n as u64);
        StageStats::add(&stats.output, out.len() as u64);
        outs.send(out, &stats);
    }
}
