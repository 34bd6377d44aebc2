//! Entity tables and the flattener: the reader-side cache of headers, containers, pods,
//! processes and files, and the join of every event/flow with the entities it references.
//!
//! Semantics follow the Go processor's `core/cache/tables.go` (reference §3.3) with these
//! deliberate differences (see `docs/compatibility.md`, "Flattening and attributes"):
//! - Tables are bounded ([`TableConfig`]); the oldest-inserted entry is evicted first (FIFO),
//!   evictions are counted in [`FlattenerStats`]. The original grows without limit.
//! - Process lookup keeps the latest record emitted for an OID. The Go table keeps one slot
//!   per state and prefers MODIFIED > CREATED > REUP; the collector emits CREATED or REUP once
//!   per header epoch and MODIFIED after each EXEC/SETUID, so within an epoch the latest record
//!   *is* the preferred one (REUP follows a header, which resets the tables). Older collectors
//!   also repeat REUP copies inside an epoch; on all shared traces the latest record and the
//!   preferred one differ only in `state` and `ts`, neither of which is an attribute.
//! - The ancestry (self first) is memoized per OID but refreshed when any process on the chain
//!   is re-emitted or a missing parent arrives (the original never invalidates it: stale-ancestry
//!   QUIRK). POID chains have a cycle guard and a depth bound.
//! - PF and NE records are flattened too (the original drops them silently).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::Arc;

use crate::flat::FlatRecord;
use crate::record::{Container, File, Foid, Oid, Pod, Process, SfHeader, SysFlow};

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Capacity of each entity table. Defaults are sized for a busy host (a million processes and
/// files, ten thousand containers and pods); a full table evicts its oldest-inserted entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableConfig {
    pub max_processes: usize,
    pub max_files: usize,
    pub max_containers: usize,
    pub max_pods: usize,
    /// Longest ancestry kept (self included); longer POID chains are cut and counted.
    pub max_ancestry_depth: usize,
}

impl Default for TableConfig {
    fn default() -> Self {
        TableConfig {
            max_processes: 1 << 20,
            max_files: 1 << 20,
            max_containers: 1 << 14,
            max_pods: 1 << 14,
            max_ancestry_depth: 128,
        }
    }
}

/// Evictions per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Evictions {
    pub processes: u64,
    pub files: u64,
    pub containers: u64,
    pub pods: u64,
}

/// Counters of the flattener (since creation; headers do not reset them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlattenerStats {
    /// Records pushed, entities and headers included.
    pub records: u64,
    /// Flat records produced.
    pub flattened: u64,
    /// SFHeader records (each one resets the tables).
    pub headers: u64,
    pub evictions: Evictions,
    /// Events/flows whose procOID is not in the process table.
    pub missing_processes: u64,
    /// Flattened processes whose POID is set but not in the table (dangling POIDs are normal
    /// for processes whose parent was never emitted).
    pub missing_parents: u64,
    /// FF/FE whose fileOID (or FE newFileOID) is not in the file table.
    pub missing_files: u64,
    /// Processes with a container id that is not in the container table.
    pub missing_containers: u64,
    /// Containers with a pod id that is not in the pod table.
    pub missing_pods: u64,
    /// POID chains that loop back on themselves (cut at the repeat).
    pub ancestry_cycles: u64,
    /// POID chains longer than [`TableConfig::max_ancestry_depth`] (cut).
    pub ancestry_truncated: u64,
}

/// A hash map with a capacity and oldest-inserted-first eviction in O(1) per insert.
///
/// The queue holds exactly the keys of the map in insertion order: keys leave the map only
/// by eviction (front of the queue) or by `clear`, so no tombstones are needed.
#[derive(Debug)]
struct BoundedMap<K, V> {
    map: FastMap<K, V>,
    order: VecDeque<K>,
    cap: usize,
}

impl<K: Hash + Eq + Clone, V> BoundedMap<K, V> {
    fn new(cap: usize) -> Self {
        BoundedMap {
            map: FastMap::default(),
            order: VecDeque::new(),
            cap: cap.max(1),
        }
    }

    fn get(&self, k: &K) -> Option<&V> {
        self.map.get(k)
    }

    fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        self.map.get_mut(k)
    }

    /// Inserts or replaces; returns true when an older entry was evicted to make room.
    fn insert(&mut self, k: K, v: V) -> bool {
        if let Some(slot) = self.map.get_mut(&k) {
            // Re-emission keeps the key's original position in the eviction order.
            *slot = v;
            return false;
        }
        let mut evicted = false;
        if self.map.len() >= self.cap {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
                evicted = true;
            }
        }
        self.order.push_back(k.clone());
        self.map.insert(k, v);
        evicted
    }

    fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

