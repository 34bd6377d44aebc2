//! What each key's `sysflow` stream has carried since it last started over, on the disk
//! buffer's delivery thread: of each self-contained [`group`] only the header and entities
//! the stream has not carried go out, then the record.
//!
//! The stream of a key starts over (its header again, which resets the consumer's tables,
//! then every entity as records need them) when the sink starts, when the header changes,
//! every `kafka.epoch` (so a consumer taking a partition over needs to read back only that
//! far), and whenever delivery was not confirmed in full ([`Streams::clear`]): then the sink
//! cannot know what the consumer has. An entity is skipped only when the datum last sent in
//! its slot is byte for byte the same, so the consumer's table holds exactly it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::export::encode::sysflow::group::{self, Entry};

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// One key's stream.
struct Stream {
    started: Instant,
    last_used: Instant,
    header: Vec<u8>,
    /// The datum last sent per slot.
    sent: FastMap<u64, Vec<u8>>,
}

/// The streams of every key.
pub struct Streams {
    epoch: Duration,
    keys: FastMap<Vec<u8>, Stream>,
    last_sweep: Instant,
}

impl Streams {
    /// `epoch` is `kafka.epoch`.
    pub fn new(epoch: Duration) -> Streams {
        Streams {
            epoch,
            keys: FastMap::default(),
            last_sweep: Instant::now(),
        }
    }

    /// Every stream starts over with its next record.
    pub fn clear(&mut self) {
        self.keys.clear();
    }

    /// Hands `send` the entries of `key`'s well-formed group ([`group::valid`]) that its
    /// stream needs, in order, the record last; stops at the first `send` that fails and
    /// returns its error (the stream then no longer says what the consumer has: the caller
    /// clears it).
    pub fn send<E>(
        &mut self,
        key: &[u8],
        grp: &[u8],
        now: Instant,
        mut send: impl FnMut(Entry<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.sweep(now);
        let epoch = self.epoch;
        let s = match self.keys.get_mut(key) {
            Some(s) => s,
            None => self.keys.entry(key.to_vec()).or_insert_with(|| Stream {
                started: now,
                last_used: now,
                header: Vec::new(),
                sent: FastMap::default(),
            }),
        };
        s.last_used = now;
        for e in group::entries(grp).flatten() {
            match e.tag {
                group::HEADER => {
                    let fresh = s.header.is_empty()
                        || s.header != e.datum
                        || now.duration_since(s.started) >= epoch;
                    if !fresh {
                        continue;
                    }
                    s.header.clear();
                    s.sent.clear();
                    send(e)?;
                    s.header.extend_from_slice(e.datum);
                    s.started = now;
                }
                group::ENTITY => {
                    if s.sent.get(&e.slot).is_some_and(|d| d == e.datum) {
                        continue;
                    }
                    send(e)?;
                    let d = s.sent.entry(e.slot).or_default();
                    d.clear();
                    d.extend_from_slice(e.datum);
                }
                _ => send(e)?,
            }
        }
        Ok(())
    }

    /// Forgets streams idle for a whole epoch: their next record starts them over anyway.
    fn sweep(&mut self, now: Instant) {
        if now.duration_since(self.last_sweep) < self.epoch {
            return;
        }
        self.last_sweep = now;
        let epoch = self.epoch;
        self.keys
            .retain(|_, s| now.duration_since(s.last_used) < epoch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use group::{put, slot, ENTITY, HEADER, PROCESS, RECORD};

    fn grp(header: &[u8], procs: &[(u64, &[u8])], rec: &[u8]) -> Vec<u8> {
        let mut g = Vec::new();
        put(&mut g, HEADER, 0, header);
        for (id, d) in procs {
            put(&mut g, ENTITY, slot(PROCESS, id), d);
        }
        put(&mut g, RECORD, 0, rec);
        g
    }

    /// What goes out of each group, as the datums' text.
    fn sent(s: &mut Streams, key: &[u8], g: &[u8], now: Instant) -> Vec<String> {
        let mut out = Vec::new();
        s.send::<()>(key, g, now, |e| {
            out.push(String::from_utf8_lossy(e.datum).into_owned());
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn each_stream_carries_what_it_has_not_and_starts_over_when_told() {
        let t = Instant::now();
        let mut s = Streams::new(Duration::from_secs(60));
        let g1 = grp(b"H", &[(1, b"init"), (2, b"sh")], b"e1");
        assert_eq!(sent(&mut s, b"a", &g1, t), ["H", "init", "sh", "e1"]);
        assert_eq!(sent(&mut s, b"a", &g1, t), ["e1"]);
        // A new version of process 2 goes; its unchanged parent does not.
        let g2 = grp(b"H", &[(1, b"init"), (2, b"cat")], b"e2");
        assert_eq!(sent(&mut s, b"a", &g2, t), ["cat", "e2"]);
        // Another key is a stream of its own.
        assert_eq!(sent(&mut s, b"b", &g2, t), ["H", "init", "cat", "e2"]);
        // A new header starts the stream over.
        let g3 = grp(b"H2", &[(1, b"init")], b"e3");
        assert_eq!(sent(&mut s, b"a", &g3, t), ["H2", "init", "e3"]);
        // So does the epoch, and clear().
        let later = t + Duration::from_secs(60);
        assert_eq!(sent(&mut s, b"a", &g3, later), ["H2", "init", "e3"]);
        s.clear();
        assert_eq!(sent(&mut s, b"a", &g3, later), ["H2", "init", "e3"]);
        // A failed send leaves what it could not send unrecorded.
        s.clear();
        let mut n = 0;
        let r = s.send(b"a", &g1, later, |_| {
            n += 1;
            if n == 2 {
                Err("down")
            } else {
                Ok(())
            }
        });
        assert_eq!(r, Err("down"));
        assert_eq!(sent(&mut s, b"a", &g1, later), ["init", "sh", "e1"]);
    }
}
