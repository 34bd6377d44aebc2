//! Message keys (`kafka.key`): the partition a record goes to, and so what keeps its order.

use crate::config::KafkaKey;
use crate::pipeline::Event;

/// Writes the key of each event.
pub struct MessageKey {
    mode: KafkaKey,
    node: Vec<u8>,
}

impl MessageKey {
    /// `node` is `kafka.node`, or the host name.
    pub fn new(mode: KafkaKey, node: &str) -> Self {
        MessageKey {
            mode,
            node: node.as_bytes().to_vec(),
        }
    }

    /// The key of `ev` into `out` (emptied first; left empty for `kafka.key: none`).
    pub fn write(&self, ev: &Event, out: &mut Vec<u8>) {
        out.clear();
        match self.mode {
            KafkaKey::None => {}
            KafkaKey::Node => out.extend_from_slice(&self.node),
            KafkaKey::Container => {
                out.extend_from_slice(&self.node);
                let id = ev.rec.proc.as_ref().and_then(|p| p.container_id.as_deref());
                if let Some(id) = id.filter(|id| !id.is_empty()) {
                    out.push(b'/');
                    out.extend_from_slice(id.as_bytes());
                }
            }
        }
    }
}

/// The host name (`gethostname`), or `localhost` when it cannot be read.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it or
    // truncates, and we stop at the first NUL.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let n = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..n]) {
        Ok(h) if rc == 0 && !h.is_empty() => h.to_string(),
        _ => "localhost".into(),
    }
}
