//! Per-stage counters, updated once per batch and logged at exit and on SIGUSR1.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// Counters of one stage. All are cumulative since start.
#[derive(Debug, Default)]
pub struct StageStats {
    pub label: String,
    /// Records received.
    pub input: AtomicU64,
    /// Records passed on (or written, for exporters).
    pub output: AtomicU64,
    /// Records dropped by filters (policy engine) or by `type: alert` (exporter).
    pub filtered: AtomicU64,
    /// Records that matched at least one rule.
    pub alerts: AtomicU64,
    /// Messages or records that could not be decoded.
    pub decode_errors: AtomicU64,
    /// Records an exporter failed to write.
    pub export_errors: AtomicU64,
    /// Records lost on purpose (a full backlog, undelivered at shutdown, a damaged disk
    /// buffer) or because a consumer died; the `dropped_*` counters say why.
    pub dropped: AtomicU64,
    /// The backlog of a network exporter ([`StageStats::buffer_counters`]); all zero and not
    /// logged for other stages.
    pub backlog: BacklogStats,
}

/// Counters of a network exporter's backlog (`backlog.*`, `export/buffer`).
#[derive(Debug, Default)]
pub struct BacklogStats {
    /// Set when the stage has a backlog: its counters are then logged too.
    pub enabled: AtomicBool,
    /// Gauge: records held (in memory and on disk) that the server has not confirmed.
    pub records: AtomicU64,
    /// Gauge: bytes of those records.
    pub bytes: AtomicU64,
    /// Gauge: bytes of the disk buffer's segment files.
    pub disk_bytes: AtomicU64,
    /// Records written to the disk buffer (cumulative).
    pub persisted: AtomicU64,
    /// Records dropped because the backlog was full (`backlog.whenfull`).
    pub dropped_full: AtomicU64,
    /// Records neither delivered nor persisted when the shutdown deadline passed.
    pub dropped_shutdown: AtomicU64,
    /// Records lost to a damaged disk-buffer segment (bad checksum, truncation).
    pub dropped_corrupt: AtomicU64,
}

impl StageStats {
    pub fn add(c: &AtomicU64, n: u64) {
        if n > 0 {
            c.fetch_add(n, Relaxed);
        }
    }

    /// One-line summary with every counter, zeros included (so that a log reader can rely
    /// on each being there).
    pub fn summary(&self) -> String {
        use std::fmt::Write;
        let mut s = format!("{}:", self.label);
        for (name, c) in [
            ("in", &self.input),
            ("out", &self.output),
            ("filtered", &self.filtered),
            ("alerts", &self.alerts),
            ("decode_errors", &self.decode_errors),
            ("export_errors", &self.export_errors),
            ("dropped", &self.dropped),
        ] {
            let _ = write!(s, " {name}={}", c.load(Relaxed));
        }
        if self.backlog.enabled.load(Relaxed) {
            for (name, c) in self.buffer_counters() {
                let _ = write!(s, " {name}={}", c.load(Relaxed));
            }
        }
        s
    }

    /// The backlog's counters by name (`backlog_records`, `backlog_bytes` and
    /// `backlog_disk_bytes` are gauges, the rest cumulative).
    pub fn buffer_counters(&self) -> [(&'static str, &AtomicU64); 7] {
        let b = &self.backlog;
        [
            ("backlog_records", &b.records),
            ("backlog_bytes", &b.bytes),
            ("backlog_disk_bytes", &b.disk_bytes),
            ("persisted", &b.persisted),
            ("dropped_full", &b.dropped_full),
            ("dropped_shutdown", &b.dropped_shutdown),
            ("dropped_corrupt", &b.dropped_corrupt),
        ]
    }
}

/// The counters of every stage of a running pipeline.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    stages: Arc<Mutex<Vec<Arc<StageStats>>>>,
    /// How many reports were asked for (SIGUSR1): a source that keeps counters of its own
    /// (the eBPF collector's, read on its thread) logs them when this moves.
    reports: Arc<AtomicU64>,
    /// Set when the pipeline is asked to stop (SIGINT/SIGTERM): stages that may wait on
    /// something outside (a full backlog of a network exporter) stop waiting in time.
    stop: Arc<AtomicBool>,
}

impl Registry {
    pub fn stage(&self, label: impl Into<String>) -> Arc<StageStats> {
        let s = Arc::new(StageStats {
            label: label.into(),
            ..Default::default()
        });
        if let Ok(mut v) = self.stages.lock() {
            v.push(s.clone());
        }
        s
    }

    /// Logs every stage's counters and asks sources with counters of their own to log them.
    pub fn report(&self, when: &str) {
        self.reports.fetch_add(1, Relaxed);
        self.log(when);
    }

    /// The pipeline's stop flag.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Reports asked for so far ([`Registry::report`]).
    pub fn reports(&self) -> u64 {
        self.reports.load(Relaxed)
    }

    /// Logs every stage's counters.
    pub fn log(&self, when: &str) {
        if let Ok(v) = self.stages.lock() {
            for s in v.iter() {
                tracing::info!("counters ({when}) {}", s.summary());
            }
        }
    }
}
