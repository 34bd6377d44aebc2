//! `export: kafka` with `backlog.path`.
//!
//! The exporter packs each message (key and payload, [`pack`]) into the backlog of
//! `export::buffer` — memory, and the disk buffer's segments while the brokers are away — and
//! a delivery thread ([`deliver::run`]) produces it through [`KafkaSink`]: a chunk of records
//! is produced in order, and the chunk's delivery reports are awaited; the records leave the
//! backlog (memory or disk) only as far as the reports confirm them in order. A chunk that
//! gets no report for [`STALL`] means the brokers are unreachable: what librdkafka still holds
//! of it is purged (a message already sent may still be written: a duplicate, never a loss),
//! the unconfirmed records are taken back, the backlog moves to disk, and the sink retries
//! with a metadata request until the brokers answer again. So a record accepted with a disk
//! buffer survives a broker outage, a restart and a `kill -9` of the sensor once it is on
//! disk (docs/run.md, "Delivery guarantees").
//!
//! With the `sysflow` encoding a record is a self-contained group (`encode::sysflow::group`:
//! the header, every entity the event needs, the event), and the sink sends of it only what
//! the key's stream has not carried ([`Streams`]); a record counts as confirmed when its own
//! message and the messages sent for it are. Whenever a chunk is not confirmed in full, or the
//! brokers are lost, every stream starts over (header, then entities again), as it does after
//! a restart: the sink cannot know then what consumers have. So no record reaches a consumer
//! without its entities, whatever gap (outage, restart, skipped segment) came before it.

use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{
    BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext, PurgeConfig,
};
use rdkafka::statistics::Statistics;

use super::super::Transport;
use super::streams::Streams;
use crate::config::{kafka::librdkafka_log, BacklogConfig, KafkaEncoding, KafkaExport};
use crate::export::buffer::deliver::{Sent, Sink};
use crate::export::buffer::{Backlog, Frames, Records, ACKED_CHUNK_RECORDS};
use crate::export::encode::sysflow::group;
use crate::pipeline::StageStats;

/// How long a chunk may wait with no delivery report before the brokers count as away.
pub const STALL: Duration = Duration::from_secs(5);
/// How long a reconnection's metadata request waits for an answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Delivery reports are collected this often while a chunk is out.
const POLL: Duration = Duration::from_millis(5);
/// A message's opaque value: whether it is a record's own message (the lowest bit), the
/// record's index in its chunk (the next bits), the chunk's number (the rest: late reports
/// of an earlier chunk are ignored).
const INDEX_BITS: u32 = 16;
const _: () = assert!(ACKED_CHUNK_RECORDS < 1 << INDEX_BITS);

/// Appends one message as a backlog record: the key's length (u32, little-endian), the key,
/// the payload ([`Records::KafkaMessages`]).
pub fn pack(key: &[u8], payload: &[u8], out: &mut Frames) {
    out.push_with(|b| {
        b.extend_from_slice(&(key.len() as u32).to_le_bytes());
        b.extend_from_slice(key);
        b.extend_from_slice(payload);
    });
}

/// The key and payload of a backlog record; `None` when it is not one [`pack`] wrote.
pub fn unpack(rec: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = rec.split_first_chunk::<4>()?;
    let len = u32::from_le_bytes(*len) as usize;
    (len <= rest.len()).then(|| rest.split_at(len))
}

/// The Kafka transport with a backlog of its own: packs on the exporter thread, produces on
/// the delivery thread.
pub struct Buffered {
    backlog: Backlog,
}

impl Buffered {
    /// Creates the producer, opens the backlog (recovering its disk buffer) and starts the
    /// delivery thread, which delivers what an earlier run left first.
    pub fn start(
        cfg: &KafkaExport,
        backlog: &BacklogConfig,
        stats: Arc<StageStats>,
        stop: Arc<AtomicBool>,
    ) -> anyhow::Result<Buffered> {
        let sink = KafkaSink::new(cfg, stats.clone())?;
        let records = match cfg.encoding {
            KafkaEncoding::Sysflow => Records::KafkaSysflow,
            KafkaEncoding::Json => Records::KafkaMessages,
        };
        let backlog = Backlog::start(backlog, records, sink, stats, stop, "kafka-writer")?;
        Ok(Buffered { backlog })
    }
}

