//! `export: kafka`: every encoded record (or, with `kafka.encoding: sysflow`, every datum of
//! the stream) is one message to `kafka.topic`, keyed by node or container ([`key`]), through
//! librdkafka (`kafka.config` holds its properties; defaults in `config::defaults`).
//!
//! Delivery: librdkafka batches (`linger.ms`), compresses (lz4 by default), retries and
//! reconnects on its own threads; with one request in flight per broker (the default) each
//! partition keeps its order across retries (a retry may deliver a message twice). Each message carries a sequence number and whether it is a record's
//! own message (not an entity of the `sysflow` stream); its delivery report goes to a
//! [`Delivery`] sink (the disk buffer, [`buffered`], has a producer of its own that awaits
//! each chunk's reports instead).
//! The default sink counts: `out` = records the broker acknowledged, `export_errors` =
//! records that failed (e.g. `message.timeout.ms`, 5 min, elapsed while the brokers were
//! away), `dropped` = records never handed to the broker (backlog full, or still queued at
//! shutdown; also in `dropped_full`, `dropped_shutdown`), `retried` = produce requests
//! librdkafka sent again.
//!
//! Backlog: librdkafka's queue is the exporter's memory backlog, bounded by
//! `queue.buffering.max.kbytes` (= `backlog.maxbytes`, 64 MiB by default) and
//! `queue.buffering.max.messages` (100,000). When it is full, `backlog.whenfull` says what
//! happens: `drop_newest` (the default) waits while the brokers drain it (backpressure, up to
//! [`FULL_WAIT`]); once that wait has run out, records that find the queue full are dropped
//! and counted at once, until a send succeeds again, so a broker outage never stalls the
//! pipeline nor grows memory. `block` waits for room as long as it takes (the pipeline slows
//! down back to the source), until [`defaults::BACKLOG_CLOSE_DEADLINE`] after a stop
//! request. librdkafka cannot give up its oldest queued message, so there is no
//! `drop_oldest`. `close` flushes for up to [`CLOSE_DEADLINE`] and counts what is left as
//! dropped.
//!
//! With `backlog.path` the exporter uses [`buffered`] instead: the backlog of
//! `export::buffer`, with a disk buffer, released by the delivery reports (the `sysflow`
//! encoding as self-contained groups, whose streams [`streams`] starts over after any gap).

pub mod buffered;
pub mod key;
pub mod streams;

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::statistics::Statistics;

use super::Transport;
use crate::config::{defaults, kafka::librdkafka_log, BacklogConfig, KafkaExport, WhenFull};
use crate::pipeline::StageStats;

/// How long a record waits for room in a full backlog before records start to be dropped.
pub const FULL_WAIT: Duration = Duration::from_secs(2);
/// How long `close` waits for the brokers to acknowledge what is queued.
pub const CLOSE_DEADLINE: Duration = Duration::from_secs(10);

/// What became of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The broker acknowledged it (per `acks`).
    Delivered,
    /// It will not be delivered (timed out, rejected by the broker, …).
    Failed,
    /// Still queued at shutdown and given up.
    Purged,
}

/// Receives every message's delivery report, on librdkafka's polling thread.
pub trait Delivery: Send + Sync {
    /// `seq` numbers messages from 1 in the order they were sent; `record` is false for the
    /// entity messages of a `sysflow` stream (the event's own message follows them).
    fn report(&self, seq: u64, record: bool, outcome: Outcome, err: Option<&KafkaError>);
}

/// The default sink: counts into the exporter's stage counters, and logs failures.
pub struct Counting {
    pub stats: Arc<StageStats>,
}

impl Delivery for Counting {
    fn report(&self, _seq: u64, record: bool, outcome: Outcome, err: Option<&KafkaError>) {
        if record {
            match outcome {
                Outcome::Delivered => StageStats::add(&self.stats.output, 1),
                Outcome::Failed => StageStats::add(&self.stats.export_errors, 1),
                Outcome::Purged => {
                    StageStats::add(&self.stats.dropped, 1);
                    StageStats::add(&self.stats.backlog.dropped_shutdown, 1);
                }
            }
        }
        if let (Outcome::Failed, Some(e)) = (outcome, err) {
            let n = self.stats.export_errors.load(Relaxed);
            if n <= 10 || n.is_multiple_of(10_000) {
                tracing::error!(
                    "{}: Kafka message not delivered: {e} ({n} records failed so far)",
                    self.stats.label
                );
            }
        }
    }
}

/// `retried` = the produce requests librdkafka sent again, from its statistics.
fn note_retries(stats: &StageStats, s: &Statistics) {
    let retries: u64 = s.brokers.values().map(|b| b.txretries).sum();
    stats.retried.fetch_max(retries, Relaxed);
}

