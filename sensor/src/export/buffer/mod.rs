//! The backlog of a network transport: where records wait until the server has taken them.
//!
//! ```text
//! exporter thread ──push──▶ Buffer ─┬─ memory (bytes ≤ backlog.maxbytes)  ─┐
//!                                   └─ disk segments (backlog.path)       ─┴─▶ Outbox ──▶ Sink (delivery thread)
//! ```
//!
//! Every record gets a sequence number when it is handed to the transport or written to disk.
//! The delivery thread ([`deliver::run`]) takes records in order ([`Outbox::take`]), sends
//! them through a [`deliver::Sink`] and confirms how far delivery got
//! ([`Outbox::confirm`]): only then is a record removed, from memory or from disk. A lost
//! connection sends the unconfirmed records again ([`Outbox::retry`]): at least once.
//!
//! Without `backlog.path` the backlog is memory only and `backlog.whenfull` applies when it is
//! full. With it, records go to memory while the server takes them and to disk when it does
//! not: on a lost connection the memory part is written to disk at once and later records go
//! straight there, as they do when memory is full, until everything on disk has been handed
//! out; `backlog.whenfull` then applies when the disk is full. Records on disk are delivered
//! first, so order is kept.

pub mod deliver;
mod disk;
mod frames;
mod mem;

pub use frames::Frames;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::config::{defaults, BacklogConfig, WhenFull};
use crate::pipeline::StageStats;
use disk::reader::{Damage, DiskReader, Read};
use disk::segment::{FRAME_HEADER, MAX_RECORD};
use disk::Disk;
use mem::MemQueue;

/// Records handed to the transport at a time, and bytes (one record may exceed it).
pub const CHUNK_RECORDS: usize = 256;
pub const CHUNK_BYTES: usize = 1 << 20;
/// How often the disk buffer's new data is synced to the device.
const SYNC_EVERY: Duration = Duration::from_secs(1);
/// A blocked exporter checks for a stop request this often.
const WAIT_SLICE: Duration = Duration::from_millis(100);

struct Shared {
    state: Mutex<State>,
    /// The delivery thread waits here for records.
    work: Condvar,
    /// A blocked exporter (`backlog.whenfull: block`) waits here for room.
    space: Condvar,
    stats: Arc<StageStats>,
    /// Set by SIGINT/SIGTERM: a blocked exporter stops waiting after the close deadline.
    stop: Arc<AtomicBool>,
    close_deadline: Duration,
}

struct State {
    max_bytes: u64,
    when_full: WhenFull,
    mem: MemQueue,
    disk: Option<Disk>,
    /// Sequence number the next record to be numbered gets.
    next_seq: u64,
    /// Every record numbered below is delivered (or was dropped).
    confirmed: u64,
    /// Every record numbered below was handed to the transport since the last retry.
    handed: u64,
    /// The transport cannot reach its server.
    down: bool,
    /// When the exporter closed the backlog (no more records come).
    closing: Option<Instant>,
    /// Staging area for moving memory to disk.
    spill: Frames,
}

