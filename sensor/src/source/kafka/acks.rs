//! Which offsets may be committed: every batch the driver hands to the pipeline carries a
//! token ([`crate::pipeline::Ack`]) that every event made from it holds; the token reports
//! when the last holder drops it, i.e. when the flattener is done with the batch and every
//! exporter has taken (or a filter dropped) each of its events. A partition's offset may be
//! committed up to the first batch not yet reported, never past it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crossbeam_channel::Sender;

use crate::pipeline::Ack;

/// A partition: index into the driver's topic list, partition number.
pub type Tp = (u16, i32);

/// Reports its batch done when the last event holding it is dropped.
struct Token {
    seq: u64,
    done: Sender<u64>,
}

impl Drop for Token {
    fn drop(&mut self) {
        let _ = self.done.send(self.seq);
    }
}

#[derive(Default)]
struct Batch {
    /// Next offset per partition once this batch is done.
    next: Vec<(Tp, i64)>,
    done: bool,
}

/// Batches in flight and the offsets they free.
pub struct Acks {
    done_tx: Sender<u64>,
    next_seq: u64,
    /// The batch being filled, if its token is attached to the intake.
    open: Option<u64>,
    pending: BTreeMap<u64, Batch>,
    /// Next offset to commit per partition (all before it have been taken).
    committable: HashMap<Tp, i64>,
}

impl Acks {
    pub fn new(done_tx: Sender<u64>) -> Self {
        Acks {
            done_tx,
            next_seq: 0,
            open: None,
            pending: BTreeMap::new(),
            committable: HashMap::new(),
        }
    }

    /// The token for a new batch when none is open (to attach to the intake), else `None`.
    pub fn open(&mut self) -> Option<Ack> {
        if self.open.is_some() {
            return None;
        }
        self.next_seq += 1;
        let seq = self.next_seq;
        self.open = Some(seq);
        self.pending.insert(seq, Batch::default());
        Some(Arc::new(Token {
            seq,
            done: self.done_tx.clone(),
        }))
    }

    /// The open batch was handed over (or dropped empty): the next record opens another.
    pub fn close(&mut self) {
        self.open = None;
    }

    /// `offset` of `tp` belongs to the open batch (whether or not it gave a record).
    pub fn note(&mut self, tp: Tp, offset: i64) {
        let Some(b) = self.open.and_then(|s| self.pending.get_mut(&s)) else {
            return;
        };
        match b.next.iter_mut().find(|(t, _)| *t == tp) {
            Some((_, o)) => *o = (*o).max(offset + 1),
            None => b.next.push((tp, offset + 1)),
        }
    }

    /// A token reported its batch done.
    pub fn done(&mut self, seq: u64) {
        if let Some(b) = self.pending.get_mut(&seq) {
            b.done = true;
        }
        while let Some(e) = self.pending.first_entry() {
            if !e.get().done {
                break;
            }
            for (tp, o) in e.remove().next {
                let c = self.committable.entry(tp).or_insert(o);
                *c = (*c).max(o);
            }
        }
    }

    /// Batches handed over and not yet done.
    pub fn in_flight(&self) -> usize {
        self.pending.len() - usize::from(self.open.is_some())
    }

    /// Next offset to commit for each partition.
    pub fn committable(&self) -> impl Iterator<Item = (Tp, i64)> + '_ {
        self.committable.iter().map(|(t, o)| (*t, *o))
    }

    /// Forgets a partition (revoked): nothing more of it is committed by this member.
    pub fn drop_partition(&mut self, tp: Tp) {
        self.committable.remove(&tp);
        for b in self.pending.values_mut() {
            b.next.retain(|(t, _)| *t != tp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_stop_at_the_first_batch_not_done() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut a = Acks::new(tx);
        let t1 = a.open().unwrap();
        assert!(a.open().is_none(), "one open batch at a time");
        a.note((0, 0), 10);
        a.note((0, 1), 3);
        a.close();
        let t2 = a.open().unwrap();
        a.note((0, 0), 11);
        a.close();
        assert_eq!(a.in_flight(), 2);
        // The second batch finishes first: nothing may be committed yet.
        drop(t2);
        a.done(rx.recv().unwrap());
        assert_eq!(a.committable().count(), 0);
        // Clones held by events keep the batch in flight.
        let held = t1.clone();
        drop(t1);
        assert!(rx.try_recv().is_err());
        drop(held);
        a.done(rx.recv().unwrap());
        let mut c: Vec<_> = a.committable().collect();
        c.sort();
        assert_eq!(c, [((0, 0), 12), ((0, 1), 4)]);
        assert_eq!(a.in_flight(), 0);
    }
}