/// The producer's context: delivery reports to the sink, statistics to `retried`, client
/// errors to the log once per outage.
struct Ctx {
    sink: Arc<dyn Delivery>,
    stats: Arc<StageStats>,
    /// Messages handed to librdkafka and not yet reported; `record`s only.
    queued: AtomicU64,
    /// The brokers are known to be unreachable (logged once until a delivery succeeds).
    down: AtomicBool,
}

impl ClientContext for Ctx {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, msg: &str) {
        librdkafka_log(&self.stats.label, level, fac, msg);
    }

    fn stats(&self, s: Statistics) {
        note_retries(&self.stats, &s);
        // The backlog's gauges, once a second: records (their entity messages aside) and the
        // bytes librdkafka holds.
        let b = &self.stats.backlog;
        b.records.store(self.queued.load(Relaxed), Relaxed);
        b.bytes.store(s.msg_size, Relaxed);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let all_down = error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown);
        if !all_down {
            tracing::warn!("{}: Kafka: {error}: {reason}", self.stats.label);
        } else if !self.down.swap(true, Relaxed) {
            tracing::warn!(
                "{}: Kafka brokers unreachable ({reason}); holding records and reconnecting",
                self.stats.label
            );
        }
    }
}

impl ProducerContext for Ctx {
    type DeliveryOpaque = usize;

    fn delivery(&self, r: &DeliveryResult<'_>, opaque: usize) {
        let (seq, record) = ((opaque >> 1) as u64, opaque & 1 == 1);
        let (outcome, err) = match r {
            Ok(_) => {
                if self.down.swap(false, Relaxed) {
                    tracing::info!("{}: Kafka brokers reachable again", self.stats.label);
                }
                (Outcome::Delivered, None)
            }
            Err((e, _)) => match e.rdkafka_error_code() {
                Some(RDKafkaErrorCode::PurgeQueue | RDKafkaErrorCode::PurgeInflight) => {
                    (Outcome::Purged, Some(e))
                }
                _ => (Outcome::Failed, Some(e)),
            },
        };
        if record {
            self.queued.fetch_sub(1, Relaxed);
        }
        self.sink.report(seq, record, outcome, err);
    }
}

/// The Kafka transport.
pub struct Kafka {
    producer: ThreadedProducer<Ctx>,
    topic: String,
    seq: u64,
    full: WhenFullState,
    stats: Arc<StageStats>,
}

/// `backlog.whenfull` (`DropNewest` or `Block`) and what it has to remember.
struct WhenFullState {
    when_full: WhenFull,
    /// Since when the backlog has been found full with no send succeeding, if it has.
    since: Option<Instant>,
    /// The pipeline's stop flag, and when a blocked send first saw it set.
    stop: Arc<AtomicBool>,
    stop_seen: Option<Instant>,
}

