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

mod backlog;
pub mod deliver;
mod disk;
mod frames;
mod mem;
mod outbox;

pub use backlog::Backlog;
pub use frames::Frames;
pub use outbox::{Outbox, Take};

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::config::{defaults, BacklogConfig, WhenFull};
use crate::pipeline::StageStats;
use disk::segment::{FRAME_HEADER, MAX_RECORD};
use disk::Disk;
use mem::MemQueue;

/// What a backlog's records hold; the disk buffer keeps it in its `format` file and refuses a
/// directory of the other kind (its records would be misread).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Records {
    /// Syslog messages, each framed as it goes on the wire.
    SyslogLines,
    /// Kafka messages: the key's length (u32, little-endian), the key, the payload.
    KafkaMessages,
    /// Kafka messages whose payload is a self-contained group of the `sysflow` encoding
    /// (`export::encode::sysflow::group`).
    KafkaSysflow,
}

impl Records {
    /// The `format` file's line.
    /// The most records and bytes handed to the transport at a time.
    pub fn chunk(self) -> (usize, usize) {
        match self {
            Records::SyslogLines => (CHUNK_RECORDS, CHUNK_BYTES),
            Records::KafkaMessages | Records::KafkaSysflow => {
                (ACKED_CHUNK_RECORDS, ACKED_CHUNK_BYTES)
            }
        }
    }

    pub fn tag(self) -> &'static str {
        match self {
            Records::SyslogLines => "syslog-lines 1",
            Records::KafkaMessages => "kafka-messages 1",
            Records::KafkaSysflow => "kafka-sysflow 1",
        }
    }
}

/// Records handed to the transport at a time, and bytes (one record may exceed it), for a
/// transport that writes a chunk at once (syslog: the TCP write confirms it).
pub const CHUNK_RECORDS: usize = 256;
pub const CHUNK_BYTES: usize = 1 << 20;
/// The same for a transport that waits for acknowledgements of the whole chunk (Kafka's
/// delivery reports, a broker round trip plus `linger.ms` per chunk): large enough that the
/// wait is paid once per many records, and the most a broker outage can send twice.
pub const ACKED_CHUNK_RECORDS: usize = 8192;
pub const ACKED_CHUNK_BYTES: usize = 8 << 20;
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
        if fits_mem && !self.down {
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

/// The exporter's side of a backlog.
pub struct Buffer {
    shared: Arc<Shared>,
    /// When the exporter first saw a stop request while blocked.
    stop_seen: Option<Instant>,
}

impl Buffer {
    /// Opens a backlog of `records` (recovering its disk buffer, when configured). `stop` is the pipeline's
    /// stop flag: an exporter blocked on a full backlog stops waiting
    /// [`defaults::BACKLOG_CLOSE_DEADLINE`] after it is set.
    pub fn open(
        cfg: &BacklogConfig,
        records: Records,
        stats: Arc<StageStats>,
        stop: Arc<AtomicBool>,
    ) -> anyhow::Result<(Buffer, Outbox)> {
        let mut disk = None;
        let mut confirmed = 0;
        if let Some(dir) = &cfg.path {
            let (d, rec) = Disk::open(dir, cfg.disk_max_bytes, records)
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
        let outbox = Outbox::new(shared.clone(), records.chunk());
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

    /// No more records come. The delivery thread delivers what it can before the close
    /// deadline and then keeps the rest on disk (with a disk buffer) or reports it dropped.
    /// With a disk buffer and the server down, what is in memory is written to disk now, so
    /// that nothing depends on the delivery thread finishing in time; with the server up it
    /// goes out from memory, as on the normal path.
    pub fn close(&self) {
        let sh = &self.shared;
        let mut st = lock(&sh.state);
        st.closing = Some(Instant::now());
        if st.down {
            st.spill(&sh.stats);
        }
        st.publish(&sh.stats);
        drop(st);
        sh.work.notify_all();
    }
}

#[cfg(test)]
mod tests;
