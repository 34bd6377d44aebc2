//! The `exporter` stage: events are filtered by `type` (alerts or all telemetry), encoded
//! ([`encode`]: JSON, ECS, Falco, SysFlow) and delivered ([`transport`]: terminal, file,
//! syslog, kafka, null), with `buffer` batching bounded by time. Network transports hold what
//! their server has not taken yet in a backlog ([`buffer`]: bytes-bounded, optionally on disk).
//!
//! Documents for transports without keys are encoded batch by batch, on encoding threads when
//! `encoders` allows ([`encode::batches`]); a transport with message keys (Kafka) gets its
//! messages encoded event by event on the stage thread ([`Keyed`]), because the `sysflow`
//! encoding keeps a stream per key and a lost message restarts that stream at once.

pub mod buffer;
pub mod encode;
pub mod transport;

use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use crossbeam_channel::{select, Receiver, RecvTimeoutError};

use crate::config::{
    defaults, ExportFormat, ExportKind, ExporterConfig, KafkaEncoding, RecordKind,
};
use crate::pipeline::{Event, EventBatch, StageStats};
use encode::batches::{Batches, Encoded};
use encode::{ecs, falco, json, sysflow, Encoder};
use transport::kafka::{self, key::MessageKey};
use transport::{file, syslog, terminal, NullTransport, Transport};

