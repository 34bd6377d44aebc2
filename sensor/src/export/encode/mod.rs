//! Encoders: an event becomes one document. [`json`] (sf-processor's nested and flat JSON,
//! written by the hand-rolled [`jsonw`] writer) and [`ecs`] (Elastic Common Schema); the
//! attribute table both export is in [`attrs`]. Encoders copy the parts of a document that
//! read one entity from a [`fragment`] cache; [`parallel`] spreads batches over threads with
//! the output order kept, which [`batches`] does for the exporter stage.

mod attrs;
pub mod batches;
pub mod ecs;
pub mod fragment;
pub mod json;
pub(crate) mod jsonw;
pub mod parallel;
#[cfg(test)]
mod testutil;

use crate::pipeline::Event;

/// Turns an event into one document (no trailing newline). Runs per record: implementations
/// write into `out` and keep their scratch space between calls.
pub trait Encoder: Send {
    fn encode(&mut self, ev: &Event, out: &mut Vec<u8>);
}
