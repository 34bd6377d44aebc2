//! The exporter's encoding side: batches of events become documents on the stage thread or,
//! with `encoders` above 1, on encoding threads (`super::parallel`), and come back in
//! arrival order. The stage only sends what [`Batches::ready`] yields.

use std::collections::VecDeque;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::Receiver;

use super::parallel::{self, Ordered, WorkerGone};
use super::{ecs, falco, json, Encoder};
use crate::config::{defaults, ExportFormat, ExportKind, ExporterConfig, RecordKind};
use crate::pipeline::{Ack, EventBatch, StageStats};

/// Batches in flight per encoding thread.
const PER_THREAD: usize = 2;

/// A batch of events and the documents encoded from it (none, one or, in Falco's format,
/// several per event).
#[derive(Default)]
pub struct Encoded {
    events: EventBatch,
    /// The documents, back to back; `ends[i]` is where document `i` ends.
    out: Vec<u8>,
    ends: Vec<usize>,
    /// Per exported event, how many documents in `ends` precede the end of its own.
    event_ends: Vec<usize>,
    /// The acknowledgement tokens of the encoded events (one per run of events that share
    /// one), held until the documents are sent ([`Encoded::release_acks`]).
    acks: Vec<Ack>,
    /// Events left out by `type: alert`.
    pub filtered: u64,
}

impl Encoded {
    /// The exported events, each as its documents in order.
    pub fn events(&self) -> impl Iterator<Item = impl Iterator<Item = &[u8]>> {
        let doc = |d: usize| {
            let start = if d == 0 { 0 } else { self.ends[d - 1] };
            &self.out[start..self.ends[d]]
        };
        let firsts = std::iter::once(0).chain(self.event_ends.iter().copied());
        firsts
            .zip(self.event_ends.iter().copied())
            .map(move |(a, b)| (a..b).map(doc))
    }

    /// The events of the batch: exported ones and those `type: alert` left out.
    pub fn len(&self) -> usize {
        self.event_ends.len() + self.filtered as usize
    }

    /// True for a batch without events.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops the acknowledgement tokens of the events (once their documents are sent: a
    /// driver that commits on the last token, Kafka's, then knows the exporter has them).
    pub fn release_acks(&mut self) {
        self.acks.clear();
    }

    /// Encodes the events that pass the `type` filter, and drops the events (keeping their
    /// acknowledgement tokens).
    fn encode(&mut self, enc: &mut dyn Encoder, alerts_only: bool) {
        self.out.clear();
        self.ends.clear();
        self.event_ends.clear();
        self.filtered = 0;
        for ev in &self.events {
            if alerts_only && !ev.is_alert() {
                self.filtered += 1;
                continue;
            }
            enc.encode_batch(ev, &mut self.out, &mut self.ends);
            self.event_ends.push(self.ends.len());
        }
        for ev in &mut self.events {
            if let Some(a) = ev.ack.take() {
                if !self.acks.last().is_some_and(|l| Arc::ptr_eq(l, &a)) {
                    self.acks.push(a);
                }
            }
        }
        self.events.clear();
    }
}

/// What an encoder is made from (each encoding thread has its own).
#[derive(Debug, Clone, Copy)]
struct Spec {
    format: ExportFormat,
    version: u32,
    flat: bool,
    alerts_only: bool,
}

impl Spec {
    fn encoder(self) -> Box<dyn Encoder> {
        match self.format {
            ExportFormat::Json => Box::new(json::JsonEncoder::new(self.version, self.flat)),
            ExportFormat::Ecs => Box::new(ecs::EcsEncoder::new()),
            ExportFormat::Falco => Box::new(falco::FalcoEncoder::new()),
        }
    }
}

enum Mode {
    Inline(Box<dyn Encoder>),
    Threads {
        pool: Ordered<Encoded>,
        handles: Vec<JoinHandle<()>>,
    },
}

/// Encodes the exporter's batches and hands them back in arrival order.
pub struct Batches {
    mode: Mode,
    spec: Spec,
    /// Encoded batches to send, oldest first.
    ready: VecDeque<Encoded>,
    /// Sent batches whose buffers are reused.
    spare: Vec<Encoded>,
    stats: Arc<StageStats>,
}

impl Batches {
    /// Inline encoding, or `encoders` encoding threads (at most the available cores: more
    /// only contend). An exporter that discards (`export: null`) encodes nothing.
    pub fn new(cfg: &ExporterConfig, encoders: usize, stats: Arc<StageStats>) -> Batches {
        let spec = Spec {
            format: cfg.format,
            version: cfg.version,
            flat: cfg.flat,
            alerts_only: cfg.records == RecordKind::Alert,
        };
        let n = encoders.min(defaults::concurrency()).max(1);
        let mode = if n > 1 && cfg.export != ExportKind::Null {
            threads(spec, n, &stats.label)
        } else {
            Mode::Inline(spec.encoder())
        };
        Batches {
            mode,
            spec,
            ready: VecDeque::new(),
            spare: Vec::new(),
            stats,
        }
    }

