//! The memory part of a backlog: records back to back in one ring of bytes, bounded by the
//! backlog's byte limit, with no allocation per record.
//!
//! The front records may already have been handed to the transport ("assigned": they carry
//! sequence numbers from `seq0`, and stay until the transport confirms them); the rest are
//! pending and get their sequence numbers when handed out or written to disk, so that
//! dropping a pending record never leaves a gap in the numbering.

use std::collections::VecDeque;

use super::frames::Frames;

pub struct MemQueue {
    bytes: VecDeque<u8>,
    lens: VecDeque<u32>,
    /// Records at the front that carry sequence numbers (`seq0`, `seq0 + 1`, …).
    assigned: usize,
    assigned_bytes: usize,
    seq0: u64,
    /// Records at the front handed out since the last retry (≤ `assigned`).
    handed: usize,
    handed_bytes: usize,
    /// Capacity never grows past this.
    limit: usize,
}

impl MemQueue {
    pub fn new(limit: u64) -> MemQueue {
        MemQueue {
            bytes: VecDeque::new(),
            lens: VecDeque::new(),
            assigned: 0,
            assigned_bytes: 0,
            seq0: 0,
            handed: 0,
            handed_bytes: 0,
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
        }
    }

    pub fn len(&self) -> usize {
        self.lens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lens.is_empty()
    }

    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// Sequence number of the first record, when it has one.
    #[cfg(test)]
    pub fn first_assigned(&self) -> Option<u64> {
        (self.assigned > 0).then_some(self.seq0)
    }

    /// Appends a record (the caller has checked the limit).
    pub fn push(&mut self, rec: &[u8]) {
        let need = self.bytes.len() + rec.len();
        if need > self.bytes.capacity() {
            // Grow by doubling, but never past the limit: the ring's pages are all touched
            // once it wraps, so its capacity is what it costs in resident memory.
            let cap = (self.bytes.capacity() * 2)
                .max(need)
                .min(self.limit.max(need));
            self.bytes.reserve_exact(cap - self.bytes.len());
        }
        self.bytes.extend(rec);
        self.lens.push_back(rec.len() as u32);
    }

    /// Drops the oldest record not in flight: the first one when nothing was handed out
    /// since the last retry (returning its sequence number if it had one), else the first
    /// pending one. Returns its length.
    pub fn drop_oldest(&mut self) -> Option<(usize, Option<u64>)> {
        if self.handed == 0 {
            let n = *self.lens.front()? as usize;
            let seq = (self.assigned > 0).then_some(self.seq0);
            self.remove_front(1);
            return Some((n, seq));
        }
        let n = self.lens.remove(self.assigned)? as usize;
        let at = self.assigned_bytes;
        self.bytes.drain(at..at + n);
        Some((n, None))
    }

    /// Copies the next record to hand out into `out` and gives it a sequence number:
    /// `next_seq` when it had none (and the caller advances its counter). Returns the
    /// record's sequence number and whether it was newly assigned.
    pub fn hand_out(&mut self, next_seq: u64, out: &mut Frames) -> Option<(u64, bool)> {
        let len = *self.lens.get(self.handed)? as usize;
        let at = self.handed_bytes;
        out.push_with(|b| copy_range(&self.bytes, at, len, b));
        let fresh = self.handed == self.assigned;
        if fresh {
            if self.assigned == 0 {
                self.seq0 = next_seq;
            }
            self.assigned += 1;
            self.assigned_bytes += len;
        }
        let seq = self.seq0 + self.handed as u64;
        self.handed += 1;
        self.handed_bytes += len;
        Some((seq, fresh))
    }

    /// Removes the records confirmed delivered: those with a sequence number below `seq`.
    pub fn confirm(&mut self, seq: u64) {
        let n = if self.assigned == 0 || seq <= self.seq0 {
            0
        } else {
            (seq - self.seq0).min(self.assigned as u64) as usize
        };
        self.remove_front(n);
    }

    /// Hands out again, from the first unconfirmed record.
    pub fn retry(&mut self) {
        self.handed = 0;
        self.handed_bytes = 0;
    }