enum Route {
    Memory,
    Disk,
    Full,
    TooLarge,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl State {
    /// One past the last record on disk (0 without a disk buffer).
    fn disk_end(&self) -> u64 {
        self.disk.as_ref().map_or(0, Disk::end)
    }

    fn route(&self, len: usize) -> Route {
        let fits_mem = (self.mem.byte_len() + len) as u64 <= self.max_bytes;
        let Some(d) = &self.disk else {
            return match () {
                _ if len as u64 > self.max_bytes => Route::TooLarge,
                _ if fits_mem => Route::Memory,
                _ => Route::Full,
            };
        };
        if len > MAX_RECORD {
            return Route::TooLarge;
        }
        if fits_mem && !self.down && self.closing.is_none() {
            return Route::Memory;
        }
        // Room for the memory part (moved first, to keep order) and this record.
        let need = (self.mem.byte_len() + (self.mem.len() + 1) * FRAME_HEADER + len) as u64;
        if d.room() >= need {
            Route::Disk
        } else {
            Route::Full
        }
    }

    /// Moves the memory part to disk, as much as fits; true when memory is then empty.
    fn spill(&mut self, stats: &StageStats) -> bool {
        if self.mem.is_empty() {
            return true;
        }
        let Some(disk) = self.disk.as_mut() else {
            return false;
        };
        self.spill.clear();
        let first = self.mem.copy_all(self.next_seq, &mut self.spill);
        let (n, res) = disk.append(first, self.spill.iter());
        self.mem.remove_front(n);
        self.next_seq = self.next_seq.max(first + n as u64);
        StageStats::add(&stats.backlog.persisted, n as u64);
        if let Err(e) = res {
            tracing::error!(
                "{}: disk buffer {}: write failed ({e}); {} records stay in memory",
                stats.label,
                disk.dir().display(),
                self.mem.len()
            );
        }
        self.mem.is_empty()
    }

    /// Records below `seq` are delivered.
    fn confirm(&mut self, seq: u64, stats: &StageStats) {
        if seq <= self.confirmed {
            return;
        }
        self.confirmed = seq;
        self.handed = self.handed.max(seq);
        self.mem.confirm(seq);
        if let Some(d) = self.disk.as_mut() {
            if let Err(e) = d.confirm(seq) {
                tracing::error!("{}: disk buffer {}: {e}", stats.label, d.dir().display());
            }
        }
    }

    /// Whether the delivery thread should stop: the close deadline has passed, or (with a
    /// disk buffer) the server is down and everything is on disk.
    fn give_up(&self, deadline: Duration) -> bool {
        self.closing.is_some_and(|t| {
            t.elapsed() >= deadline || (self.disk.is_some() && self.down && self.mem.is_empty())
        })
    }

    fn publish(&self, stats: &StageStats) {
        let b = &stats.backlog;
        let disk_owed = self.disk.as_ref().map_or(0, |d| d.owed(self.confirmed));
        let disk_bytes = self.disk.as_ref().map_or(0, Disk::bytes);
        b.records.store(self.mem.len() as u64 + disk_owed, Relaxed);
        b.bytes
            .store(self.mem.byte_len() as u64 + disk_bytes, Relaxed);
        b.disk_bytes.store(disk_bytes, Relaxed);
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

/// The exporter's side of a backlog.
pub struct Buffer {
    shared: Arc<Shared>,
    /// When the exporter first saw a stop request while blocked.
    stop_seen: Option<Instant>,
}

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
}

/// What [`Outbox::take`] got.
#[derive(Debug, PartialEq, Eq)]
pub enum Take {
    /// Records to send, in the frames given.
    Records,
    /// The backlog is closed and empty, or the close deadline has passed.
    Closed,
}

impl Buffer {
    /// Opens a backlog (recovering its disk buffer, when configured). `stop` is the pipeline's
    /// stop flag: an exporter blocked on a full backlog stops waiting
    /// [`defaults::BACKLOG_CLOSE_DEADLINE`] after it is set.
    pub fn open(
        cfg: &BacklogConfig,
        stats: Arc<StageStats>,
        stop: Arc<AtomicBool>,
    ) -> anyhow::Result<(Buffer, Outbox)> {
        let mut disk = None;
        let mut confirmed = 0;
        if let Some(dir) = &cfg.path {
            let (d, rec) = Disk::open(dir, cfg.disk_max_bytes)
                .with_context(|| format!("backlog.path {}", dir.display()))?;
            for note in &rec.notes {
                tracing::warn!("{}: disk buffer: {note}", stats.label);
            }
            if rec.records > 0 {
                tracing::info!(
                    "{}: disk buffer {}: {} records from an earlier run to deliver",
                    stats.label,
                    dir.display(),
                    rec.records
                );
            }
            confirmed = rec.confirmed;
            disk = Some(d);
        }
        let next_seq = disk.as_ref().map_or(0, |d| d.end().max(confirmed));
        let state = State {
            max_bytes: cfg.max_bytes,
            when_full: cfg.when_full,
            mem: MemQueue::new(cfg.max_bytes),
            disk,
            next_seq,
            confirmed,
            handed: confirmed,
            down: false,
            closing: None,
            spill: Frames::default(),
        };
        stats.backlog.enabled.store(true, Relaxed);
        state.publish(&stats);
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            work: Condvar::new(),
            space: Condvar::new(),
            stats,
            stop,
            close_deadline: defaults::BACKLOG_CLOSE_DEADLINE,
        });
        let outbox = Outbox {
            shared: shared.clone(),
            reader: DiskReader::default(),
            ends: Vec::new(),
            in_flight: false,
            last_sync: Instant::now(),
            reported: None,
        };
        Ok((
            Buffer {
                shared,
                stop_seen: None,
            },
            outbox,
        ))
    }

