//! Entity fragments: the encoded bytes of one entity (a process, its ancestry, its parent, a
//! container, a pod, a trace header), written once and copied into every later record of that
//! entity until the entity changes. Files are not among them: a file's parts are a few dozen
//! bytes and files change from record to record (44 % of lookups missed on the bench trace),
//! so a miss's copy into a slot and its pinned `Arc`, dropped later and cold, cost more than
//! encoding the part (enrich mode took 12–34 % more CPU with file parts cached, issue 19 in
//! `BENCHMARKS.md`).
//!
//! # Why an entity's identity is its version
//!
//! The flattener's entities are immutable `Arc`s. A process re-emitted by the collector (it
//! emits a `MODIFIED` Process record after EXEC and SETUID), an updated container or pod and a
//! new trace header (which also resets every table) each come as a new `Arc`; the ancestry is
//! a new `Arc` whenever a process on its chain is re-emitted or a missing parent arrives. So
//! the bytes encoded from an `Arc` stay right for as long as that `Arc` lives. A
//! [`FragmentCache`] keys fragments by the `Arc`'s address and holds a clone of it, so the
//! address cannot be reused by another entity while the fragment is cached: a lookup hit is
//! exact, never a guess. No version counter is needed in the flat record.
//!
//! # Bounds
//!
//! A cache is a direct-mapped table of [`SLOTS`] slots (like the entity tables, bounded, and
//! the newcomer evicts the slot's previous entity), holding at most [`MAX_BYTES`] of fragments,
//! none longer than [`MAX_FRAGMENT`] (longer ones are encoded every time). Evicted entities are
//! simply encoded again when they come back.
//!
//! # Using it from an encoder (JSON, ECS, sysprint JSON, a Falco-format encoder, …)
//!
//! 1. Split the document into parts, each reading one [`Entity`] only (plus constants and
//!    the encoder's own settings), or the record itself. Which attribute reads which entity
//!    is the encoder's to declare (e.g. `attrs::entity_of` for the `sf.*` attributes); read
//!    the attribute readers (`sysflow_model::flat`, `print::render`) when you declare it.
//! 2. Give each entity part its own [`FragmentCache`].
//! 3. Per record and entity part:
//!
//! ```ignore
//! match part.entity.key(&ev.rec) {
//!     Some(k) => cache.write(k, out, |out| encode_part(ev, out)),
//!     None => encode_part(ev, out), // absent entity, or a record the key cannot vouch for
//! }
//! ```
//!
//! [`Entity::key`] returns `None` when the part's bytes might depend on more than the
//! entity (e.g. `sf.proc.pid` is read from the record's process OID, which equals the
//! process's own OID only when the record joined that process): the part is then encoded
//! as if there were no cache. Caches belong to one encoder (one thread); an encoder whose
//! output also depends on per-file settings (sysprint's schema traits) clears them when
//! those change.

use std::sync::Arc;

use sysflow_model::flat::FlatRecord;
use sysflow_model::record::{Container, Pod, Process, SfHeader};

/// Slots of a cache (a power of two).
pub const SLOTS: usize = 1024;
/// Longest fragment kept; longer ones (a process with a huge environment) are not cached.
pub const MAX_FRAGMENT: usize = 16 << 10;
/// Bytes of fragments one cache holds at most.
pub const MAX_BYTES: usize = 4 << 20;

/// The entity a part of a document is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    /// The record's process (`FlatRecord::proc`), including what the record's process OID
    /// gives (`sf.proc.pid`, `sf.proc.oid`, `sf.proc.createts`).
    Proc,
    /// The ancestry list (`sf.proc.aname`, `apid`, …): the process and its ancestors.
    Ancestry,
    /// The parent process (`FlatRecord::pproc`), including what the process's parent OID
    /// gives (`sf.pproc.pid`, …).
    PProc,
    Container,
    Pod,
    /// The trace header (`sf.node.*`, `sf.meta.*`, sysprint's `node.*`, `filename`, `schema`).
    Header,
}

