//! The flattener's time-decay duplicate filter (`filter.enabled: on`, reference §4.3): a PE,
//! FF, FE or NF record whose semantic hash was first seen less than `filter.maxage` ago is
//! dropped. The window runs from the first sighting (repeats do not extend it) and uses wall
//! clock time, as in the original; unlike the original the table is capped (oldest evicted).

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use sysflow_model::flat::FlatRecord;
use sysflow_model::SysFlow;
use xxhash_rust::xxh64::Xxh64;

use super::joiner::Flatten;

/// Most hashes remembered at once.
const CAP: usize = 1 << 20;

pub struct DecayFilter<F> {
    inner: F,
    maxage: Duration,
    seen: HashSet<u64>,
    queue: VecDeque<(u64, Instant)>,
}

impl<F> DecayFilter<F> {
    pub fn new(inner: F, maxage: Duration) -> Self {
        DecayFilter {
            inner,
            maxage,
            seen: HashSet::new(),
            queue: VecDeque::new(),
        }
    }
}

/// The original's semantic hash; `None` for record types the filter does not apply to.
fn semantic_hash(f: &FlatRecord) -> Option<u64> {
    let mut h = Xxh64::new(0);
    let p = f.proc.as_deref();
    h.update(p.map(|p| p.exe.as_bytes()).unwrap_or_default());
    h.update(p.map(|p| p.exe_args.as_bytes()).unwrap_or_default());
    let ints = |h: &mut Xxh64, v: &[i64]| v.iter().for_each(|x| h.update(&x.to_le_bytes()));
    let (uid, gid, tty) = p.map_or((0, 0, 0), |p| (p.uid as i64, p.gid as i64, p.tty as i64));
    let path = |h: &mut Xxh64, fo: &Option<std::sync::Arc<sysflow_model::File>>| {
        h.update(fo.as_deref().map(|x| x.path.as_bytes()).unwrap_or_default())
    };
    match &f.rec {
        SysFlow::ProcessEvent(e) => ints(&mut h, &[uid, gid, e.op_flags.0 as i64, tty]),
        SysFlow::FileFlow(e) => {
            ints(&mut h, &[uid, gid, e.op_flags.0 as i64, tty]);
            path(&mut h, &f.file);
        }
        SysFlow::FileEvent(e) => {
            ints(&mut h, &[uid, gid, e.op_flags.0 as i64, tty]);
            path(&mut h, &f.file);
        }
        SysFlow::NetworkFlow(e) => {
            ints(&mut h, &[uid, gid, e.op_flags.0 as i64, tty]);
            ints(
                &mut h,
                &[e.sip as i64, e.dip as i64, e.dport as i64, e.proto as i64],
            );
        }
        _ => return None,
    }
    Some(h.digest())
}

impl<F: Flatten> Flatten for DecayFilter<F> {
    fn push(&mut self, rec: SysFlow) -> Option<FlatRecord> {
        let f = self.inner.push(rec)?;
        let Some(hash) = semantic_hash(&f) else {
            return Some(f);
        };
        let now = Instant::now();
        while let Some(&(h, t)) = self.queue.front() {
            if now.duration_since(t) < self.maxage && self.queue.len() < CAP {
                break;
            }
            self.seen.remove(&h);
            self.queue.pop_front();
        }
        if !self.seen.insert(hash) {
            return None;
        }
        self.queue.push_back((hash, now));
        Some(f)
    }
}
