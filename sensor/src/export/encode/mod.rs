//! Encoders: an event becomes one document. [`json`] (sf-processor's nested and flat JSON,
//! written by the hand-rolled [`jsonw`] writer), [`ecs`] (Elastic Common Schema) and
//! [`falco`] (Falco's JSON alerts); the
//! attribute table both export is in [`attrs`].

mod attrs;
pub mod ecs;
pub mod falco;
pub mod json;
mod jsonw;

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
}