/// The entity instance a fragment is cached under.
#[derive(Debug, Clone, Copy)]
pub enum Key<'a> {
    Proc(&'a Arc<Process>),
    Ancestry(&'a Arc<[Arc<Process>]>),
    Container(&'a Arc<Container>),
    Pod(&'a Arc<Pod>),
    Header(&'a Arc<SfHeader>),
}

impl Entity {
    /// The instance of this entity in `r` to cache a fragment under; `None` when the entity
    /// is absent, or when `r` does not join it the way the flattener does (then a part's
    /// bytes may depend on the record too, and must be encoded afresh).
    #[inline]
    pub fn key(self, r: &FlatRecord) -> Option<Key<'_>> {
        match self {
            Entity::Proc => {
                let p = r.proc.as_ref()?;
                (r.rec.proc_oid() == Some(&p.oid)).then_some(Key::Proc(p))
            }
            Entity::Ancestry => Some(Key::Ancestry(&r.ancestry)),
            Entity::PProc => {
                let pp = r.pproc.as_ref()?;
                let p = r.proc.as_ref()?;
                (p.poid == Some(pp.oid)).then_some(Key::Proc(pp))
            }
            Entity::Container => r.container.as_ref().map(Key::Container),
            Entity::Pod => r.pod.as_ref().map(Key::Pod),
            Entity::Header => r.header.as_ref().map(Key::Header),
        }
    }
}

/// A clone of the keyed `Arc`, kept so that its address stays taken (held, never read).
#[derive(Debug)]
#[allow(dead_code)]
enum Pin {
    Proc(Arc<Process>),
    Ancestry(Arc<[Arc<Process>]>),
    Container(Arc<Container>),
    Pod(Arc<Pod>),
    Header(Arc<SfHeader>),
}

impl Key<'_> {
    fn addr(self) -> usize {
        match self {
            Key::Proc(a) => Arc::as_ptr(a) as *const () as usize,
            Key::Ancestry(a) => Arc::as_ptr(a) as *const () as usize,
            Key::Container(a) => Arc::as_ptr(a) as *const () as usize,
            Key::Pod(a) => Arc::as_ptr(a) as *const () as usize,
            Key::Header(a) => Arc::as_ptr(a) as *const () as usize,
        }
    }

    fn pin(self) -> Pin {
        match self {
            Key::Proc(a) => Pin::Proc(a.clone()),
            Key::Ancestry(a) => Pin::Ancestry(a.clone()),
            Key::Container(a) => Pin::Container(a.clone()),
            Key::Pod(a) => Pin::Pod(a.clone()),
            Key::Header(a) => Pin::Header(a.clone()),
        }
    }
}

#[derive(Debug, Default)]
struct Slot {
    /// Address of the pinned `Arc`; meaningful only while `pin` is set.
    addr: usize,
    pin: Option<Pin>,
    bytes: Vec<u8>,
}

/// Hits and misses of a cache since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
}

/// Fragments of one part of a document, keyed by entity instance (see the module docs).
#[derive(Debug)]
pub struct FragmentCache {
    slots: Box<[Slot]>,
    shift: u32,
    bytes: usize,
    stats: CacheStats,
}

impl Default for FragmentCache {
    fn default() -> Self {
        Self::new()
    }
}

impl FragmentCache {
    pub fn new() -> Self {
        Self::with_slots(SLOTS)
    }

    /// A cache of `slots` slots (rounded up to a power of two).
    pub fn with_slots(slots: usize) -> Self {
        let n = slots.max(1).next_power_of_two();
        FragmentCache {
            slots: (0..n).map(|_| Slot::default()).collect(),
            shift: 64 - n.trailing_zeros(),
            bytes: 0,
            stats: CacheStats::default(),
        }
    }

    /// Appends the fragment of `key` to `out`: the cached bytes, or what `encode` appends
    /// (which is then cached). `encode` must append the same bytes for every record with
    /// this key.
    #[inline]
    pub fn write(&mut self, key: Key<'_>, out: &mut Vec<u8>, encode: impl FnOnce(&mut Vec<u8>)) {
        let addr = key.addr();
        // Fibonacci hashing of the address (its low bits are alignment).
        let i = if self.shift >= 64 {
            0
        } else {
            ((addr as u64 >> 3).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
        };
        let slot = &mut self.slots[i];
        if slot.pin.is_some() && (slot.addr == addr) {
            self.stats.hits += 1;
            out.extend_from_slice(&slot.bytes);
            return;
        }
        self.stats.misses += 1;
        let start = out.len();
        encode(out);
        let frag = &out[start..];
        let old = if slot.pin.is_some() {
            slot.bytes.len()
        } else {
            0
        };
        if frag.len() > MAX_FRAGMENT || self.bytes - old + frag.len() > MAX_BYTES {
            return;
        }
        self.bytes = self.bytes - old + frag.len();
        slot.bytes.clear();
        slot.bytes.extend_from_slice(frag);
        if slot.bytes.capacity() > 2 * MAX_FRAGMENT {
            slot.bytes.shrink_to(MAX_FRAGMENT);
        }
        slot.addr = addr;
        slot.pin = Some(key.pin());
    }

    /// Drops every fragment (and the entities it pinned).
    pub fn clear(&mut self) {
        for s in self.slots.iter_mut() {
            s.pin = None;
            s.bytes.clear();
        }
        self.bytes = 0;
    }

    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    /// Fragments currently held.
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.pin.is_some()).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One cache per part of a document, with the hit counts summed (for tests and logs).
#[derive(Debug, Default)]
pub struct Caches(Vec<FragmentCache>);

impl Caches {
    pub fn new(parts: usize) -> Self {
        Caches((0..parts).map(|_| FragmentCache::new()).collect())
    }

    /// The cache of part `i`.
    #[inline]
    pub fn get(&mut self, i: usize) -> &mut FragmentCache {
        &mut self.0[i]
    }

    pub fn clear(&mut self) {
        self.0.iter_mut().for_each(FragmentCache::clear);
    }

    pub fn stats(&self) -> CacheStats {
        self.0
            .iter()
            .fold(CacheStats::default(), |a, c| CacheStats {
                hits: a.hits + c.stats.hits,
                misses: a.misses + c.stats.misses,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc(exe: &str) -> Arc<Process> {
        Arc::new(Process {
            exe: exe.into(),
            ..Default::default()
        })
    }

    fn enc(c: &mut FragmentCache, p: &Arc<Process>) -> String {
        let mut out = Vec::new();
        c.write(Key::Proc(p), &mut out, |o| {
            o.extend_from_slice(p.exe.as_bytes())
        });
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn hit_until_the_entity_is_replaced() {
        let mut c = FragmentCache::new();
        let a = proc("/bin/sh");
        assert_eq!(enc(&mut c, &a), "/bin/sh");
        assert_eq!(enc(&mut c, &a), "/bin/sh");
        assert_eq!(c.stats(), CacheStats { hits: 1, misses: 1 });
        // The re-emitted process (after an EXEC) is a new Arc: a miss, new bytes.
        let b = proc("/bin/ls");
        assert_eq!(enc(&mut c, &b), "/bin/ls");
        assert_eq!(c.stats().misses, 2);
    }

    /// A dropped entity's address may be handed to the next allocation; the pin keeps the
    /// cached one alive, so a new entity never finds the old bytes.
    #[test]
    fn freed_addresses_are_not_reused_while_cached() {
        let mut c = FragmentCache::with_slots(1);
        for i in 0..1000 {
            let p = proc(&format!("/bin/p{i}"));
            assert_eq!(enc(&mut c, &p), format!("/bin/p{i}"));
            drop(p);
        }
        assert_eq!(c.stats().hits, 0);
    }

    #[test]
    fn bounded_by_slots_and_bytes() {
        let mut c = FragmentCache::with_slots(4);
        let ps: Vec<_> = (0..64).map(|i| proc(&format!("p{i}"))).collect();
        for p in &ps {
            enc(&mut c, p);
        }
        assert!(c.len() <= 4);
        let big = proc(&"x".repeat(MAX_FRAGMENT + 1));
        let mut c = FragmentCache::new();
        assert_eq!(enc(&mut c, &big).len(), MAX_FRAGMENT + 1);
        assert_eq!(enc(&mut c, &big).len(), MAX_FRAGMENT + 1);
        assert_eq!(c.stats().hits, 0, "oversized fragments are not kept");
        assert!(c.is_empty());
    }
}