impl WhenFullState {
    /// The backlog is full: waits a little for room and returns `None` to try again, or
    /// says why the message goes (`backlog.whenfull`).
    fn wait(&mut self) -> Option<Lost> {
        let since = *self.since.get_or_insert_with(Instant::now);
        match self.when_full {
            // Wait for room while the brokers drain the backlog; drop once it has stayed
            // full for FULL_WAIT (the brokers are away).
            WhenFull::DropNewest | WhenFull::DropOldest => {
                if since.elapsed() >= FULL_WAIT {
                    return Some(Lost::Full);
                }
            }
            WhenFull::Block => {
                if self.stop.load(Relaxed) {
                    let seen = *self.stop_seen.get_or_insert_with(Instant::now);
                    if seen.elapsed() >= defaults::BACKLOG_CLOSE_DEADLINE {
                        return Some(Lost::Shutdown);
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(5));
        None
    }
}

/// Why a message was not queued; the record it belongs to is counted once, by reason.
enum Lost {
    Full,
    Shutdown,
    Refused,
}

impl Kafka {
    /// Creates the producer with the default counting sink; brokers are connected lazily, so
    /// one that is not up yet only delays delivery. `backlog` is the exporter's (its bytes
    /// are already librdkafka's `queue.buffering.max.kbytes`); `stop` the pipeline's stop
    /// flag, which ends a blocked wait after the close deadline.
    pub fn start(
        cfg: &KafkaExport,
        backlog: &BacklogConfig,
        stats: Arc<StageStats>,
        stop: Arc<AtomicBool>,
    ) -> anyhow::Result<Kafka> {
        let sink = Arc::new(Counting {
            stats: stats.clone(),
        });
        Kafka::with_sink(cfg, backlog, stats, stop, sink)
    }

    /// Creates the producer with delivery reports going to `sink`.
    pub fn with_sink(
        cfg: &KafkaExport,
        backlog: &BacklogConfig,
        stats: Arc<StageStats>,
        stop: Arc<AtomicBool>,
        sink: Arc<dyn Delivery>,
    ) -> anyhow::Result<Kafka> {
        let ctx = Ctx {
            sink,
            stats: stats.clone(),
            queued: AtomicU64::new(0),
            down: AtomicBool::new(false),
        };
        let producer = cfg
            .props
            .client_config()
            .create_with_context(ctx)
            .map_err(|e| anyhow::anyhow!("cannot create the Kafka producer: {e}"))?;
        stats.backlog.enabled.store(true, Relaxed);
        Ok(Kafka {
            producer,
            topic: cfg.topic.clone(),
            seq: 0,
            full: WhenFullState {
                when_full: backlog.when_full,
                since: None,
                stop,
                stop_seen: None,
            },
            stats,
        })
    }

    /// Queues one message; `record` as in [`Delivery::report`]. Returns false when it was not
    /// queued: the backlog stayed full, or it is refused. The record it belongs to (this
    /// message, or the record that follows this entity) is then counted, once, here.
    fn produce(&mut self, key: &[u8], payload: &[u8], record: bool) -> bool {
        self.seq += 1;
        let opaque = (self.seq as usize) << 1 | usize::from(record);
        let mut rec = BaseRecord::with_opaque_to(&self.topic, opaque).payload(payload);
        if !key.is_empty() {
            rec = rec.key(key);
        }
        let ctx = self.producer.context().clone();
        if record {
            ctx.queued.fetch_add(1, Relaxed);
        }
        let lost = loop {
            match self.producer.send(rec) {
                Ok(()) => {
                    self.full.since = None;
                    return true;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    if let Some(why) = self.full.wait() {
                        break why;
                    }
                    rec = back;
                }
                Err((e, _)) => {
                    // Too large, unknown topic, …: this message can never go.
                    tracing::error!("{}: Kafka message refused: {e}", self.stats.label);
                    break Lost::Refused;
                }
            }
        };
        if record {
            ctx.queued.fetch_sub(1, Relaxed);
        }
        self.count_lost(lost);
        false
    }

    /// Counts a record lost before librdkafka took it, and logs the first and every
    /// 10,000th.
    fn count_lost(&self, lost: Lost) {
        let s = &self.stats;
        let (counter, what) = match lost {
            Lost::Refused => {
                StageStats::add(&s.export_errors, 1);
                return;
            }
            Lost::Full => (&s.backlog.dropped_full, "backlog full (backlog.whenfull)"),
            Lost::Shutdown => (&s.backlog.dropped_shutdown, "stopping with a full backlog"),
        };
        StageStats::add(&s.dropped, 1);
        let n = counter.fetch_add(1, Relaxed) + 1;
        if n == 1 || n.is_multiple_of(10_000) {
            tracing::warn!("{}: Kafka {what}: {n} records dropped so far", s.label);
        }
    }
}

impl Transport for Kafka {
    fn send(&mut self, doc: &[u8]) -> io::Result<()> {
        self.produce(&[], doc, true);
        Ok(())
    }

    fn send_keyed(&mut self, key: &[u8], doc: &[u8], record: bool) -> io::Result<bool> {
        Ok(self.produce(key, doc, record))
    }

    /// librdkafka sends on its own (`linger.ms`); waiting for acknowledgements here would
    /// serialize the exporter on the round trip.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn confirms_delivery(&self) -> bool {
        true
    }

    fn close(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + CLOSE_DEADLINE;
        while self.producer.in_flight_count() > 0 && Instant::now() < deadline {
            let _ = self.producer.flush(Duration::from_millis(200));
        }
        let left = self.producer.in_flight_count();
        if left > 0 {
            // Purged messages are reported (as dropped) by the polling thread.
            self.producer
                .purge(rdkafka::producer::PurgeConfig::default().queue().inflight());
            let _ = self.producer.flush(Duration::from_secs(1));
            tracing::error!(
                "{}: gave up at shutdown; {left} Kafka messages not delivered",
                self.stats.label
            );
        }
        // Reports that never came (the polling thread gone): count their records too.
        let lost = self.producer.context().queued.swap(0, Relaxed);
        StageStats::add(&self.stats.dropped, lost);
        StageStats::add(&self.stats.backlog.dropped_shutdown, lost);
        self.stats.backlog.records.store(0, Relaxed);
        self.stats.backlog.bytes.store(0, Relaxed);
        let d = self.stats.dropped.load(Relaxed);
        if d > 0 {
            tracing::warn!("{}: {d} records were dropped in total", self.stats.label);
        }
        Ok(())
    }
}
