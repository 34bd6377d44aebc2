//! The `exporter` stage: events are filtered by `type` (alerts or all telemetry), encoded
//! ([`encode`]: JSON, ECS, Falco, SysFlow) and delivered ([`transport`]: terminal, file,
//! syslog, kafka, null), with `buffer` batching bounded by time. Network transports hold what
//! their server has not taken yet in a backlog ([`buffer`]: bytes-bounded, optionally on disk).

pub mod buffer;
pub mod encode;
pub mod transport;

use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use crossbeam_channel::{Receiver, RecvTimeoutError};

use crate::config::{
    defaults, ExportFormat, ExportKind, ExporterConfig, KafkaEncoding, RecordKind,
};
use crate::pipeline::{Event, EventBatch, StageStats};
use encode::{ecs, falco, json, sysflow, Encoder};
use transport::kafka::{self, key::MessageKey};
use transport::{file, syslog, terminal, NullTransport, Transport};

/// The stage's thread body: exports every arriving batch, and flushes a partial batch once
/// it has waited [`defaults::BUFFER_FLUSH`], until the channel closes; then closes the
/// transport (a network transport delivers its backlog here, within
/// [`defaults::BACKLOG_CLOSE_DEADLINE`], and says what it kept or dropped).
pub fn run(mut exp: Exporter, rx: Receiver<EventBatch>) {
    loop {
        match rx.recv_timeout(Duration::from_millis(250)) {
            Ok(batch) => {
                exp.export(&batch);
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

/// One exporter: filters by `type`, encodes, batches and sends.
pub struct Exporter {
    enc: Box<dyn Encoder>,
    transport: Box<dyn Transport>,
    alerts_only: bool,
    /// `export: null`: records are counted, not even encoded (the null exporter measures
    /// everything before it).
    discard: bool,
    /// `buffer`; 0 = flush after every arriving batch.
    buffer: usize,
    pending: usize,
    oldest_pending: Option<Instant>,
    scratch: Vec<u8>,
    /// Message keys, for a transport with keys (Kafka).
    keys: Option<MessageKey>,
    key: Vec<u8>,
    /// Where each message in `scratch` ends, and whether it is a record's own
    /// ([`Encoder::encode_messages`]).
    ends: Vec<(usize, bool)>,
    /// Scratch space of the encoders' documents.
    doc: Vec<u8>,
    stats: Arc<StageStats>,
}

impl Exporter {
    /// Builds the encoder and opens the transport. `stop` is the pipeline's stop flag (a
    /// network transport's backlog stops blocking after the close deadline once it is set).
    pub fn build(
        cfg: &ExporterConfig,
        stats: Arc<StageStats>,
        stop: Arc<AtomicBool>,
    ) -> anyhow::Result<Exporter> {
        let mut enc: Box<dyn Encoder> = match cfg.format {
            ExportFormat::Json => Box::new(json::JsonEncoder::new(cfg.version, cfg.flat)),
            ExportFormat::Ecs => Box::new(ecs::EcsEncoder::new()),
            ExportFormat::Falco => Box::new(falco::FalcoEncoder::new()),
        };
        let mut keys = None;
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
                keys = Some(MessageKey::new(k.key, &node));
                if k.encoding == KafkaEncoding::Sysflow {
                    enc = Box::new(sysflow::SysflowEncoder::new(&node, k.epoch));
                }
                Box::new(
                    kafka::Kafka::start(k, stats.clone())
                        .with_context(|| format!("{}: kafka exporter", stats.label))?,
                )
            }
            ExportKind::Null => Box::new(NullTransport),
        };
        Ok(Exporter {
            enc,
            transport,
            alerts_only: cfg.records == RecordKind::Alert,
            discard: cfg.export == ExportKind::Null,
            buffer: cfg.buffer,
            pending: 0,
            oldest_pending: None,
            scratch: Vec::with_capacity(4096),
            keys,
            key: Vec::new(),
            ends: Vec::new(),
            doc: Vec::new(),
            stats,
        })
    }

    /// Exports the records of one arriving batch.
    pub fn export(&mut self, batch: &[Event]) {
        let mut written = 0u64;
        let mut filtered = 0u64;
        let mut errors = 0u64;
        for ev in batch {
            if self.alerts_only && !ev.is_alert() {
                filtered += 1;
                continue;
            }
            if self.discard {
                written += 1;
                continue;
            }
            if self.keys.is_some() {
                match self.send_messages(ev) {
                    Ok(()) => written += 1,
                    Err(e) => {
                        errors += 1;
                        report(&self.stats, &e);
                    }
                }
            } else {
                let (transport, stats) = (&mut self.transport, &self.stats);
                self.enc.encode_each(
                    ev,
                    &mut self.scratch,
                    &mut |doc| match transport.send(doc) {
                        Ok(()) => written += 1,
                        Err(e) => {
                            errors += 1;
                            report(stats, &e);
                        }
                    },
                );
            }
            self.pending += 1;
            self.oldest_pending.get_or_insert_with(Instant::now);
            if self.buffer > 0 && self.pending >= self.buffer {
                self.flush();
            }
        }
        if self.buffer == 0 && self.pending > 0 {
            self.flush();
        }
        StageStats::add(&self.stats.input, batch.len() as u64);
        if !self.transport.confirms_delivery() {
            StageStats::add(&self.stats.output, written);
        }
        StageStats::add(&self.stats.filtered, filtered);
        StageStats::add(&self.stats.export_errors, errors);
    }

    /// Sends the messages of one event under `self.key`. When the transport drops one that
    /// carries an entity (counted there only for records), the record is dropped with it and
    /// the encoder starts the key's stream over, so no consumer sees a record whose entities
    /// went missing.
    fn send_messages(&mut self, ev: &Event) -> io::Result<()> {
        if let Some(keys) = &self.keys {
            keys.write(ev, &mut self.key);
        }
        self.scratch.clear();
        self.ends.clear();
        self.enc.encode_messages(
            ev,
            &self.key,
            &mut self.doc,
            &mut self.scratch,
            &mut self.ends,
        );
        let mut start = 0;
        for &(end, record) in &self.ends {
            if !self
                .transport
                .send_keyed(&self.key, &self.scratch[start..end], record)?
            {
                if !record {
                    StageStats::add(&self.stats.dropped, 1);
                }
                self.enc.restart(&self.key);
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
            self.report(&e);
        }
    }

    fn report(&self, e: &io::Error) {
        report(&self.stats, e);
    }

    /// Flushes and closes the transport at shutdown.
    pub fn finish(mut self) {
        self.pending = 0;
        if let Err(e) = self.transport.close() {
            StageStats::add(&self.stats.export_errors, 1);
            tracing::error!("{}: closing failed: {e}", self.stats.label);
        }
    }
}