/// A process with its memoized ancestry.
#[derive(Debug)]
struct ProcEntry {
    proc: Arc<Process>,
    /// Ancestry (self first) and the process-table generation it was last validated at.
    ancestry: Option<(u64, Arc<[Arc<Process>]>)>,
}

/// Builds [`FlatRecord`]s from a stream of SysFlow records.
#[derive(Debug)]
pub struct Flattener {
    cfg: TableConfig,
    header: Option<Arc<SfHeader>>,
    containers: BoundedMap<String, Arc<Container>>,
    pods: BoundedMap<String, Arc<Pod>>,
    procs: BoundedMap<Oid, ProcEntry>,
    files: BoundedMap<Foid, Arc<File>>,
    /// Bumped by every Process record: memoized ancestries older than this are re-validated.
    proc_gen: u64,
    empty: Arc<[Arc<Process>]>,
    stats: FlattenerStats,
}

impl Flattener {
    pub fn new(cfg: TableConfig) -> Self {
        Flattener {
            cfg,
            header: None,
            containers: BoundedMap::new(cfg.max_containers),
            pods: BoundedMap::new(cfg.max_pods),
            procs: BoundedMap::new(cfg.max_processes),
            files: BoundedMap::new(cfg.max_files),
            proc_gen: 0,
            empty: Arc::from(Vec::new()),
            stats: FlattenerStats::default(),
        }
    }

    pub fn stats(&self) -> &FlattenerStats {
        &self.stats
    }

    pub fn config(&self) -> &TableConfig {
        &self.cfg
    }

    /// Header of the current epoch.
    pub fn header(&self) -> Option<&Arc<SfHeader>> {
        self.header.as_ref()
    }

    /// Latest record of a process.
    pub fn process(&self, oid: &Oid) -> Option<&Arc<Process>> {
        self.procs.get(oid).map(|e| &e.proc)
    }

    pub fn file(&self, oid: &Foid) -> Option<&Arc<File>> {
        self.files.get(oid)
    }

    pub fn container(&self, id: &str) -> Option<&Arc<Container>> {
        self.containers.map.get(id)
    }

    pub fn pod(&self, id: &str) -> Option<&Arc<Pod>> {
        self.pods.map.get(id)
    }

    /// Number of entries per table: (processes, files, containers, pods).
    pub fn table_sizes(&self) -> (usize, usize, usize, usize) {
        (
            self.procs.len(),
            self.files.len(),
            self.containers.len(),
            self.pods.len(),
        )
    }

    /// Takes one record. Headers and entities update the tables and yield `None`; events,
    /// flows and K8s events yield their flat record. `FlatRecord::index` is the position of
    /// the record among all records pushed so far (0-based).
    pub fn push(&mut self, rec: SysFlow) -> Option<FlatRecord> {
        let index = self.stats.records;
        self.stats.records += 1;
        match rec {
            SysFlow::Header(h) => {
                self.stats.headers += 1;
                self.reset();
                self.header = Some(Arc::new(h));
                None
            }
            SysFlow::Container(c) => {
                if self.containers.insert(c.id.clone(), Arc::new(c)) {
                    self.stats.evictions.containers += 1;
                }
                None
            }
            SysFlow::Pod(p) => {
                if self.pods.insert(p.id.clone(), Arc::new(p)) {
                    self.stats.evictions.pods += 1;
                }
                None
            }
            SysFlow::Process(p) => {
                self.proc_gen += 1;
                let entry = ProcEntry {
                    proc: Arc::new(p),
                    ancestry: None,
                };
                if self.procs.insert(entry.proc.oid, entry) {
                    self.stats.evictions.processes += 1;
                }
                None
            }
            SysFlow::File(f) => {
                if self.files.insert(f.oid, Arc::new(f)) {
                    self.stats.evictions.files += 1;
                }
                None
            }
            SysFlow::K8sEvent(_) => {
                self.stats.flattened += 1;
                Some(FlatRecord {
                    index,
                    header: self.header.clone(),
                    proc: None,
                    pproc: None,
                    ancestry: self.empty.clone(),
                    file: None,
                    newfile: None,
                    container: None,
                    pod: None,
                    rec,
                })
            }
            _ => Some(self.join(index, rec)),
        }
    }

    /// Resets every table (a new header starts a self-contained epoch).
    fn reset(&mut self) {
        self.containers.clear();
        self.pods.clear();
        self.procs.clear();
        self.files.clear();
    }

