//! `export: kafka`: every encoded record (or, with `kafka.encoding: sysflow`, every datum of
//! the stream) is one message to `kafka.topic`, keyed by node or container ([`key`]), through
//! librdkafka (`kafka.config` holds its properties; defaults in `config::defaults`).
//!
//! Delivery: librdkafka batches (`linger.ms`), compresses (lz4 by default), retries and
//! reconnects on its own threads; with one request in flight per broker (the default) each
//! partition keeps its order across retries (a retry may deliver a message twice). Each message carries a sequence number and whether it is a record's
//! own message (not an entity of the `sysflow` stream); its delivery report goes to a
//! [`Delivery`] sink — the seam a disk buffer can use to release what the broker confirmed.
//! The default sink counts: `out` = records the broker acknowledged, `export_errors` =
//! records that failed (e.g. `message.timeout.ms`, 5 min, elapsed while the brokers were
//! away), `dropped` = records never handed to the broker (backlog full, or still queued at
//! shutdown), `retried` = produce requests librdkafka sent again.
//!
//! Backlog: librdkafka's queue holds at most `queue.buffering.max.messages` messages and
//! `queue.buffering.max.kbytes` (100,000 and 64 MiB by default). When it is full the exporter
//! waits while the brokers drain it (backpressure, up to [`FULL_WAIT`]); once that wait has
//! run out, records that find the queue full are dropped and counted at once, until a send
//! succeeds again, so a broker outage never stalls the pipeline nor grows memory.
//! `close` flushes for up to [`CLOSE_DEADLINE`] and counts what is left as dropped.

pub mod key;

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
use crate::config::{kafka::librdkafka_log, KafkaExport};
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
        let c = match outcome {
            Outcome::Delivered => &self.stats.output,
            Outcome::Failed => &self.stats.export_errors,
            Outcome::Purged => &self.stats.dropped,
        };
        if record {
            c.fetch_add(1, Relaxed);
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
        let retries: u64 = s.brokers.values().map(|b| b.txretries).sum();
        self.stats.retried.fetch_max(retries, Relaxed);
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
    /// Since when the backlog has been found full with no send succeeding, if it has.
    full_since: Option<Instant>,
    stats: Arc<StageStats>,
}

impl Kafka {
    /// Creates the producer with the default counting sink; brokers are connected lazily, so
    /// one that is not up yet only delays delivery.
    pub fn start(cfg: &KafkaExport, stats: Arc<StageStats>) -> anyhow::Result<Kafka> {
        let sink = Arc::new(Counting {
            stats: stats.clone(),
        });
        Kafka::with_sink(cfg, stats, sink)
    }

    /// Creates the producer with delivery reports going to `sink`.
    pub fn with_sink(
        cfg: &KafkaExport,
        stats: Arc<StageStats>,
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
        Ok(Kafka {
            producer,
            topic: cfg.topic.clone(),
            seq: 0,
            full_since: None,
            stats,
        })
    }

    /// Queues one message; `record` as in [`Delivery::report`]. Returns false when it was
    /// dropped (counted) because the backlog stayed full.
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
        loop {
            match self.producer.send(rec) {
                Ok(()) => {
                    self.full_since = None;
                    return true;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // Wait for room while the brokers drain the backlog; drop once it has
                    // stayed full for FULL_WAIT (the brokers are away).
                    let since = *self.full_since.get_or_insert_with(Instant::now);
                    if since.elapsed() < FULL_WAIT {
                        std::thread::sleep(Duration::from_millis(5));
                        rec = back;
                        continue;
                    }
                }
                Err((e, _)) => {
                    // Too large, unknown topic, …: this message can never go.
                    tracing::error!("{}: Kafka message refused: {e}", self.stats.label);
                    if record {
                        ctx.queued.fetch_sub(1, Relaxed);
                        StageStats::add(&self.stats.export_errors, 1);
                    }
                    return false;
                }
            }
            if record {
                ctx.queued.fetch_sub(1, Relaxed);
                let before = self.stats.dropped.fetch_add(1, Relaxed);
                if before == 0 || (before + 1).is_multiple_of(10_000) {
                    tracing::warn!(
                        "{}: Kafka backlog full, dropped {} records so far",
                        self.stats.label,
                        before + 1
                    );
                }
            }
            return false;
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
        let d = self.stats.dropped.load(Relaxed);
        if d > 0 {
            tracing::warn!("{}: {d} records were dropped in total", self.stats.label);
        }
        Ok(())
    }
}
