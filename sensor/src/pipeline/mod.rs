//! What every stage of the pipeline shares: the [`Event`] that flows from the flattener to
//! the exporters, the per-stage counters ([`stats`]), the batching of a driver's records
//! into the first stage ([`Intake`]) and the fan-out of a stage's output to its consumers
//! ([`Fanout`]).
//!
//! Sources, the flattener, the policy stage and exporters depend on this module; it depends
//! on none of them (nor on `config` or `run`).

pub mod event;
mod fanout;
mod intake;
pub mod stats;

pub use event::{Event, RuleInfo};
pub use fanout::Fanout;
pub use intake::{Closed, Intake};
pub use stats::{QueueDepth, Registry, SourceSample, StageStats};

use sysflow_model::SysFlow;

/// Records per batch passed between stages.
pub const BATCH: usize = 1024;
/// Batches a channel between two stages holds before the producer blocks (backpressure).
pub const CHANNEL_BATCHES: usize = 64;

/// Which entity tables a record is joined with: drivers with one stream use stream 0; the
/// Kafka driver numbers the (partition, host) streams it reads.
pub type StreamId = u32;

/// A token a driver attaches to a batch: the flattener hands a clone to every event it
/// makes from the batch, so the token is dropped once the flattener is done with the batch
/// and every exporter has taken (or a filter dropped) each of its events. The driver's type
/// behind it does what it must when dropped (the Kafka driver commits offsets).
pub type Ack = std::sync::Arc<dyn std::any::Any + Send + Sync>;

/// A batch of raw records, from a driver to the flattener.
#[derive(Default)]
pub struct RecordBatch {
    pub recs: Vec<SysFlow>,
    /// Streams of `recs` as runs `(stream, count)` in record order; empty = all stream 0.
    pub runs: Vec<(StreamId, u32)>,
    /// Streams whose tables the flattener drops after this batch.
    pub forget: Vec<StreamId>,
    /// See [`Ack`].
    pub ack: Option<Ack>,
}

impl RecordBatch {
    pub fn with_capacity(n: usize) -> Self {
        RecordBatch {
            recs: Vec::with_capacity(n),
            ..Default::default()
        }
    }
}
/// A batch of flat records with their matches, from the flattener on.
pub type EventBatch = Vec<Event>;