    /// Copies every record into `out` (to move them to the disk buffer) and returns the
    /// sequence number of the first: its own, or `next_seq` when none has one yet (the
    /// records then take `next_seq`, `next_seq + 1`, … in order).
    pub fn copy_all(&self, next_seq: u64, out: &mut Frames) -> u64 {
        let mut at = 0;
        for &n in &self.lens {
            out.push_with(|b| copy_range(&self.bytes, at, n as usize, b));
            at += n as usize;
        }
        if self.assigned > 0 {
            self.seq0
        } else {
            next_seq
        }
    }

    /// Removes the first `n` records (confirmed, or moved to disk).
    pub fn remove_front(&mut self, n: usize) {
        for _ in 0..n {
            let Some(len) = self.lens.pop_front() else {
                break;
            };
            let len = len as usize;
            self.bytes.drain(..len);
            if self.assigned > 0 {
                self.assigned -= 1;
                self.assigned_bytes -= len;
                self.seq0 += 1;
            }
            if self.handed > 0 {
                self.handed -= 1;
                self.handed_bytes -= len;
            }
        }
    }
}

/// Appends `len` bytes of the ring from `at` to `out` (at most two copies).
fn copy_range(ring: &VecDeque<u8>, at: usize, len: usize, out: &mut Vec<u8>) {
    let (a, b) = ring.as_slices();
    if at + len <= a.len() {
        out.extend_from_slice(&a[at..at + len]);
    } else if at >= a.len() {
        out.extend_from_slice(&b[at - a.len()..at - a.len() + len]);
    } else {
        out.extend_from_slice(&a[at..]);
        out.extend_from_slice(&b[..len - (a.len() - at)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recs(f: &Frames) -> Vec<Vec<u8>> {
        f.iter().map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn hand_out_confirm_retry_and_drop_keep_order_and_numbers() {
        let mut q = MemQueue::new(1 << 20);
        for r in [&b"a1"[..], b"b22", b"c333", b"d4444"] {
            q.push(r);
        }
        let mut out = Frames::default();
        assert_eq!(q.hand_out(10, &mut out), Some((10, true)));
        assert_eq!(q.hand_out(11, &mut out), Some((11, true)));
        // The oldest record not in flight is c333.
        assert_eq!(q.drop_oldest(), Some((4, None)));
        assert_eq!(q.byte_len(), 2 + 3 + 5);
        // Retry: the same numbers again, then the next pending gets 12.
        q.retry();
        out.clear();
        assert_eq!(q.hand_out(12, &mut out), Some((10, false)));
        assert_eq!(q.hand_out(12, &mut out), Some((11, false)));
        assert_eq!(q.hand_out(12, &mut out), Some((12, true)));
        assert_eq!(q.hand_out(13, &mut out), None);
        assert_eq!(
            recs(&out),
            [b"a1".to_vec(), b"b22".to_vec(), b"d4444".to_vec()]
        );
        q.confirm(12);
        assert_eq!(q.byte_len(), 5);
        assert_eq!(q.first_assigned(), Some(12));
        let mut all = Frames::default();
        q.push(b"e5");
        assert_eq!(q.copy_all(13, &mut all), 12);
        assert_eq!(recs(&all), [b"d4444".to_vec(), b"e5".to_vec()]);
        q.remove_front(2);
        assert!(q.is_empty());
        assert_eq!(q.first_assigned(), None);
    }

    #[test]
    fn wrapped_ring_copies_whole_records() {
        let mut q = MemQueue::new(64);
        let mut out = Frames::default();
        for (seq, i) in (0..200u32).enumerate() {
            let r = format!("rec{i:05}");
            q.push(r.as_bytes());
            out.clear();
            let (s, fresh) = q.hand_out(seq as u64, &mut out).unwrap();
            assert!(fresh);
            assert_eq!(out.bytes(), r.as_bytes());
            q.confirm(s + 1);
        }
        assert!(q.bytes.capacity() <= 64);
    }
}