    /// Encodes a batch, or hands it to the encoding threads; whatever is done becomes ready.
    pub fn submit(&mut self, events: EventBatch) {
        let mut job = self.spare.pop().unwrap_or_default();
        job.events = events;
        match &mut self.mode {
            Mode::Inline(enc) => {
                job.encode(enc.as_mut(), self.spec.alerts_only);
                self.ready.push_back(job);
            }
            Mode::Threads { pool, .. } => {
                let res = pool.submit(job);
                self.got(res);
                while let Mode::Threads { pool, .. } = &mut self.mode {
                    let res = pool.poll_oldest();
                    if matches!(res, Ok(None)) {
                        break;
                    }
                    self.got(res);
                }
            }
        }
    }

    /// The next batch to send, in arrival order.
    pub fn ready(&mut self) -> Option<Encoded> {
        self.ready.pop_front()
    }

    /// Gives a sent batch's buffers back.
    pub fn recycle(&mut self, j: Encoded) {
        self.spare.push(j);
    }

    /// Where the oldest batch with the encoding threads will come back, if one is out (to
    /// wait for it and for input at once); pass what it yields to [`Batches::took`].
    pub fn oldest(&self) -> Option<Receiver<Encoded>> {
        match &self.mode {
            Mode::Threads { pool, .. } => pool.oldest(),
            Mode::Inline(_) => None,
        }
    }

    /// Takes the oldest batch received from [`Batches::oldest`] (`None`: its thread died).
    pub fn took(&mut self, j: Option<Encoded>) {
        if let Mode::Threads { pool, .. } = &mut self.mode {
            match j {
                Some(j) => {
                    let j = pool.took(j);
                    self.ready.push_back(j);
                }
                None => self.lost(WorkerGone),
            }
        }
    }

    /// Waits for every batch with the encoding threads.
    pub fn drain(&mut self) {
        while let Mode::Threads { pool, .. } = &mut self.mode {
            let res = pool.wait_oldest();
            if matches!(res, Ok(None)) {
                break;
            }
            self.got(res);
        }
    }

    /// Stops the encoding threads (after [`Batches::drain`]).
    pub fn finish(self) {
        if let Mode::Threads { pool, handles } = self.mode {
            drop(pool);
            for h in handles {
                if h.join().is_err() {
                    tracing::error!("{}: an encoding thread panicked", self.stats.label);
                }
            }
        }
    }

    fn got(&mut self, r: Result<Option<Encoded>, WorkerGone>) {
        match r {
            Ok(Some(j)) => self.ready.push_back(j),
            Ok(None) => {}
            Err(e) => self.lost(e),
        }
    }

    /// An encoding thread died (a bug in an encoder): the batches in flight are lost and
    /// counted as dropped; encoding goes on on the stage thread.
    fn lost(&mut self, e: WorkerGone) {
        if let Mode::Threads { pool, .. } = &self.mode {
            tracing::error!(
                "{}: {e}; {} batches in flight are lost, encoding on the stage thread from now on",
                self.stats.label,
                pool.in_flight()
            );
            StageStats::add(&self.stats.dropped, pool.in_flight() as u64);
        }
        // Dropping the pool ends the surviving threads (they are not joined).
        self.mode = Mode::Inline(self.spec.encoder());
    }
}

/// `n` encoding threads; inline encoding if any of them cannot start.
fn threads(spec: Spec, n: usize, label: &str) -> Mode {
    let (pool, workers) = parallel::ordered::<Encoded>(n, PER_THREAD);
    let mut handles = Vec::new();
    for (i, w) in workers.into_iter().enumerate() {
        let mut enc = spec.encoder();
        let h = std::thread::Builder::new()
            .name(format!("encode-{i}"))
            .spawn(move || w.run(|j| j.encode(enc.as_mut(), spec.alerts_only)));
        match h {
            Ok(h) => handles.push(h),
            Err(e) => tracing::warn!("{label}: cannot start encoding thread {i}: {e}"),
        }
    }
    if handles.len() < n {
        // A lane without its thread would keep its batches forever.
        drop(pool);
        for h in handles {
            let _ = h.join();
        }
        return Mode::Inline(spec.encoder());
    }
    Mode::Threads { pool, handles }
}