    fn join(&mut self, index: u64, rec: SysFlow) -> FlatRecord {
        self.stats.flattened += 1;
        let (file_oid, newfile_oid) = match &rec {
            SysFlow::FileFlow(r) => (Some(r.file_oid), None),
            SysFlow::FileEvent(r) => (Some(r.file_oid), r.new_file_oid),
            _ => (None, None),
        };
        let ancestry = match rec.proc_oid() {
            Some(oid) => {
                let oid = *oid;
                self.ancestry(&oid)
            }
            None => None,
        };
        let ancestry = match ancestry {
            Some(a) => a,
            None => {
                self.stats.missing_processes += 1;
                self.empty.clone()
            }
        };
        let proc = ancestry.first().cloned();
        let pproc = ancestry.get(1).cloned();
        if let Some(p) = &proc {
            if p.poid.is_some() && pproc.is_none() {
                self.stats.missing_parents += 1;
            }
        }
        let file = file_oid.and_then(|o| self.lookup_file(&o));
        let newfile = newfile_oid.and_then(|o| self.lookup_file(&o));
        let container = match proc.as_ref().and_then(|p| p.container_id.as_deref()) {
            Some(id) if !id.is_empty() => {
                let c = self.containers.map.get(id).cloned();
                if c.is_none() {
                    self.stats.missing_containers += 1;
                }
                c
            }
            _ => None,
        };
        let pod = match container.as_ref().and_then(|c| c.pod_id.as_deref()) {
            Some(id) if !id.is_empty() => {
                let p = self.pods.map.get(id).cloned();
                if p.is_none() {
                    self.stats.missing_pods += 1;
                }
                p
            }
            _ => None,
        };
        FlatRecord {
            index,
            rec,
            header: self.header.clone(),
            proc,
            pproc,
            ancestry,
            file,
            newfile,
            container,
            pod,
        }
    }

    fn lookup_file(&mut self, oid: &Foid) -> Option<Arc<File>> {
        let f = self.files.get(oid).cloned();
        if f.is_none() {
            self.stats.missing_files += 1;
        }
        f
    }

    /// Ancestry of a process, self first; `None` when the process is unknown.
    /// Hot path: a memo hit at the current generation costs one lookup and an `Arc` clone.
    fn ancestry(&mut self, oid: &Oid) -> Option<Arc<[Arc<Process>]>> {
        let gen = self.proc_gen;
        let entry = self.procs.get(oid)?;
        if let Some((g, a)) = &entry.ancestry {
            if *g == gen {
                return Some(a.clone());
            }
            // Some process record arrived since: keep the memo if nothing on this chain
            // changed (no allocation), else rebuild.
            if self.chain_unchanged(a) {
                let a = a.clone();
                if let Some(e) = self.procs.get_mut(oid) {
                    e.ancestry = Some((gen, a.clone()));
                }
                return Some(a);
            }
        }
        let a = self.build_ancestry(entry.proc.clone());
        if let Some(e) = self.procs.get_mut(oid) {
            e.ancestry = Some((gen, a.clone()));
        }
        Some(a)
    }

    /// True when rebuilding the ancestry now would give the same processes.
    fn chain_unchanged(&self, a: &[Arc<Process>]) -> bool {
        for p in a {
            match self.procs.get(&p.oid) {
                Some(e) if Arc::ptr_eq(&e.proc, p) => {}
                _ => return false,
            }
        }
        // The chain ended at a missing parent, a cycle or the depth bound: it changed only if
        // the missing parent has arrived since.
        let Some(last) = a.last() else { return true };
        if a.len() >= self.cfg.max_ancestry_depth.max(1) {
            return true;
        }
        match last.poid {
            Some(p) => !self.procs.map.contains_key(&p) || a.iter().any(|x| x.oid == p),
            None => true,
        }
    }

    fn build_ancestry(&mut self, me: Arc<Process>) -> Arc<[Arc<Process>]> {
        let max = self.cfg.max_ancestry_depth.max(1);
        let mut v: Vec<Arc<Process>> = Vec::with_capacity(8);
        let mut cur = me.poid;
        v.push(me);
        while let Some(p) = cur {
            if v.len() >= max {
                self.stats.ancestry_truncated += 1;
                break;
            }
            if v.iter().any(|x| x.oid == p) {
                self.stats.ancestry_cycles += 1;
                break;
            }
            match self.procs.get(&p) {
                Some(e) => {
                    cur = e.proc.poid;
                    v.push(e.proc.clone());
                }
                None => break,
            }
        }
        Arc::from(v)
    }
}

impl Default for Flattener {
    fn default() -> Self {
        Flattener::new(TableConfig::default())
    }
}

#[cfg(test)]
mod tests;
