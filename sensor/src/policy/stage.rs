//! The policy engine stage: evaluates every record's rules, on `concurrency` cores, and passes
//! the records on in input order.
//!
//! With one worker the stage thread evaluates itself. With more, the stage thread hands each
//! arriving batch to a pool of workers (a bounded job queue) and keeps a FIFO of the batches
//! in flight; results are passed on from the front of that FIFO only, so output order is
//! input order however the workers interleave (the original's workers reorder records). At
//! most `2 × workers` batches are in flight, so memory stays bounded. New rules are picked up
//! when a batch is dispatched: every record of a batch sees the same rules, and a reload takes
//! effect between two records.

use std::collections::VecDeque;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, select, Receiver, Sender};
use sysflow_policy::{Matches, Verdict};

use super::rules::Rules;
use crate::config::PolicyMode;
use crate::pipeline::{EventBatch, Fanout, StageStats};

/// What a policy stage needs to run.
pub struct PolicyStage {
    pub rules: Rules,
    /// Reloaded rule sets.
    pub swap: Receiver<Rules>,
    pub mode: PolicyMode,
    pub workers: usize,
    pub rx: Receiver<EventBatch>,
    pub outs: Fanout,
    pub stats: Arc<StageStats>,
}

/// One evaluated batch.
struct Done {
    out: EventBatch,
    input: u64,
    filtered: u64,
    alerts: u64,
}

/// A batch for a worker, with the rules in force when it arrived and where the result goes.
struct Job {
    batch: EventBatch,
    rules: Rules,
    done: Sender<Done>,
}

/// Evaluates one batch: keeps what the mode forwards, counts what it drops.
fn eval_batch(rules: &Rules, mode: PolicyMode, batch: EventBatch, m: &mut Matches) -> Done {
    let input = batch.len() as u64;
    let (mut filtered, mut alerts) = (0u64, 0u64);
    let mut out = Vec::with_capacity(batch.len());
    for mut ev in batch {
        match rules.eval(&mut ev, m) {
            Verdict::Drop => filtered += 1,
            Verdict::Pass => {
                if mode != PolicyMode::Alert {
                    out.push(ev);
                }
            }
            Verdict::Alert => {
                alerts += 1;
                if mode == PolicyMode::Filter {
                    ev.rules.clear();
                    ev.tags.clear();
                }
                out.push(ev);
            }
        }
    }
    Done {
        out,
        input,
        filtered,
        alerts,
    }
}

impl PolicyStage {
    /// Runs until the input closes and everything is passed on.
    pub fn run(self) {
        if self.workers <= 1 {
            self.run_inline();
        } else {
            self.run_pool();
        }
    }

    /// Takes the newest reloaded rules, if any.
    fn refresh(&mut self) {
        while let Ok(new) = self.swap.try_recv() {
            self.rules = new;
            tracing::info!("{}: new rules in force", self.stats.label);
        }
    }

    fn emit(&mut self, d: Done) {
        let s = &self.stats;
        StageStats::add(&s.input, d.input);
        StageStats::add(&s.filtered, d.filtered);
        StageStats::add(&s.alerts, d.alerts);
        StageStats::add(&s.output, d.out.len() as u64);
        self.outs.send(d.out, s);
    }

    fn run_inline(mut self) {
        let mut m = Matches::new();
        while let Ok(batch) = self.rx.recv() {
            self.refresh();
            let d = eval_batch(&self.rules, self.mode, batch, &mut m);
            self.emit(d);
        }
    }

    fn run_pool(mut self) {
        let (job_tx, job_rx) = bounded::<Job>(self.workers);
        let mode = self.mode;
        let mut handles: Vec<JoinHandle<()>> = Vec::new();
        for i in 0..self.workers {
            let jobs = job_rx.clone();
            let name = format!("policy-w{i}");
            let h = std::thread::Builder::new().name(name).spawn(move || {
                let mut m = Matches::new();
                for j in jobs {
                    let d = eval_batch(&j.rules, mode, j.batch, &mut m);
                    // The stage waits for every result it dispatched; it only goes away
                    // when the process does.
                    let _ = j.done.send(d);
                }
            });
            match h {
                Ok(h) => handles.push(h),
                Err(e) => tracing::warn!("{}: cannot start worker {i}: {e}", self.stats.label),
            }
        }
        drop(job_rx);
        if handles.is_empty() {
            drop(job_tx);
            return self.run_inline();
        }
        let limit = 2 * handles.len();
        // Results in input order, with the size of each batch (counted as dropped if lost).
        let mut pending: VecDeque<(Receiver<Done>, u64)> = VecDeque::with_capacity(limit + 1);
        loop {
            // Wait for the next batch, or pass on the oldest result as soon as it is ready
            // (so that a slow input does not hold finished records back).
            let next = match pending.front().cloned() {
                Some((front, n)) => select! {
                    recv(self.rx) -> b => Some(b.ok()),
                    recv(front) -> d => {
                        pending.pop_front();
                        self.finish(d.ok(), n);
                        None
                    }
                },
                None => Some(self.rx.recv().ok()),
            };
            match next {
                None => continue,
                Some(None) => break,
                Some(Some(batch)) => {
                    self.refresh();
                    let n = batch.len() as u64;
                    let (done_tx, done_rx) = bounded(1);
                    let job = Job {
                        batch,
                        rules: self.rules.clone(),
                        done: done_tx,
                    };
                    if job_tx.send(job).is_err() {
                        tracing::error!("{}: policy workers are gone", self.stats.label);
                        break;
                    }
                    pending.push_back((done_rx, n));
                    while pending.len() >= limit {
                        if let Some((front, n)) = pending.pop_front() {
                            self.finish(front.recv().ok(), n);
                        }
                    }
                }
            }
        }
        drop(job_tx);
        while let Some((front, n)) = pending.pop_front() {
            self.finish(front.recv().ok(), n);
        }
        for h in handles {
            if h.join().is_err() {
                tracing::error!("{}: a policy worker panicked", self.stats.label);
            }
        }
    }

    /// Passes on one result; `None` when its worker died with the batch (of `n` records).
    fn finish(&mut self, d: Option<Done>, n: u64) {
        match d {
            Some(d) => self.emit(d),
            None => {
                tracing::error!(
                    "{}: a policy worker failed; {n} records are lost",
                    self.stats.label
                );
                StageStats::add(&self.stats.input, n);
                StageStats::add(&self.stats.dropped, n);
            }
        }
    }
}

/// Worker count for a `concurrency` setting: never more than the available cores (more
/// workers than cores only contend).
pub fn workers(configured: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    configured.clamp(1, cores)
}
