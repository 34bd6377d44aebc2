//! Encoders: an event becomes one document. [`json`] (sf-processor's nested and flat JSON,
//! written by the hand-rolled [`jsonw`] writer) and [`ecs`] (Elastic Common Schema); the
//! attribute table both export is in [`attrs`]. [`sysflow`] turns events back into the
//! SysFlow stream they came from (Kafka's `sysflow` encoding).

mod attrs;
pub mod ecs;
pub mod json;
mod jsonw;
pub mod sysflow;

use crate::pipeline::Event;

/// Turns an event into one document (no trailing newline). Runs per record: implementations
/// write into `out` and keep their scratch space between calls.
pub trait Encoder: Send {
    fn encode(&mut self, ev: &Event, out: &mut Vec<u8>);

    /// The messages of one event for a transport that sends each on its own under a key
    /// (Kafka): each ends at an offset pushed to `ends`, the event's own last. Documents are
    /// one message; the SysFlow stream is the entities the stream of `key` has not carried
    /// yet, then the record.
    fn encode_messages(
        &mut self,
        ev: &Event,
        key: &[u8],
        out: &mut Vec<u8>,
        ends: &mut Vec<usize>,
    ) {
        let _ = key;
        self.encode(ev, out);
        ends.push(out.len());
    }

    /// A message of `key`'s stream was lost: start it over (the SysFlow stream sends its
    /// header and entities again). Documents need nothing.
    fn restart(&mut self, key: &[u8]) {
        let _ = key;
    }
}
