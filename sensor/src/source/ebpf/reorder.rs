//! Merges the events of several ring buffers back into time order.
//!
//! With one ring per group of CPUs, a thread that migrates writes its events into different
//! rings, and a fork is written by the parent on one CPU while the child's first syscall
//! lands on another. The builder needs them in the order they happened (a write before its
//! close, a fork before the child's events), so events are held here and released in
//! timestamp order once no ring can still produce an earlier one.
//!
//! The watermark: every event carries `bpf_ktime_get_ns()` (CLOCK_MONOTONIC) taken when its
//! program started, and a program runs to its commit without being preempted or migrated.
//! An event stamped more than [`SLACK_NS`] before the reader sampled the clock was therefore
//! committed before the reader started draining, and a full drain of every ring has seen
//! it. Events newer than that wait for the next round.

/// Longest time between a program taking its timestamp and committing its event that the
/// ordering tolerates. Programs run for microseconds; interrupts can stretch that, so the
/// margin is generous. It is also the added latency of an event.
pub const SLACK_NS: u64 = 10_000_000;

#[derive(Debug, Clone, Copy)]
struct Held {
    ts: u64,
    seq: u64,
    off: u32,
    len: u32,
}

/// Events held until they can be released in order. Buffers are reused: no allocation per
/// event once they have grown to the working set (events of about [`SLACK_NS`]).
#[derive(Debug, Default)]
pub struct Reorder {
    arena: Vec<u8>,
    held: Vec<Held>,
    /// Bytes of `arena` whose events were released; reclaimed once they are half of it.
    dead: usize,
    /// False after a push: `held` needs sorting before the next release.
    sorted: bool,
    /// Spare arena for compaction (swapped with the live one).
    arena2: Vec<u8>,
    seq: u64,
}

impl Reorder {
    /// Hold a copy of one event. Its timestamp is the first 8 bytes (the header's `ts_ns`);
    /// an event shorter than that sorts first and fails decoding when released. Copies start
    /// 8-byte aligned within the arena, so the decoder can read most of them in place.
    pub fn push(&mut self, bytes: &[u8]) {
        let ts = bytes
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_ne_bytes)
            .unwrap_or(0);
        let off = self.arena.len().next_multiple_of(8);
        self.arena.resize(off, 0);
        self.held.push(Held {
            ts,
            seq: self.seq,
            off: off as u32,
            len: bytes.len() as u32,
        });
        self.seq += 1;
        self.arena.extend_from_slice(bytes);
        self.sorted = false;
    }

    /// Pass every held event stamped at or before `watermark` to `f`, oldest first (ties in
    /// arrival order), and keep the rest. Returns how many were released.
    pub fn release(&mut self, watermark: u64, mut f: impl FnMut(&[u8])) -> usize {
        if !self.sorted {
            // Sorted leftovers followed by one sorted run per ring: the stable sort finds
            // the runs and merges them in linear time.
            self.held.sort_by_key(|h| (h.ts, h.seq));
            self.sorted = true;
        }
        let n = self.held.partition_point(|h| h.ts <= watermark);
        for h in &self.held[..n] {
            f(&self.arena[h.off as usize..(h.off + h.len) as usize]);
            self.dead += (h.len as usize).next_multiple_of(8);
        }
        self.held.drain(..n);
        if self.held.is_empty() {
            self.arena.clear();
            self.dead = 0;
        } else if self.dead > self.arena.len() / 2 {
            // Copy the live events only once most of the arena is released ones: each byte
            // is copied a bounded number of times, not once per round it waits.
            self.arena2.clear();
            for h in &mut self.held {
                let off = self.arena2.len().next_multiple_of(8);
                self.arena2.resize(off, 0);
                self.arena2
                    .extend_from_slice(&self.arena[h.off as usize..(h.off + h.len) as usize]);
                h.off = off as u32;
            }
            std::mem::swap(&mut self.arena, &mut self.arena2);
            self.dead = 0;
        }
        n
    }
}

