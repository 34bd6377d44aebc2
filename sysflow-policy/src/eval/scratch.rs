//! Per-worker scratch space: strings for rendered fields, the per-record memo and the
//! per-process cache of sub-conditions that read only the process context.

use std::sync::Arc;

use sysflow_model::flat::FlatRecord;
use sysflow_model::{Container, Pod, Process};

/// Per-worker scratch space: strings for fields that render (json paths) and the per-record
/// memo of shared sub-conditions ([`Cond::Memo`]).
#[derive(Debug, Default)]
pub struct Scratch {
    pub(super) a: String,
    pub(super) b: String,
    /// `memo[id]` = `gen << 1 | result` when sub-condition `id` was evaluated for the
    /// current record (generation `gen`); anything else means "not yet".
    pub(super) memo: Vec<u32>,
    pub(super) gen: u32,
    /// Per-process memo ([`Cond::ProcMemo`]): results of sub-conditions that read only the
    /// process context, reused by every record of the same process.
    pub(super) procs: ProcCache,
}

/// Slots of a direct-mapped per-process cache (a power of two).
const PROC_CACHE: usize = 512;

/// One cached process context. It holds clones of the `Arc`s it is keyed by, so none of
/// them can be freed and its address reused by another entity while the entry lives: equal
/// pointers mean the same immutable entities, hence the same results.
#[derive(Debug)]
pub(super) struct ProcEntry {
    ancestry: Arc<[Arc<Process>]>,
    pproc: Option<Arc<Process>>,
    container: Option<Arc<Container>>,
    pod: Option<Arc<Pod>>,
    /// Per process slot: 0 not evaluated, 1 false, 2 true.
    pub(super) state: Box<[u8]>,
}

#[derive(Debug, Default)]
pub(super) struct ProcCache {
    pub(super) entries: Vec<Option<ProcEntry>>,
    /// Entry of the current record (None: no process, evaluate without the cache).
    pub(super) cur: Option<usize>,
}

fn same<T: ?Sized>(a: &Option<Arc<T>>, b: &Option<Arc<T>>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => Arc::ptr_eq(x, y),
        (None, None) => true,
        _ => false,
    }
}

impl ProcCache {
    fn enter(&mut self, r: &FlatRecord, slots: usize) {
        self.cur = None;
        if slots == 0 || r.proc.is_none() || r.ancestry.is_empty() {
            return;
        }
        if self.entries.is_empty() {
            self.entries.resize_with(PROC_CACHE, || None);
        }
        let key = Arc::as_ptr(&r.ancestry) as *const u8 as usize;
        let i = (key >> 4 ^ key >> 13) & (PROC_CACHE - 1);
        let hit = self.entries[i].as_ref().is_some_and(|e| {
            Arc::ptr_eq(&e.ancestry, &r.ancestry)
                && same(&e.pproc, &r.pproc)
                && same(&e.container, &r.container)
                && same(&e.pod, &r.pod)
                && e.state.len() == slots
        });
        // The process itself is ancestry[0]; the parent is compared too in case a table
        // ever joins them differently.
        let hit = hit
            && r.proc
                .as_ref()
                .is_some_and(|p| Arc::ptr_eq(p, &r.ancestry[0]));
        if !hit {
            if r.proc
                .as_ref()
                .is_none_or(|p| !Arc::ptr_eq(p, &r.ancestry[0]))
            {
                return;
            }
            self.entries[i] = Some(ProcEntry {
                ancestry: r.ancestry.clone(),
                pproc: r.pproc.clone(),
                container: r.container.clone(),
                pod: r.pod.clone(),
                state: vec![0; slots].into(),
            });
        }
        self.cur = Some(i);
    }
}

impl Scratch {
    /// Starts a new record: forgets every per-record result (O(1) but every 2^31 records)
    /// and finds the record's process context in the per-process cache.
    #[inline]
    pub fn next_record(&mut self, r: &FlatRecord, memo_slots: usize, proc_slots: usize) {
        self.procs.enter(r, proc_slots);
        if self.memo.len() < memo_slots {
            self.memo.resize(memo_slots, 0);
        }
        self.gen = self.gen.wrapping_add(1) & 0x7fff_ffff;
        if self.gen == 0 {
            self.memo.iter_mut().for_each(|m| *m = 0);
            self.gen = 1;
        }
    }
}