    /// Takes every record of `batch`, in order: into memory, onto disk, or, when the backlog
    /// is full, as `backlog.whenfull` says (dropping, counted, or waiting for room).
    pub fn push(&mut self, batch: &Frames) {
        if batch.is_empty() {
            return;
        }
        let sh = self.shared.clone();
        let stats = &sh.stats;
        let mut st = lock(&sh.state);
        let (lens, bytes) = (batch.lens(), batch.bytes());
        let (mut i, mut off) = (0usize, 0usize);
        let (mut full, mut late, mut large) = (0u64, 0u64, 0u64);
        while i < lens.len() {
            let len = lens[i] as usize;
            let route = st.route(len);
            match route {
                Route::Memory => {
                    st.mem.push(&bytes[off..off + len]);
                    i += 1;
                    off += len;
                    continue;
                }
                Route::TooLarge => {
                    large += 1;
                    i += 1;
                    off += len;
                    continue;
                }
                Route::Disk if st.spill(stats) => {
                    let first = st.next_seq;
                    let rest = lens[i..].iter().scan(off, |at, &n| {
                        let r = &bytes[*at..*at + n as usize];
                        *at += n as usize;
                        Some(r)
                    });
                    let Some(d) = st.disk.as_mut() else {
                        break;
                    };
                    let (n, res) = d.append(first, rest);
                    let failed = res.err().map(|e| (e, d.dir().to_owned()));
                    st.next_seq += n as u64;
                    StageStats::add(&stats.backlog.persisted, n as u64);
                    off += lens[i..i + n].iter().map(|&l| l as usize).sum::<usize>();
                    i += n;
                    if let Some((e, dir)) = failed {
                        // A failing disk: this record cannot be kept anywhere.
                        tracing::error!(
                            "{}: disk buffer {}: write failed ({e}); record dropped",
                            stats.label,
                            dir.display()
                        );
                        full += 1;
                        if let Some(&l) = lens.get(i) {
                            off += l as usize;
                            i += 1;
                        }
                        continue;
                    }
                    if n > 0 {
                        continue;
                    }
                }
                Route::Disk | Route::Full => {}
            }
            // Full.
            match st.when_full {
                WhenFull::DropNewest => {}
                WhenFull::DropOldest => {
                    // On disk, the oldest whole segment nothing was handed out from.
                    let handed = st.handed;
                    if let Some(Ok(Some((a, b)))) = st.disk.as_mut().map(|d| d.drop_oldest(handed))
                    {
                        full += b - a;
                        st.confirmed = st.confirmed.max(b);
                        st.handed = st.handed.max(b);
                        continue;
                    }
                    if let Some((_, seq)) = st.mem.drop_oldest() {
                        // A numbered record (handed out once, then retried) is no longer owed.
                        if let Some(seq) = seq {
                            st.confirm(seq + 1, stats);
                        }
                        full += 1;
                        continue;
                    }
                }
                WhenFull::Block => {
                    if sh.stop.load(Relaxed) {
                        let since = *self.stop_seen.get_or_insert_with(Instant::now);
                        if since.elapsed() >= sh.close_deadline {
                            late += 1;
                            off += len;
                            i += 1;
                            continue;
                        }
                    }
                    // What is already queued must go out while this waits.
                    st.publish(stats);
                    sh.work.notify_one();
                    st = sh
                        .space
                        .wait_timeout(st, WAIT_SLICE)
                        .map_or_else(|e| e.into_inner().0, |r| r.0);
                    continue;
                }
            }
            // Drop the arriving record.
            full += 1;
            off += len;
            i += 1;
        }
        st.publish(stats);
        let (max_bytes, disk) = (st.max_bytes, st.disk.as_ref().map(|d| d.dir().to_owned()));
        drop(st);
        sh.work.notify_one();
        self.note_drops(full, late, large, max_bytes, disk);
    }

    fn note_drops(&self, full: u64, late: u64, large: u64, max_bytes: u64, disk: Option<PathBuf>) {
        let stats = &self.shared.stats;
        let b = &stats.backlog;
        if full + late + large == 0 {
            return;
        }
        StageStats::add(&stats.dropped, full + late + large);
        StageStats::add(&b.dropped_full, full + large);
        StageStats::add(&b.dropped_shutdown, late);
        let before = b.dropped_full.load(Relaxed) - full - large;
        let after = before + full + large;
        if large > 0 {
            tracing::error!(
                "{}: {large} records larger than the backlog dropped",
                stats.label
            );
        }
        // Log the first drop and then every 10,000.
        if full > 0 && (before == 0 || after / 10_000 != before / 10_000) {
            let place = match &disk {
                Some(d) => format!("disk buffer {} full", d.display()),
                None => format!("backlog full ({max_bytes} bytes)"),
            };
            tracing::warn!(
                "{}: {place}: {after} records dropped so far (backlog.whenfull)",
                stats.label
            );
        }
        if late > 0 {
            tracing::error!(
                "{}: stopping with a full backlog: {late} records dropped",
                stats.label
            );
        }
    }

    /// No more records come: with a disk buffer, what is in memory is written to disk now,
    /// so that nothing depends on the delivery thread finishing in time. The delivery thread
    /// then delivers what it can before the close deadline and reports the rest.
    pub fn close(&self) {
        let sh = &self.shared;
        let mut st = lock(&sh.state);
        st.closing = Some(Instant::now());
        st.spill(&sh.stats);
        st.publish(&sh.stats);
        drop(st);
        sh.work.notify_all();
    }
}

impl Outbox {
    /// Waits for records and puts the next ones in order into `out` (at most
    /// [`CHUNK_RECORDS`] or about [`CHUNK_BYTES`]). They stay in the backlog until
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
                    (CHUNK_RECORDS, CHUNK_BYTES),
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
            while out.len() < CHUNK_RECORDS && out.byte_len() < CHUNK_BYTES {
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

#[cfg(test)]
mod tests;
