//! Per-stage counters, updated once per batch and logged at exit and on SIGUSR1.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
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
    /// Records lost on purpose (a full syslog or Kafka backlog, or undelivered at shutdown).
    pub dropped: AtomicU64,
    /// Produce requests a Kafka exporter sent again after a failed attempt (librdkafka's
    /// `txretries`, summed over brokers); the records in them were not lost.
    pub retried: AtomicU64,
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
            ("retried", &self.retried),
        ] {
            let _ = write!(s, " {name}={}", c.load(Relaxed));
        }
        s
    }
}

/// The counters of every stage of a running pipeline.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    stages: Arc<Mutex<Vec<Arc<StageStats>>>>,
    /// How many reports were asked for (SIGUSR1): a source that keeps counters of its own
    /// (the eBPF collector's, read on its thread) logs them when this moves.
    reports: Arc<AtomicU64>,
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