impl Transport for Buffered {
    fn send(&mut self, doc: &[u8]) -> io::Result<()> {
        pack(&[], doc, self.backlog.local());
        Ok(())
    }

    /// Every message is a record here (the `sysflow` encoding's come as groups).
    fn send_keyed(&mut self, key: &[u8], doc: &[u8], _record: bool) -> io::Result<bool> {
        pack(key, doc, self.backlog.local());
        Ok(true)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.backlog.flush();
        Ok(())
    }

    /// `out` is counted from the delivery reports.
    fn confirms_delivery(&self) -> bool {
        true
    }

    fn close(&mut self) -> io::Result<()> {
        self.backlog.close();
        Ok(())
    }
}

/// The delivery reports of the chunk out now.
#[derive(Default)]
struct Reports {
    /// The chunk's number.
    chunk: u64,
    /// Per record: not reported yet, delivered, or failed with this error.
    outcomes: Vec<Option<Result<(), KafkaError>>>,
    /// Per record: the first failure of a message sent for it (a header or an entity).
    entity_failed: Vec<Option<KafkaError>>,
    /// Reports received.
    got: usize,
}

struct SinkCtx {
    stats: Arc<StageStats>,
    reports: Mutex<Reports>,
}

fn lock(m: &Mutex<Reports>) -> MutexGuard<'_, Reports> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ClientContext for SinkCtx {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, msg: &str) {
        librdkafka_log(&self.stats.label, level, fac, msg);
    }

    fn stats(&self, s: Statistics) {
        super::note_retries(&self.stats, &s);
    }

    /// An outage is logged once by the delivery thread; other client errors here.
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() != Some(RDKafkaErrorCode::AllBrokersDown) {
            tracing::warn!("{}: Kafka: {error}: {reason}", self.stats.label);
        }
    }
}

impl ProducerContext for SinkCtx {
    type DeliveryOpaque = usize;

    fn delivery(&self, r: &DeliveryResult<'_>, opaque: usize) {
        let mut rep = lock(&self.reports);
        if (opaque >> (INDEX_BITS + 1)) as u64 != rep.chunk {
            return;
        }
        let index = (opaque >> 1) & ((1 << INDEX_BITS) - 1);
        if opaque & 1 == 0 {
            // A message sent for record `index`: its failure is the record's. Reports come in
            // the order of a partition, so before the record's own.
            if let (Err((e, _)), Some(slot)) = (r, rep.entity_failed.get_mut(index)) {
                slot.get_or_insert_with(|| e.clone());
            }
            return;
        }
        let outcome = match r {
            Ok(_) => Ok(()),
            Err((e, _)) => Err(e.clone()),
        };
        if let Some(slot) = rep.outcomes.get_mut(index) {
            let first = slot.is_none();
            *slot = Some(outcome);
            rep.got += usize::from(first);
        }
    }
}

/// Produces a backlog's chunks and says how far the brokers confirmed them.
pub struct KafkaSink {
    producer: BaseProducer<SinkCtx>,
    topic: String,
    peer: String,
    up: bool,
    chunk: u64,
    /// The `sysflow` encoding's streams; `None` for documents.
    streams: Option<Streams>,
    stats: Arc<StageStats>,
}

impl KafkaSink {
    /// Creates the producer (brokers are connected by [`Sink::connect`]).
    pub fn new(cfg: &KafkaExport, stats: Arc<StageStats>) -> anyhow::Result<KafkaSink> {
        let ctx = SinkCtx {
            stats: stats.clone(),
            reports: Mutex::default(),
        };
        let producer = cfg
            .props
            .client_config()
            .create_with_context(ctx)
            .map_err(|e| anyhow::anyhow!("cannot create the Kafka producer: {e}"))?;
        Ok(KafkaSink {
            producer,
            topic: cfg.topic.clone(),
            peer: format!(
                "Kafka {} (topic {})",
                cfg.props.get("bootstrap.servers").unwrap_or_default(),
                cfg.topic
            ),
            up: false,
            chunk: 0,
            streams: (cfg.encoding == KafkaEncoding::Sysflow).then(|| Streams::new(cfg.epoch)),
            stats,
        })
    }

