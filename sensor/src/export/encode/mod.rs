//! Encoders: an event becomes one document. [`json`] (sf-processor's nested and flat JSON,
//! written by the hand-rolled [`jsonw`] writer), [`ecs`] (Elastic Common Schema) and
//! [`falco`] (Falco's JSON alerts); the attribute table of the JSON encoder is in [`attrs`].
//! Encoders copy the parts of a document that read one entity from a [`fragment`] cache;
//! [`parallel`] spreads batches over threads with the output order kept, which [`batches`]
//! does for the exporter stage.

mod attrs;
pub mod batches;
pub mod ecs;
pub mod falco;
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

    /// Every document of an event, each handed to `send` (`out` is scratch space). One
    /// document by default; Falco's format has one per matched rule.
    fn encode_each(&mut self, ev: &Event, out: &mut Vec<u8>, send: &mut dyn FnMut(&[u8])) {
        out.clear();
        self.encode(ev, out);
        send(out);
    }

    /// Appends every document of an event to `out`, back to back, and where each ends to
    /// `ends` (how the exporter encodes whole batches; `scratch` is scratch space). By default
    /// the documents of [`Encoder::encode_each`], copied; one-document encoders override it
    /// to write in place.
    fn encode_batch(
        &mut self,
        ev: &Event,
        out: &mut Vec<u8>,
        ends: &mut Vec<usize>,
        scratch: &mut Vec<u8>,
    ) {
        self.encode_each(ev, scratch, &mut |doc| {
            out.extend_from_slice(doc);
            ends.push(out.len());
        });
    }
}

/// [`Encoder::encode_batch`] for an encoder of one document per event: written in place.
fn encode_one_in_place(
    enc: &mut impl Encoder,
    ev: &Event,
    out: &mut Vec<u8>,
    ends: &mut Vec<usize>,
) {
    enc.encode(ev, out);
    ends.push(out.len());
}
