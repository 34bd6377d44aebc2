//! Encoders: an event becomes one document. [`json`] (sf-processor's nested and flat JSON,
//! written by the hand-rolled [`jsonw`] writer), [`ecs`] (Elastic Common Schema) and
//! [`falco`] (Falco's JSON alerts); the attribute table of the JSON encoder is in [`attrs`].
//! Encoders copy the parts of a document that read one entity from a [`fragment`] cache;
//! [`parallel`] spreads batches over threads with the output order kept, which [`batches`]
//! does for the exporter stage. [`sysflow`] turns events back into the SysFlow stream they
//! came from (Kafka's `sysflow` encoding).

mod attrs;
pub mod batches;
pub mod ecs;
pub mod falco;
pub mod fragment;
pub mod json;
pub(crate) mod jsonw;
pub mod parallel;
pub mod sysflow;
#[cfg(test)]
mod testutil;

use crate::pipeline::Event;

/// Turns an event into one document (no trailing newline). Runs per record: implementations
/// write into `out` and keep their scratch space between calls.
pub trait Encoder: Send {
    fn encode(&mut self, ev: &Event, out: &mut Vec<u8>);

    /// Every document of an event, each handed to `send` (`out` is scratch space). One
    /// document by default; Falco's format has one per matched rule.
    fn encode_each(&mut self, ev: &Event, out: &mut Vec<u8>, send: &mut dyn FnMut(&[u8])) {
        out.clear();
        self.encode(ev, out);
        send(out);
    }

    /// Appends every document of an event to `out`, back to back, and where each ends to
    /// `ends` (how the exporter encodes whole batches): in place. One document by default;
    /// an encoder with several per event overrides this with [`Encoder::encode_each`].
    fn encode_batch(&mut self, ev: &Event, out: &mut Vec<u8>, ends: &mut Vec<usize>) {
        self.encode(ev, out);
        ends.push(out.len());
    }

    /// The messages of one event for a transport that sends each on its own under a key
    /// (Kafka), appended to `out`: each ends at an offset pushed to `ends` with whether it
    /// is a record's own message. Documents are one message each ([`Encoder::encode_each`],
    /// with `doc` as its scratch space); the SysFlow stream is the entities the stream of
    /// `key` has not carried yet, then the record.
    fn encode_messages(
        &mut self,
        ev: &Event,
        key: &[u8],
        doc: &mut Vec<u8>,
        out: &mut Vec<u8>,
        ends: &mut Vec<(usize, bool)>,
    ) {
        let _ = key;
        self.encode_each(ev, doc, &mut |d| {
            out.extend_from_slice(d);
            ends.push((out.len(), true));
        });
    }

    /// A message of `key`'s stream was lost: start it over (the SysFlow stream sends its
    /// header and entities again). Documents need nothing.
    fn restart(&mut self, key: &[u8]) {
        let _ = key;
    }
}