    fn reports(&self) -> MutexGuard<'_, Reports> {
        lock(&self.producer.context().reports)
    }

    /// Produces the records of `chunk` in order; returns how many were queued and, when one
    /// is refused before it could be queued (too large, not a packed message or group), which
    /// and why. Gives up (leaving the rest unqueued) when librdkafka's queue stays full for
    /// [`STALL`].
    fn produce(&mut self, chunk: &Frames) -> (usize, Option<(usize, io::Error)>) {
        let base = (self.chunk as usize) << (INDEX_BITS + 1);
        let now = Instant::now();
        for (i, rec) in chunk.iter().enumerate() {
            let grouped = self.streams.is_some();
            let Some((key, payload)) = unpack(rec).filter(|(_, p)| !grouped || group::valid(p))
            else {
                let what = if grouped {
                    "not a packed group of the sysflow encoding"
                } else {
                    "not a packed Kafka message"
                };
                let e = io::Error::new(io::ErrorKind::InvalidData, what);
                return (i, Some((i, e)));
            };
            let (producer, topic, opaque) = (&self.producer, self.topic.as_str(), base | i << 1);
            let queued = match &mut self.streams {
                None => queue(producer, topic, key, payload, opaque | 1),
                Some(streams) => streams.send(key, payload, now, |e| {
                    let own = usize::from(e.tag == group::RECORD);
                    queue(producer, topic, key, e.datum, opaque | own)
                }),
            };
            match queued {
                Ok(()) => {}
                Err(None) => return (i, None),
                Err(Some(e)) => return (i, Some((i, e))),
            }
        }
        (chunk.len(), None)
    }

    /// Waits for the reports of the first `n` records; false when none came for [`STALL`]
    /// (what is left of the chunk is then purged from librdkafka).
    fn await_reports(&mut self, n: usize) -> bool {
        let (mut seen, mut since) = (0, Instant::now());
        loop {
            let got = self.reports().got;
            if got >= n {
                return true;
            }
            if got > seen {
                (seen, since) = (got, Instant::now());
            } else if since.elapsed() >= STALL {
                self.producer
                    .purge(PurgeConfig::default().queue().inflight());
                self.producer.poll(Duration::from_millis(100));
                return false;
            }
            self.producer.poll(POLL);
        }
    }
}

/// Queues one message: `Err(None)` when librdkafka's queue stayed full for [`STALL`],
/// `Err(Some(_))` when the message is refused (too large, …).
fn queue(
    producer: &BaseProducer<SinkCtx>,
    topic: &str,
    key: &[u8],
    payload: &[u8],
    opaque: usize,
) -> Result<(), Option<io::Error>> {
    let mut r = BaseRecord::with_opaque_to(topic, opaque).payload(payload);
    if !key.is_empty() {
        r = r.key(key);
    }
    let since = Instant::now();
    loop {
        match producer.send(r) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                if since.elapsed() >= STALL {
                    return Err(None);
                }
                producer.poll(POLL);
                r = back;
            }
            Err((e, _)) => return Err(Some(io::Error::other(e.to_string()))),
        }
    }
}

/// The outcome of record `i`: its own report, unless a message sent for it failed.
fn outcome(rep: &Reports, i: usize) -> Option<Result<(), &KafkaError>> {
    match (rep.entity_failed.get(i)?, rep.outcomes.get(i)?) {
        (_, None) => None,
        (Some(e), Some(_)) | (None, Some(Err(e))) => Some(Err(e)),
        (None, Some(Ok(()))) => Some(Ok(())),
    }
}

/// A failure that sending again cannot mend.
fn permanent(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::InvalidMessageSize
                | RDKafkaErrorCode::InvalidMessage
                | RDKafkaErrorCode::InvalidRecord
        )
    )
}

impl Sink for KafkaSink {
    fn peer(&self) -> String {
        self.peer.clone()
    }

    fn is_up(&mut self) -> bool {
        self.up
    }

