//! The record builder: turns raw probe events into SysFlow records with the collector's
//! semantics (reference §3.2 and §8):
//!
//! - entities are written lazily, right before the first record that needs them, in
//!   dependency order: container → ancestors (root first) → process → file(s);
//! - OID = (start time ns, host pid); FOID = SHA-1(container id ‖ path);
//! - file and network flows are kept per thread and descriptor; CLOSE writes the closing
//!   thread's flow and truncates the other threads' flows on that descriptor; thread exit
//!   truncates that thread's flows, process exit all of them, then writes PE EXIT;
//! - long-running flows are written every 30 s and reset; idle ones expire silently;
//! - read-only file flows under /proc, /dev, /sys and the library dirs are not written;
//! - CLONE is written from both sides; EXEC, SETUID and a move to another container re-emit
//!   the process as MODIFIED;
//! - processes the probes did not see start are read from /proc so their events join;
//! - IPv6 flows, which the v5 NetworkFlow cannot carry, go to a separate queue and are counted.
//!
//! This module holds the [`Builder`] type, its tables and the dispatch of a raw event; the
//! work is split along what it handles:
//!
//! - `containers`: the container of each process (cgroup names from the probes), Container
//!   and Pod entities with the runtime's metadata, written again when it arrives;
//! - `entities`: the process and file tables and their lazy emission;
//! - `process`: clone, exec, exit and setuid → process events;
//! - `files`: path resolution, opens, descriptor duplication and file events;
//! - `flows`: the file and network flow table, I/O accounting and flow records;
//! - `time`: the kernel clock, periodic export and expiry of flows, the final flush.

mod containers;
mod entities;
mod files;
mod flows;
mod process;
mod time;

use std::{
    collections::{HashMap, HashSet},
    path::PathBuf,
};

use sensor_ebpf_common::SockTuple;
use sysflow_model::{ContainerType, Foid, NetworkFlow, Oid, SysFlow};

use super::{
    containers::{CgroupContainer, ContainerMeta, Runtimes},
    procfs::{self, Clocks, Names},
    raw::RawEvent,
};

pub use files::ppm_open_flags;

/// Knobs of the record builder (collector defaults).
#[derive(Debug, Clone)]
pub struct BuilderConfig {
    /// 2: suppress read-only flows under system prefixes; 1: all read-only flows; 0: none.
    pub file_read_mode: u8,
    /// Long-running flows are written this often (ns).
    pub export_interval_ns: i64,
    /// Flows idle this long are dropped without being written (ns).
    pub expire_interval_ns: i64,
    /// Root of the proc filesystem (tests point it elsewhere).
    pub proc_root: PathBuf,
}

impl Default for BuilderConfig {
    fn default() -> Self {
        BuilderConfig {
            file_read_mode: 2,
            export_interval_ns: 30_000_000_000,
            expire_interval_ns: 60_000_000_000,
            proc_root: PathBuf::from("/proc"),
        }
    }
}

/// A network flow over IPv6: the v5 fields plus the 16-byte addresses the schema lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkFlow6 {
    /// The flow with `sip`/`dip` set to 0.
    pub flow: NetworkFlow,
    pub sip6: [u8; 16],
    pub dip6: [u8; 16],
}

/// Counters of what the builder did (self-observation).
#[derive(Debug, Default, Clone)]
pub struct BuilderStats {
    pub events: u64,
    pub records: u64,
    pub ipv6_flows: u64,
    /// I/O on descriptors whose target could not be found (opened before start and gone).
    pub unresolved_fds: u64,
    /// Read-only flows not written because of the read mode.
    pub suppressed_flows: u64,
    /// Flows dropped after being idle past the expire interval.
    pub expired_flows: u64,
}

struct Proc {
    oid: Oid,
    poid: Option<Oid>,
    ppid: u32,
    exe: String,
    args: String,
    uid: u32,
    gid: u32,
    tty: bool,
    cwd: String,
    container: Option<String>,
    written: bool,
    /// Set when the process exited; pruned later.
    exited: bool,
}

/// A container met in this run: its runtime type (from the cgroup naming scheme) and what
/// the runtime said of it.
struct ContEnt {
    ty: ContainerType,
    /// The runtime's full id (bundle directories are named by it).
    full_id: String,
    written: bool,
    meta: Option<std::sync::Arc<ContainerMeta>>,
}

struct FileEnt {
    path: String,
    restype: u8,
    container: Option<String>,
    written: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Unknown,
    Client,
    Server,
}

#[derive(Clone, Copy)]
enum FdInfo {
    /// `linux_flags`: the `O_*` flags of the open, `None` when the descriptor was found in
    /// /proc (opened before the sensor, or duplicated from such a descriptor).
    File {
        foid: Foid,
        linux_flags: Option<u32>,
    },
    Sock {
        role: Role,
    },
}

const O_CLOEXEC: u32 = 0o2000000;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct FlowKey {
    tgid: u32,
    tid: u32,
    fd: i32,
    /// 0 for files and connected sockets; a hash of the peer for unconnected UDP.
    peer: u64,
}

enum FlowKind {
    File { foid: Foid, open_flags: u32 },
    Net { tuple: SockTuple, role: Role },
}

