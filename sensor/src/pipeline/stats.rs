//! Per-stage counters, updated once per batch, logged at exit and on SIGUSR1, and read by the
//! metrics endpoint (`sensor run --metrics`) through the [`Registry`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, Weak};

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
    /// Produce requests a Kafka exporter sent again after a failed attempt (librdkafka's
    /// `txretries`, summed over brokers); the records in them were not lost.
    pub retried: AtomicU64,
    /// Peers connected now (a gauge, not a counter; the socket driver's collectors). Not in
    /// [`StageStats::counters`]: it is not cumulative.
    pub connections: AtomicU64,
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

/// One counter of a stage, as [`StageStats::counters`] lists them.
#[derive(Debug, Clone, Copy)]
pub struct Counter<'a> {
    /// Name in the log line (`in=…`).
    pub key: &'static str,
    /// Name of the Prometheus counter, without the `sysflow_stage_` prefix and `_total`.
    pub metric: &'static str,
    /// What it counts (the metric's help text).
    pub help: &'static str,
    pub value: &'a AtomicU64,
}

impl StageStats {
    pub fn add(c: &AtomicU64, n: u64) {
        if n > 0 {
            c.fetch_add(n, Relaxed);
        }
    }

    /// Every counter of the stage, in log order. The log line and the metrics endpoint both
    /// read this list, so a counter added here shows in both.
    pub fn counters(&self) -> [Counter<'_>; 8] {
        let c = |key, metric, help, value| Counter {
            key,
            metric,
            help,
            value,
        };
        [
            c("in", "records_in", "Records received.", &self.input),
            c(
                "out",
                "records_out",
                "Records passed on (written, for an exporter).",
                &self.output,
            ),
            c(
                "filtered",
                "filtered",
                "Records dropped by a filter rule (policy engine) or by type: alert (exporter).",
                &self.filtered,
            ),
            c(
                "alerts",
                "alerts",
                "Records that matched at least one rule.",
                &self.alerts,
            ),
            c(
                "decode_errors",
                "decode_errors",
                "Messages or trace files that could not be decoded.",
                &self.decode_errors,
            ),
            c(
                "export_errors",
                "export_errors",
                "Records an exporter failed to write.",
                &self.export_errors,
            ),
            c(
                "dropped",
                "dropped",
                "Records lost on purpose (full backlog) or because a consumer stopped.",
                &self.dropped,
            ),
            c(
                "retried",
                "retried",
                "Produce requests a Kafka exporter sent again after a failed attempt.",
                &self.retried,
            ),
        ]
    }

    /// One-line summary with every counter, zeros included (so that a log reader can rely
    /// on each being there).
    pub fn summary(&self) -> String {
        use std::fmt::Write;
        let mut s = format!("{}:", self.label);
        for c in self.counters() {
            let _ = write!(s, " {}={}", c.key, c.value.load(Relaxed));
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

/// How full a stage's input channel is. Implemented for the channels' receivers; the
/// [`Registry`] holds them weakly, so watching a queue never keeps a channel open.
pub trait QueueDepth: Send + Sync {
    /// Batches waiting.
    fn depth(&self) -> usize;
    /// Batches the channel holds before its producer blocks.
    fn capacity(&self) -> usize;
}

impl<T: Send> QueueDepth for crossbeam_channel::Receiver<T> {
    fn depth(&self) -> usize {
        self.len()
    }
    fn capacity(&self) -> usize {
        crossbeam_channel::Receiver::capacity(self).unwrap_or(0)
    }
}

/// A value a source keeps itself (the eBPF collector's events and drops per class),
/// published as a snapshot for the metrics endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceSample {
    /// Prometheus name without the `sysflow_` prefix (`ebpf_events`; counters get `_total`).
    pub name: &'static str,
    pub help: &'static str,
    /// One label, such as `("class", "proc")`.
    pub label: Option<(&'static str, &'static str)>,
    pub value: u64,
    /// A gauge (a level, such as a ring count or a peak rate) rather than a counter.
    pub gauge: bool,
}

/// A stage's label and its input channel, held weakly.
type WatchedQueue = (String, Weak<dyn QueueDepth>);

/// The counters of every stage of a running pipeline.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    stages: Arc<Mutex<Vec<Arc<StageStats>>>>,
    /// How many reports were asked for (SIGUSR1): a source that keeps counters of its own
    /// (the eBPF collector's, read on its thread) logs them when this moves.
    reports: Arc<AtomicU64>,
    /// Input channel of each stage, by stage label.
    queues: Arc<Mutex<Vec<WatchedQueue>>>,
    /// The latest snapshot of the source's own counters.
    source: Arc<Mutex<Vec<SourceSample>>>,
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

    /// Every stage's counters, in the order the stages were registered.
    pub fn stages(&self) -> Vec<Arc<StageStats>> {
        self.stages.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Watches the input channel of stage `label`; the caller keeps `queue` alive exactly as
    /// long as the stage runs.
    pub fn watch_queue(&self, label: &str, queue: &Arc<dyn QueueDepth>) {
        if let Ok(mut v) = self.queues.lock() {
            v.push((label.to_string(), Arc::downgrade(queue)));
        }
    }

    /// `(stage label, batches waiting, capacity)` of every input channel still open.
    pub fn queues(&self) -> Vec<(String, usize, usize)> {
        let Ok(v) = self.queues.lock() else {
            return Vec::new();
        };
        v.iter()
            .filter_map(|(label, q)| {
                let q = q.upgrade()?;
                Some((label.clone(), q.depth(), q.capacity()))
            })
            .collect()
    }

    /// Replaces the snapshot of the source's own counters.
    pub fn publish_source(&self, samples: Vec<SourceSample>) {
        if let Ok(mut s) = self.source.lock() {
            *s = samples;
        }
    }

    /// The latest snapshot of the source's own counters (empty for sources without any).
    pub fn source_samples(&self) -> Vec<SourceSample> {
        self.source.lock().map(|s| s.clone()).unwrap_or_default()
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
        for s in self.stages() {
            tracing::info!("counters ({when}) {}", s.summary());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watched_queue_disappears_with_its_stage_and_never_keeps_the_channel_open() {
        let r = Registry::default();
        let (tx, rx) = crossbeam_channel::bounded::<u8>(4);
        let probe: Arc<dyn QueueDepth> = Arc::new(rx.clone());
        r.watch_queue("s", &probe);
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        assert_eq!(r.queues(), [("s".to_string(), 2, 4)]);
        drop((rx, probe));
        assert!(r.queues().is_empty());
        // No receiver is left anywhere: the producer learns that its consumer is gone.
        assert!(tx.send(3).is_err());
    }
}
