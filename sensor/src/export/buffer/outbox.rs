//! The delivery thread's side of a backlog: records taken in order (disk first, then memory),
//! confirmed or taken back, the transport's reachability, and the report at the end.

use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use super::disk;
use super::disk::reader::{Damage, DiskReader, Read};
use super::{lock, Frames, Shared, State, SYNC_EVERY};
use crate::pipeline::StageStats;

/// The delivery thread's side of a backlog.
pub struct Outbox {
    shared: Arc<Shared>,
    reader: DiskReader,
    /// For each record of the last chunk, the number to confirm through once it is delivered.
    ends: Vec<u64>,
    /// Records of the last chunk not yet confirmed or retried.
    in_flight: bool,
    last_sync: Instant,
    /// The furthest damage reported ([`Damage::at`]).
    reported: Option<(u64, usize)>,
    /// The most records and bytes in a chunk ([`super::Records::chunk`]).
    chunk: (usize, usize),
}

/// What [`Outbox::take`] got.
#[derive(Debug, PartialEq, Eq)]
pub enum Take {
    /// Records to send, in the frames given.
    Records,
    /// The backlog is closed and empty, or the close deadline has passed.
    Closed,
}

impl Outbox {
    pub(super) fn new(shared: Arc<Shared>, chunk: (usize, usize)) -> Outbox {
        Outbox {
            chunk,
            shared,
            reader: DiskReader::default(),
            ends: Vec::new(),
            in_flight: false,
            last_sync: Instant::now(),
            reported: None,
        }
    }

    /// Waits for records and puts the next ones in order into `out` (at most the chunk's
    /// records or about its bytes, [`super::Records::chunk`]). They stay in the backlog until
    /// [`Outbox::confirm`]ed.
    pub fn take(&mut self, out: &mut Frames) -> Take {
        out.clear();
        self.ends.clear();
        let sh = self.shared.clone();
        let mut st = lock(&sh.state);
        loop {
            if st.give_up(sh.close_deadline) {
                return Take::Closed;
            }
            // Disk first: its records are older.
            if st.handed < st.disk_end() {
                let seg = st.disk.as_ref().and_then(|d| d.segment_of(st.handed));
                let Some(seg) = seg else {
                    // Before the oldest segment: those records were confirmed or dropped.
                    let first = st.disk.as_ref().and_then(|d| d.first()).unwrap_or(0);
                    st.handed = st.handed.max(first);
                    continue;
                };
                if self.reader.needs_load(&seg) {
                    if !out.is_empty() {
                        break;
                    }
                    drop(st);
                    let res = self.reader.load(&seg);
                    st = lock(&sh.state);
                    if let Err(e) = res {
                        self.unreadable(&mut st, &seg, e);
                    }
                    continue;
                }
                let mut handed = st.handed;
                let mut damage = Vec::new();
                let r = self.reader.read(
                    &seg,
                    &mut handed,
                    out,
                    &mut self.ends,
                    self.chunk,
                    &mut |d| damage.push(d),
                );
                st.handed = handed;
                for d in damage {
                    self.report(d);
                }
                match r {
                    Read::Full => break,
                    Read::NeedLoad | Read::SegmentDone => continue,
                }
            }
            // Then memory.
            while out.len() < self.chunk.0 && out.byte_len() < self.chunk.1 {
                let next = st.next_seq;
                let Some((seq, fresh)) = st.mem.hand_out(next, out) else {
                    break;
                };
                if fresh {
                    st.next_seq += 1;
                }
                st.handed = seq + 1;
                self.ends.push(seq + 1);
            }
            if !out.is_empty() {
                break;
            }
            if !self.in_flight && st.handed > st.confirmed {
                // Only lost records were passed over: nothing to deliver for them.
                let h = st.handed;
                st.confirm(h, &sh.stats);
                st.publish(&sh.stats);
            }
            if st.closing.is_some() {
                return Take::Closed;
            }
            st = sh
                .work
                .wait_timeout(st, SYNC_EVERY)
                .map_or_else(|e| e.into_inner().0, |r| r.0);
            st = sync_if_due(&mut self.last_sync, &sh, st);
        }
        drop(st);
        self.in_flight = true;
        Take::Records
    }

    /// The first `n` records of the last [`Outbox::take`] are delivered: they (and records
    /// found lost right after them) leave the backlog.
    pub fn confirm(&mut self, n: usize) {
        let sh = self.shared.clone();
        let mut st = lock(&sh.state);
        if let Some(&through) = self.ends.get(n.wrapping_sub(1)) {
            st.confirm(through, &sh.stats);
        }
        if n >= self.ends.len() {
            self.in_flight = false;
        }
        if st.disk.as_ref().is_some_and(|d| d.owed(st.confirmed) == 0) {
            self.reader.reset();
        }
        st.publish(&sh.stats);
        let st = sync_if_due(&mut self.last_sync, &sh, st);
        drop(st);
        sh.space.notify_all();
    }