struct Flow {
    kind: FlowKind,
    ts: i64,
    last_export: i64,
    last_activity: i64,
    op_flags: u32,
    rops: i64,
    wops: i64,
    rbytes: i64,
    wbytes: i64,
}

/// The builder's tables are looked up several times per event; their keys are kernel-assigned
/// ids and SHA-1 file ids, so a fast seeded hash is enough (SipHash was ~5 % of the reader).
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The record builder: feed it events, take the records it produced.
pub struct Builder {
    cfg: BuilderConfig,
    clocks: Clocks,
    names: Names,
    procs: FastMap<u32, Proc>,
    containers: FastMap<String, ContEnt>,
    /// Pods written this epoch: uid → (name, namespace).
    pods: FastMap<String, (String, String)>,
    /// cgroup kernfs id → the container it names (None: the host).
    cgroups: FastMap<u64, Option<CgroupContainer>>,
    /// The runtime lookups (None: ids only).
    runtimes: Option<Runtimes>,
    files: FastMap<Foid, FileEnt>,
    fds: FastMap<(u32, i32), FdInfo>,
    flows: FastMap<FlowKey, Flow>,
    /// (tgid, fd) → flow keys on that descriptor.
    by_fd: FastMap<(u32, i32), Vec<FlowKey>>,
    /// true after the first epoch reset: entities re-emitted as REUP.
    reup: bool,
    out: Vec<SysFlow>,
    out6: Vec<NetworkFlow6>,
    stats: BuilderStats,
    last_tick: i64,
}

impl Builder {
    /// A builder with empty tables.
    pub fn new(cfg: BuilderConfig, clocks: Clocks, names: Names) -> Builder {
        Builder {
            cfg,
            clocks,
            names,
            procs: FastMap::default(),
            containers: FastMap::default(),
            pods: FastMap::default(),
            cgroups: FastMap::default(),
            runtimes: None,
            files: FastMap::default(),
            fds: FastMap::default(),
            flows: FastMap::default(),
            by_fd: FastMap::default(),
            reup: false,
            out: Vec::new(),
            out6: Vec::new(),
            stats: BuilderStats::default(),
            last_tick: 0,
        }
    }

    /// Ask the container runtimes for the metadata of the containers met (without: the
    /// Container records carry the id and type only).
    pub fn set_runtimes(&mut self, mut r: Runtimes) {
        // The containers of processes read from /proc before the lookups started.
        for c in self.containers.values() {
            if c.meta.as_ref().is_none_or(|m| !m.complete) {
                r.request(&CgroupContainer {
                    full_id: c.full_id.clone(),
                    ty: c.ty,
                });
            }
        }
        self.runtimes = Some(r);
    }

    /// Records produced so far (drained).
    pub fn drain(&mut self) -> std::vec::Drain<'_, SysFlow> {
        self.out.drain(..)
    }

    /// IPv6 network flows produced so far (drained); not representable in v5 files.
    pub fn drain_ipv6(&mut self) -> std::vec::Drain<'_, NetworkFlow6> {
        self.out6.drain(..)
    }

    /// Counters.
    pub fn stats(&self) -> &BuilderStats {
        &self.stats
    }

    /// Read every process under /proc so that events of processes started before the sensor
    /// join to a Process entity.
    pub fn scan_proc(&mut self) {
        for pid in procfs::pids(&self.cfg.proc_root) {
            self.load_proc(pid);
        }
    }

    /// Start a new epoch (file rotation): every live entity is re-emitted as REUP on its
    /// next use, dead processes and unreferenced files are forgotten.
    pub fn reset_epoch(&mut self) {
        self.reup = true;
        self.procs.retain(|_, p| !p.exited);
        for p in self.procs.values_mut() {
            p.written = false;
        }
        let live: HashSet<Foid> = self
            .flows
            .values()
            .filter_map(|f| match f.kind {
                FlowKind::File { foid, .. } => Some(foid),
                _ => None,
            })
            .chain(self.fds.values().filter_map(|f| match f {
                FdInfo::File { foid, .. } => Some(*foid),
                _ => None,
            }))
            .collect();
        self.files.retain(|k, _| live.contains(k));
        for f in self.files.values_mut() {
            f.written = false;
        }
        // Containers no live process or file refers to are forgotten (a host starts and
        // removes containers all day).
        let used: HashSet<&String> = self
            .procs
            .values()
            .filter_map(|p| p.container.as_ref())
            .chain(self.files.values().filter_map(|f| f.container.as_ref()))
            .collect();
        self.containers.retain(|k, _| used.contains(k));
        for c in self.containers.values_mut() {
            c.written = false;
        }
        self.pods.clear();
    }
    /// Feed one event. Hot path for I/O events: no allocation once the flow exists.
    pub fn handle(&mut self, ev: &RawEvent) {
        self.stats.events += 1;
        match ev {
            RawEvent::Fork(e) => self.on_fork(e),
            RawEvent::Exec(e) => self.on_exec(e),
            RawEvent::Exit(e) => self.on_exit(e),
            RawEvent::Cred(e) => self.on_cred(e),
            RawEvent::Open(e) => self.on_open(e),
            RawEvent::Io(e) => self.on_io(e),
            RawEvent::Path(e) => self.on_path(e),
            RawEvent::Dup(e) => self.on_dup(e),
            RawEvent::Cgroup(e) => self.on_cgroup(e),
        }
    }
}
