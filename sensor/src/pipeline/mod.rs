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

/// A batch of raw records, from a driver to the flattener.
pub type RecordBatch = Vec<SysFlow>;
/// A batch of flat records with their matches, from the flattener on.
pub type EventBatch = Vec<Event>;