    /// The connection was lost: records handed out and not confirmed are taken again.
    pub fn retry(&mut self) {
        let mut st = lock(&self.shared.state);
        st.handed = st.confirmed;
        st.mem.retry();
        self.in_flight = false;
    }

    /// Whether the transport can reach its server. While it cannot, a disk buffer takes
    /// every record (the memory part is written to disk at once).
    pub fn set_reachable(&mut self, up: bool) {
        let sh = &self.shared;
        let mut st = lock(&sh.state);
        if st.down != up {
            return;
        }
        st.down = !up;
        if !up {
            st.spill(&sh.stats);
            st.publish(&sh.stats);
        }
    }

    /// Sleeps for `d` (a reconnection back-off), waking early when the backlog closes.
    /// Returns false once the delivery thread should give up.
    pub fn wait(&mut self, d: Duration) -> bool {
        let sh = self.shared.clone();
        let until = Instant::now() + d;
        let mut st = lock(&sh.state);
        loop {
            if st.give_up(sh.close_deadline) {
                return false;
            }
            let now = Instant::now();
            if now >= until {
                return true;
            }
            let mut slice = (until - now).min(SYNC_EVERY);
            if let Some(t) = st.closing {
                slice = slice.min((t + sh.close_deadline).saturating_duration_since(now));
            }
            st = sh
                .work
                .wait_timeout(st, slice.max(Duration::from_millis(1)))
                .map_or_else(|e| e.into_inner().0, |r| r.0);
            st = sync_if_due(&mut self.last_sync, &sh, st);
        }
    }

    /// At the end of delivery (closed and empty, or given up): says what happened to the
    /// records left — kept on disk for the next start, or dropped and counted.
    pub fn finish(mut self, peer: &str) {
        let sh = self.shared.clone();
        let stats = &sh.stats;
        let mut st = lock(&sh.state);
        st.spill(stats);
        let left_in_mem = st.mem.len() as u64;
        let mem_bytes = st.mem.byte_len();
        let n = st.mem.len();
        st.mem.remove_front(n);
        if left_in_mem > 0 {
            StageStats::add(&stats.dropped, left_in_mem);
            StageStats::add(&stats.backlog.dropped_shutdown, left_in_mem);
            tracing::error!(
                "{}: gave up at shutdown; {left_in_mem} records ({mem_bytes} bytes) not delivered to {peer}, dropped",
                stats.label
            );
        }
        if let Some(d) = &st.disk {
            let owed = d.owed(st.confirmed);
            if owed > 0 {
                tracing::warn!(
                    "{}: shutdown: {owed} records kept in the disk buffer {} for the next start ({} not reachable or not done in time)",
                    stats.label,
                    d.dir().display(),
                    peer
                );
            } else {
                tracing::info!("{}: shutdown: every record delivered", stats.label);
            }
        }
        st.publish(stats);
        self.last_sync = Instant::now() - SYNC_EVERY;
        drop(sync_if_due(&mut self.last_sync, &sh, st));
    }

    /// A segment that cannot be read at all: its records are lost.
    fn unreadable(&mut self, st: &mut State, seg: &disk::SegmentInfo, e: std::io::Error) {
        self.reader.reset();
        let still = st.disk.as_ref().and_then(|d| d.segment_of(st.handed));
        if still.is_some_and(|s| s.first == seg.first) {
            let lost = st.handed..seg.end;
            st.handed = seg.end;
            self.report(Damage {
                at: (seg.first, 0),
                what: format!(
                    "{}: cannot be read ({e}); records {}..{} lost",
                    seg.path.display(),
                    lost.start,
                    lost.end
                ),
                lost,
            });
        }
    }

    /// Logs damage found in the disk buffer once, and counts the records it cost.
    fn report(&mut self, d: Damage) {
        if self.reported.is_some_and(|r| d.at <= r) {
            return;
        }
        self.reported = Some(d.at);
        let stats = &self.shared.stats;
        let n = d.lost.end - d.lost.start;
        StageStats::add(&stats.dropped, n);
        StageStats::add(&stats.backlog.dropped_corrupt, n);
        tracing::warn!("{}: disk buffer: {}", stats.label, d.what);
    }
}

/// Syncs the disk buffer's new data if a second has passed since `last` (unlocked while
/// syncing).
fn sync_if_due<'a>(
    last: &mut Instant,
    sh: &'a Shared,
    mut st: MutexGuard<'a, State>,
) -> MutexGuard<'a, State> {
    if last.elapsed() < SYNC_EVERY {
        return st;
    }
    *last = Instant::now();
    let Some(d) = st.disk.as_mut() else {
        return st;
    };
    let files = d.take_unsynced();
    drop(st);
    for f in files {
        let _ = f.sync_data();
    }
    lock(&sh.state)
}
