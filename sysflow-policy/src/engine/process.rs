//! The hot path: one record (or a batch) through the filters and the rules its record type
//! and operation can match. Nothing here allocates per record: [`Matches`] is reused.

use sysflow_model::flat::FlatRecord;
use sysflow_model::SysFlow;

use super::{Mode, PolicyEngine, Verdict};
use crate::eval::Scratch;
use crate::rule::Rule;

/// Matched rules of one record, in declaration order, plus the worker's scratch space.
/// Reuse one per worker: `process` clears it.
#[derive(Debug, Default)]
pub struct Matches {
    rules: Vec<u32>,
    scratch: Scratch,
}

impl Matches {
    pub fn new() -> Self {
        Self::default()
    }
    /// Indices into [`PolicyEngine::rules`].
    pub fn indices(&self) -> &[u32] {
        &self.rules
    }
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
    pub fn len(&self) -> usize {
        self.rules.len()
    }
    /// The matched rules.
    pub fn iter<'e>(&'e self, engine: &'e PolicyEngine) -> impl Iterator<Item = &'e Rule> + 'e {
        self.rules.iter().map(move |&i| &engine.rules[i as usize])
    }
}

impl PolicyEngine {
    /// Evaluates filters, then (unless in filter mode) every rule that can match the
    /// record's type and operation. Fills `m` with the matched rules in declaration order.
    pub fn process(&self, r: &FlatRecord, m: &mut Matches) -> Verdict {
        m.rules.clear();
        m.scratch.next_record(r, self.memo_slots, self.proc_slots);
        let t = r.rec.record_type() as usize;
        let ops = rec_opflags(&r.rec);
        for &i in &self.filters_by_type[t] {
            let f = &self.filters[i as usize];
            if f.ops != 0 && ops & f.ops == 0 {
                continue;
            }
            if f.cond.eval(r, &mut m.scratch) {
                return Verdict::Drop;
            }
        }
        if self.mode == Mode::Filter {
            return Verdict::Pass;
        }
        for &i in &self.rules_by_type[t] {
            let c = &self.conds[i as usize];
            if c.ops != 0 && ops & c.ops == 0 {
                continue;
            }
            if c.cond.eval(r, &mut m.scratch) {
                m.rules.push(i);
            }
        }
        if m.rules.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Alert
        }
    }

    /// Processes a batch on `threads` threads (scoped), keeping input order.
    pub fn process_batch(&self, recs: &[FlatRecord], threads: usize) -> BatchResult {
        let threads = threads.max(1).min(recs.len().max(1));
        let chunk = recs.len().div_ceil(threads).max(1);
        let parts: Vec<BatchResult> = std::thread::scope(|s| {
            let hs: Vec<_> = recs
                .chunks(chunk)
                .map(|c| {
                    s.spawn(move || {
                        let mut m = Matches::new();
                        let mut out = BatchResult::with_capacity(c.len());
                        for r in c {
                            let v = self.process(r, &mut m);
                            out.push(v, m.indices());
                        }
                        out
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        let mut all = BatchResult::with_capacity(recs.len());
        for p in parts {
            all.append(p);
        }
        all
    }
}

/// Verdicts and matched rule indices of a batch, in input order, without a per-record
/// allocation.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchResult {
    pub verdicts: Vec<Verdict>,
    ends: Vec<u32>,
    rules: Vec<u32>,
}

impl BatchResult {
    fn with_capacity(n: usize) -> Self {
        BatchResult {
            verdicts: Vec::with_capacity(n),
            ends: Vec::with_capacity(n),
            rules: Vec::new(),
        }
    }
    fn push(&mut self, v: Verdict, rules: &[u32]) {
        self.verdicts.push(v);
        self.rules.extend_from_slice(rules);
        self.ends.push(self.rules.len() as u32);
    }
    fn append(&mut self, o: BatchResult) {
        let base = self.rules.len() as u32;
        self.verdicts.extend(o.verdicts);
        self.ends.extend(o.ends.iter().map(|e| e + base));
        self.rules.extend(o.rules);
    }
    /// Matched rule indices of record `i`.
    pub fn matches(&self, i: usize) -> &[u32] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.rules[start..self.ends[i] as usize]
    }
    pub fn len(&self) -> usize {
        self.verdicts.len()
    }
    pub fn is_empty(&self) -> bool {
        self.verdicts.is_empty()
    }
}

/// Op flags of an event or flow (0 for other records).
fn rec_opflags(r: &SysFlow) -> u32 {
    match r {
        SysFlow::ProcessEvent(x) => x.op_flags.0,
        SysFlow::NetworkFlow(x) => x.op_flags.0,
        SysFlow::FileFlow(x) => x.op_flags.0,
        SysFlow::FileEvent(x) => x.op_flags.0,
        SysFlow::NetworkEvent(x) => x.op_flags.0,
        SysFlow::ProcessFlow(x) => x.op_flags.0,
        _ => 0,
    }
}