/// The watermark of one drain round: `now` is CLOCK_MONOTONIC sampled before the round,
/// `unfinished` the last timestamp read from each ring that was not drained to empty (its
/// later events may be older than those of the rings that were).
pub fn watermark(now: u64, unfinished: impl IntoIterator<Item = u64>) -> u64 {
    unfinished
        .into_iter()
        .fold(now.saturating_sub(SLACK_NS), |w, last| {
            w.min(last.saturating_sub(SLACK_NS))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ts: u64, tag: u8) -> Vec<u8> {
        let mut b = ts.to_ne_bytes().to_vec();
        b.push(tag);
        b
    }

    fn out(r: &mut Reorder, w: u64) -> Vec<(u64, u8)> {
        let mut v = Vec::new();
        r.release(w, |b| {
            v.push((u64::from_ne_bytes(b[..8].try_into().unwrap()), b[8]))
        });
        v
    }

    #[test]
    fn releases_in_time_order_up_to_the_watermark_and_keeps_the_rest() {
        let mut r = Reorder::default();
        // Ring 0 then ring 1, each in its own commit order.
        for (ts, tag) in [(10, b'a'), (30, b'c'), (50, b'e')] {
            r.push(&ev(ts, tag));
        }
        for (ts, tag) in [(20, b'b'), (40, b'd'), (60, b'f')] {
            r.push(&ev(ts, tag));
        }
        assert_eq!(
            out(&mut r, 40),
            [(10, b'a'), (20, b'b'), (30, b'c'), (40, b'd')]
        );
        assert_eq!(r.held.len(), 2);
        // A late event older than the held ones still comes out before them.
        r.push(&ev(45, b'x'));
        assert_eq!(out(&mut r, u64::MAX), [(45, b'x'), (50, b'e'), (60, b'f')]);
        assert!(r.held.is_empty() && r.arena.is_empty());
    }

    #[test]
    fn held_events_survive_compaction_and_the_arena_stays_bounded() {
        let mut r = Reorder::default();
        let mut got = Vec::new();
        // 1000 rounds: each pushes ts = 10 * round (+5 from a second ring) and releases all
        // but the last 20 timestamps, so events wait many rounds while the arena is reused.
        for round in 1..=1000u64 {
            r.push(&ev(10 * round, (round % 251) as u8));
            r.push(&ev(10 * round + 5, (round % 241) as u8));
            let w = (10 * round).saturating_sub(100);
            got.extend(out(&mut r, w));
            assert!(
                r.arena.len() <= 3 * 30 * 16,
                "arena grew to {}",
                r.arena.len()
            );
            assert!(r.held.iter().all(|h| h.off % 8 == 0), "unaligned copy");
        }
        got.extend(out(&mut r, u64::MAX));
        let want: Vec<(u64, u8)> = (1..=1000u64)
            .flat_map(|k| [(10 * k, (k % 251) as u8), (10 * k + 5, (k % 241) as u8)])
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn equal_timestamps_keep_arrival_order() {
        let mut r = Reorder::default();
        for tag in [b'1', b'2', b'3'] {
            r.push(&ev(7, tag));
        }
        assert_eq!(out(&mut r, 7), [(7, b'1'), (7, b'2'), (7, b'3')]);
    }

    #[test]
    fn a_short_event_is_released_first_not_lost() {
        let mut r = Reorder::default();
        r.push(&ev(5, b'a'));
        r.push(&[1, 2, 3]);
        let mut lens = Vec::new();
        r.release(5, |b| lens.push(b.len()));
        assert_eq!(lens, [3, 9]);
    }

    #[test]
    fn watermark_is_held_back_by_slack_and_by_unfinished_rings() {
        let now = 100 * SLACK_NS;
        assert_eq!(watermark(now, []), 99 * SLACK_NS);
        assert_eq!(watermark(now, [50 * SLACK_NS]), 49 * SLACK_NS);
        assert_eq!(watermark(5, [3]), 0);
    }
}