    /// librdkafka connects on its own; a metadata request says whether a broker answers.
    fn connect(&mut self) -> io::Result<()> {
        self.producer
            .client()
            .fetch_metadata(Some(&self.topic), CONNECT_TIMEOUT)
            .map_err(|e| io::Error::other(e.to_string()))?;
        self.up = true;
        Ok(())
    }

    fn disconnect(&mut self) {
        self.up = false;
        if let Some(s) = &mut self.streams {
            s.clear();
        }
    }

    /// Every stream starts over after a chunk not confirmed in full: what the consumers got
    /// of it is unknown.
    fn send(&mut self, chunk: &Frames) -> Sent {
        let sent = self.send_chunk(chunk);
        if !matches!(sent, Sent::All) {
            if let Some(s) = &mut self.streams {
                s.clear();
            }
        }
        sent
    }
}

impl KafkaSink {
    fn send_chunk(&mut self, chunk: &Frames) -> Sent {
        self.chunk += 1;
        {
            let chunk_no = self.chunk;
            let mut rep = self.reports();
            rep.chunk = chunk_no;
            rep.outcomes.clear();
            rep.outcomes.resize(chunk.len(), None);
            rep.entity_failed.clear();
            rep.entity_failed.resize(chunk.len(), None);
            rep.got = 0;
        }
        let (queued, refused) = self.produce(chunk);
        let complete = self.await_reports(queued);
        let rep = self.reports();
        let ok = (0..queued)
            .take_while(|&i| matches!(outcome(&rep, i), Some(Ok(()))))
            .count();
        StageStats::add(&self.stats.output, ok as u64);
        if ok == queued {
            match refused {
                Some((index, error)) => return Sent::Rejected { index, error },
                None if queued == chunk.len() => return Sent::All,
                None => {}
            }
        }
        let error = match outcome(&rep, ok) {
            // Reports of what the stall purged say only that.
            _ if !complete => io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no delivery report for {} s", STALL.as_secs()),
            ),
            Some(Err(e)) if permanent(e) => {
                return Sent::Rejected {
                    index: ok,
                    error: io::Error::other(e.to_string()),
                }
            }
            Some(Err(e)) => io::Error::other(e.to_string()),
            _ => io::Error::new(io::ErrorKind::TimedOut, "the backlog's queue stayed full"),
        };
        drop(rep);
        self.up = false;
        Sent::Lost {
            confirmed: ok,
            error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_messages_come_back_and_other_bytes_are_refused() {
        let mut f = Frames::default();
        pack(b"n1/c0ffee", b"{\"a\":1}", &mut f);
        pack(b"", b"doc", &mut f);
        pack(b"k", b"", &mut f);
        let got: Vec<_> = f.iter().map(|r| unpack(r).unwrap()).collect();
        assert_eq!(
            got,
            [
                (&b"n1/c0ffee"[..], &b"{\"a\":1}"[..]),
                (b"", b"doc"),
                (b"k", b"")
            ]
        );
        assert_eq!(f.iter().next().unwrap().len(), 4 + 9 + 7);
        assert_eq!(unpack(b"abc"), None);
        assert_eq!(unpack(&[5, 0, 0, 0, b'k']), None);
    }

    /// No broker on the port: `connect` fails within its timeout (so the backlog goes to
    /// disk), and a record that is not a packed message is rejected, not sent.
    #[test]
    fn without_a_broker_the_sink_does_not_connect() {
        use crate::config::{KafkaEncoding, KafkaKey, KafkaProps};
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut props = KafkaProps::default();
        props.set("bootstrap.servers", &format!("127.0.0.1:{port}"));
        let cfg = KafkaExport {
            props,
            topic: "t".into(),
            encoding: KafkaEncoding::Json,
            key: KafkaKey::Node,
            node: None,
            epoch: Duration::from_secs(60),
        };
        let mut sink = KafkaSink::new(&cfg, Arc::new(StageStats::default())).unwrap();
        let t = Instant::now();
        assert!(sink.connect().is_err());
        assert!(!sink.is_up());
        assert!(t.elapsed() < CONNECT_TIMEOUT + Duration::from_secs(2));
        let mut f = Frames::default();
        f.push(b"ab");
        match sink.send(&f) {
            Sent::Rejected { index: 0, .. } => {}
            other => panic!("{other:?}"),
        }
    }
}
