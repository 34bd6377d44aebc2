//! The `exporter` stage: events are filtered by `type` (alerts or all telemetry), encoded
//! ([`encode`]: JSON, ECS, Falco) and delivered ([`transport`]: terminal, file, syslog, null),
//! with `buffer` batching bounded by time. Network transports hold what their server has not
//! taken yet in a backlog ([`buffer`]: bytes-bounded, optionally on disk).

pub mod buffer;
pub mod encode;
pub mod transport;

use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use crossbeam_channel::{select, Receiver, RecvTimeoutError};

use crate::config::{defaults, ExportKind, ExporterConfig, RecordKind};
use crate::pipeline::{EventBatch, StageStats};
use encode::batches::{Batches, Encoded};
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

/// One exporter: filters by `type`, encodes, batches and sends.
pub struct Exporter {
    /// Encoding, on this thread or on encoding threads.
    batches: Batches,
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
            ExportKind::Null => Box::new(NullTransport),
        };
        Ok(Exporter {
            batches: Batches::new(cfg, stats.clone()),
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
        StageStats::add(&self.stats.input, batch.len() as u64);
        if self.discard {
            let kept = batch
                .iter()
                .filter(|ev| !self.alerts_only || ev.is_alert())
                .count() as u64;
            StageStats::add(&self.stats.output, kept);
            StageStats::add(&self.stats.filtered, batch.len() as u64 - kept);
            return;
        }
        self.batches.submit(batch);
        self.send_ready();
    }

    /// Sends the documents of every encoded batch that is ready, in order.
    fn send_ready(&mut self) {
        while let Some(j) = self.batches.ready() {
            self.send(&j);
            self.batches.recycle(j);
        }
    }

    fn send(&mut self, j: &Encoded) {
        let mut written = 0u64;
        let mut errors = 0u64;
        for docs in j.events() {
            for doc in docs {
                match self.transport.send(doc) {
                    Ok(()) => written += 1,
                    Err(e) => {
                        errors += 1;
                        self.report(&e);
                    }
                }
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
        StageStats::add(&self.stats.output, written);
        StageStats::add(&self.stats.filtered, j.filtered);
        StageStats::add(&self.stats.export_errors, errors);
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
        let n = self
            .stats
            .export_errors
            .load(std::sync::atomic::Ordering::Relaxed);
        // The first few errors and then one in a thousand: a dead disk must not flood the log.
        if n < 10 || n.is_multiple_of(1000) {
            tracing::error!("{}: write failed: {e}", self.stats.label);
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