/// The stage's thread body: exports every arriving batch (sending each encoded batch as soon
/// as it is done, in arrival order), and flushes a partial batch once it has waited
/// [`defaults::BUFFER_FLUSH`], until the channel closes; then closes the transport (a network
/// transport delivers its backlog here, within [`defaults::BACKLOG_CLOSE_DEADLINE`], and says
/// what it kept or dropped).
pub fn run(mut exp: Exporter, rx: Receiver<EventBatch>) {
    let idle = Duration::from_millis(250);
    loop {
        let input = match exp.batches.oldest() {
            // Batches are with the encoding threads: take whichever comes first.
            Some(done) => select! {
                recv(rx) -> b => b.map_err(|_| RecvTimeoutError::Disconnected),
                recv(done) -> j => {
                    exp.batches.took(j.ok());
                    exp.send_ready();
                    continue;
                }
                default(idle) => Err(RecvTimeoutError::Timeout),
            },
            None => rx.recv_timeout(idle),
        };
        match input {
            Ok(batch) => {
                exp.export(batch);
                exp.tick();
            }
            Err(RecvTimeoutError::Timeout) => exp.tick(),
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    exp.finish();
}

/// Logs a write error: the first few and then one in a thousand (a dead disk must not
/// flood the log).
fn report(stats: &StageStats, e: &io::Error) {
    let n = stats
        .export_errors
        .load(std::sync::atomic::Ordering::Relaxed);
    if n < 10 || n.is_multiple_of(1000) {
        tracing::error!("{}: write failed: {e}", stats.label);
    }
}

/// The encoding of a transport with message keys (Kafka): one encoder on the stage thread,
/// the key of each event, and the messages of one event.
struct Keyed {
    enc: Box<dyn Encoder>,
    keys: MessageKey,
    key: Vec<u8>,
    /// The messages of one event, back to back.
    out: Vec<u8>,
    /// Where each message in `out` ends, and whether it is a record's own
    /// ([`Encoder::encode_messages`]).
    ends: Vec<(usize, bool)>,
    /// Scratch space of the encoder's documents.
    doc: Vec<u8>,
}

/// One exporter: filters by `type`, encodes, batches and sends.
pub struct Exporter {
    /// Encoding of documents, on this thread or on encoding threads.
    batches: Batches,
    /// Set for a transport with message keys, which then gets everything through it.
    keyed: Option<Keyed>,
    transport: Box<dyn Transport>,
    alerts_only: bool,
    /// `export: null`: records are counted, not even encoded (the null exporter measures
    /// everything before it).
    discard: bool,
    /// `buffer`; 0 = flush after every arriving batch.
    buffer: usize,
    pending: usize,
    oldest_pending: Option<Instant>,
    stats: Arc<StageStats>,
}

impl Exporter {
    /// Builds the encoder (and its threads) and opens the transport. `stop` is the
    /// pipeline's stop flag (a network transport's backlog stops blocking after the close
    /// deadline once it is set).
    pub fn build(
        cfg: &ExporterConfig,
        stats: Arc<StageStats>,
        stop: Arc<AtomicBool>,
    ) -> anyhow::Result<Exporter> {
        let mut keyed = None;
        let transport: Box<dyn Transport> = match cfg.export {
            ExportKind::Terminal => Box::new(terminal::Terminal::default()),
            ExportKind::File => Box::new(
                file::FileTransport::open(&cfg.file_path, cfg.file_truncate).with_context(
                    || format!("{}: cannot open {}", stats.label, cfg.file_path.display()),
                )?,
            ),
            ExportKind::Syslog => Box::new(
                syslog::Syslog::start(cfg, stats.clone(), stop)
                    .with_context(|| format!("{}: syslog exporter", stats.label))?,
            ),
            ExportKind::Kafka => {
                let k = cfg
                    .kafka
                    .as_ref()
                    .with_context(|| format!("{}: no kafka settings", stats.label))?;
                let node = k.node.clone().unwrap_or_else(kafka::key::hostname);
                let buffered = cfg.backlog.path.is_some();
                let enc: Box<dyn Encoder> = match (k.encoding, cfg.format) {
                    // The disk buffer holds each event as a self-contained group.
                    (KafkaEncoding::Sysflow, _) if buffered => {
                        Box::new(sysflow::SysflowEncoder::grouped(&node, k.epoch))
                    }
                    (KafkaEncoding::Sysflow, _) => {
                        Box::new(sysflow::SysflowEncoder::new(&node, k.epoch))
                    }
                    (_, ExportFormat::Json) => {
                        Box::new(json::JsonEncoder::new(cfg.version, cfg.flat))
                    }
                    (_, ExportFormat::Ecs) => Box::new(ecs::EcsEncoder::new()),
                    (_, ExportFormat::Falco) => Box::new(falco::FalcoEncoder::new()),
                };
                keyed = Some(Keyed {
                    enc,
                    keys: MessageKey::new(k.key, &node),
                    key: Vec::new(),
                    out: Vec::with_capacity(4096),
                    ends: Vec::new(),
                    doc: Vec::new(),
                });
                let what = || format!("{}: kafka exporter", stats.label);
                if buffered {
                    Box::new(
                        kafka::buffered::Buffered::start(k, &cfg.backlog, stats.clone(), stop)
                            .with_context(what)?,
                    )
                } else {
                    Box::new(
                        kafka::Kafka::start(k, &cfg.backlog, stats.clone(), stop)
                            .with_context(what)?,
                    )
                }
            }
            ExportKind::Null => Box::new(NullTransport),
        };
        // A keyed transport encodes on this thread: no encoding threads for it.
        let encoders = if keyed.is_some() { 1 } else { cfg.encoders };
        let batches = Batches::new(cfg, encoders, stats.clone());
        Ok(Exporter {
            batches,
            keyed,
            transport,
            alerts_only: cfg.records == RecordKind::Alert,
            discard: cfg.export == ExportKind::Null,
            buffer: cfg.buffer,
            pending: 0,
            oldest_pending: None,
            stats,
        })
    }

    /// Exports the records of one arriving batch.
    pub fn export(&mut self, batch: EventBatch) {
        if self.discard || self.keyed.is_some() {
            StageStats::add(&self.stats.input, batch.len() as u64);
        }
        if self.discard {
            let kept = batch
                .iter()
                .filter(|ev| !self.alerts_only || ev.is_alert())
                .count() as u64;
            StageStats::add(&self.stats.output, kept);
            StageStats::add(&self.stats.filtered, batch.len() as u64 - kept);
            return;
        }
        if self.keyed.is_some() {
            self.export_keyed(&batch);
            return;
        }
        self.batches.submit(batch);
        self.send_ready();
    }

    /// Sends the documents of every encoded batch that is ready, in order.
    fn send_ready(&mut self) {
        while let Some(mut j) = self.batches.ready() {
            self.send(&j);
            // The events' acknowledgement tokens go only now that the transport has them.
            j.release_acks();
            self.batches.recycle(j);
        }
    }

    fn send(&mut self, j: &Encoded) {
        // Counted in only now that the transport gets them: `in` is what the stage has
        // handled, not what waits with the encoding threads (a transport's backlog counters
        // then add up with it at any moment).
        StageStats::add(&self.stats.input, j.len() as u64);
        let mut written = 0u64;
        let mut errors = 0u64;
        for docs in j.events() {
            for doc in docs {
                match self.transport.send(doc) {
                    Ok(()) => written += 1,
                    Err(e) => {
                        errors += 1;
                        report(&self.stats, &e);
                    }
                }
            }
            self.count_pending();
        }
        self.sent(written, j.filtered, errors);
    }

    /// After a batch: flushes with `buffer: 0`, and counts what it wrote (unless the
    /// transport counts confirmations itself), filtered out and failed to write.
    fn sent(&mut self, written: u64, filtered: u64, errors: u64) {
        if self.buffer == 0 && self.pending > 0 {
            self.flush();
        }
        if !self.transport.confirms_delivery() {
            StageStats::add(&self.stats.output, written);
        }
        StageStats::add(&self.stats.filtered, filtered);
        StageStats::add(&self.stats.export_errors, errors);
    }

    /// One more event sent since the last flush; flushes when `buffer` is reached.
    fn count_pending(&mut self) {
        self.pending += 1;
        self.oldest_pending.get_or_insert_with(Instant::now);
        if self.buffer > 0 && self.pending >= self.buffer {
            self.flush();
        }
    }

    /// Encodes and sends the events of a batch as keyed messages.
    fn export_keyed(&mut self, batch: &[Event]) {
        let mut written = 0u64;
        let mut filtered = 0u64;
        let mut errors = 0u64;
        for ev in batch {
            if self.alerts_only && !ev.is_alert() {
                filtered += 1;
                continue;
            }
            match self.send_messages(ev) {
                Ok(()) => written += 1,
                Err(e) => {
                    errors += 1;
                    report(&self.stats, &e);
                }
            }
            self.count_pending();
        }
        self.sent(written, filtered, errors);
    }

    /// Sends the messages of one event under its key. When the transport drops one that
    /// carries an entity (and counts the record), the record is dropped with it and the
    /// encoder starts the key's stream over, so no consumer sees a record whose entities went
    /// missing.
    fn send_messages(&mut self, ev: &Event) -> io::Result<()> {
        let Some(k) = self.keyed.as_mut() else {
            return Ok(());
        };
        k.keys.write(ev, &mut k.key);
        k.out.clear();
        k.ends.clear();
        k.enc
            .encode_messages(ev, &k.key, &mut k.doc, &mut k.out, &mut k.ends);
        let mut start = 0;
        for &(end, record) in &k.ends {
            if !self
                .transport
                .send_keyed(&k.key, &k.out[start..end], record)?
            {
                k.enc.restart(&k.key);
                break;
            }
            start = end;
        }
        Ok(())
    }

    /// Flushes a partial batch that has waited for the time bound.
    pub fn tick(&mut self) {
        if self
            .oldest_pending
            .is_some_and(|t| t.elapsed() >= defaults::BUFFER_FLUSH)
        {
            self.flush();
        }
    }

    fn flush(&mut self) {
        self.pending = 0;
        self.oldest_pending = None;
        if let Err(e) = self.transport.flush() {
            StageStats::add(&self.stats.export_errors, 1);
            report(&self.stats, &e);
        }
    }

    /// Sends what the encoding threads still hold, then flushes and closes the transport at
    /// shutdown.
    pub fn finish(mut self) {
        self.batches.drain();
        self.send_ready();
        self.batches.finish();
        self.pending = 0;
        if let Err(e) = self.transport.close() {
            StageStats::add(&self.stats.export_errors, 1);
            tracing::error!("{}: closing failed: {e}", self.stats.label);
        }
    }
}
