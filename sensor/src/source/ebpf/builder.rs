//! Turns raw probe events into SysFlow records with the collector's semantics
//! (reference §3.2 and §8):
//!
//! - entities are written lazily, right before the first record that needs them, in
//!   dependency order: container → ancestors (root first) → process → file(s);
//! - OID = (start time ns, host pid); FOID = SHA-1(container id ‖ path);
//! - file and network flows are kept per thread and descriptor; CLOSE writes the closing
//!   thread's flow and truncates the other threads' flows on that descriptor; thread exit
//!   truncates that thread's flows, process exit all of them, then writes PE EXIT;
//! - long-running flows are written every 30 s and reset; idle ones expire silently;
//! - read-only file flows under /proc, /dev, /sys and the library dirs are not written;
//! - CLONE is written from both sides; EXEC and SETUID re-emit the process as MODIFIED;
//! - processes the probes did not see start are read from /proc so their events join;
//! - IPv6 flows, which the v5 NetworkFlow cannot carry, go to a separate queue and are counted.

use std::{
    collections::{HashMap, HashSet},
    path::PathBuf,
};

use sensor_ebpf_common::{
    mode, CredEvent, DupEvent, ExecEvent, ExitEvent, ForkEvent, IoEvent, Op, OpenEvent, PathEvent,
    SockTuple, AT_FDCWD,
};
use sysflow_model::{
    Container, ContainerType, File, FileEvent, FileFlow, Foid, NetworkFlow, ObjectState, Oid,
    OpFlags, OpenFlags, Process, ProcessEvent, SysFlow,
};

use super::{
    paths,
    procfs::{self, Clocks, Names, ProcInfo},
    raw::{cstr, RawEvent},
};

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
    containers: FastMap<String, (ContainerType, bool)>,
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

const EINPROGRESS: i64 = 115;
const AT_REMOVEDIR: u32 = 0x200;
const MAX_ANCESTRY: usize = 64;

/// Linux `O_*` flags to the falco `PPM_O_*` bits SysFlow stores in `openFlags`.
pub fn ppm_open_flags(f: u32) -> u32 {
    let mut r = match f & 3 {
        0 => OpenFlags::RDONLY,
        1 => OpenFlags::WRONLY,
        _ => OpenFlags::RDWR,
    };
    let map = [
        (0o100, OpenFlags::CREAT),
        (0o200, OpenFlags::EXCL),
        (0o1000, OpenFlags::TRUNC),
        (0o2000, OpenFlags::APPEND),
        (0o4000, OpenFlags::NONBLOCK),
        (0o10000, OpenFlags::DSYNC),
        (0o40000, OpenFlags::DIRECT),
        (0o100000, OpenFlags::LARGEFILE),
        (0o200000, OpenFlags::DIRECTORY),
        (0o2000000, OpenFlags::CLOEXEC),
        (0o4000000, OpenFlags::SYNC),
        (0o20000000, OpenFlags::TMPFILE),
    ];
    for (linux, ppm) in map {
        if f & linux != 0 {
            r |= ppm;
        }
    }
    r
}

fn restype_of_mode(m: u32) -> u8 {
    match m & mode::S_IFMT {
        mode::S_IFREG => b'f',
        mode::S_IFDIR => b'd',
        mode::S_IFIFO => b'p',
        mode::S_IFSOCK => b'u',
        _ => b'?',
    }
}

/// IPv4 address bytes (network order) as SysFlow stores them: read as little-endian i32.
fn ip4(a: &[u8; 16]) -> i32 {
    i32::from_le_bytes([a[0], a[1], a[2], a[3]])
}

fn peer_hash(t: &SockTuple) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in t.daddr.iter().chain(t.dport.to_le_bytes().iter()) {
        h = (h ^ *b as u64).wrapping_mul(0x100_0000_01b3);
    }
    h | 1
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
        for c in self.containers.values_mut() {
            c.1 = false;
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
    }

    fn epoch_ns(&self, ktime: u64) -> i64 {
        ktime as i64 + self.clocks.mono_to_epoch
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
        }
    }

    // ----- entities -------------------------------------------------------------------

    fn proc_from_info(&self, pid: u32, info: ProcInfo) -> Proc {
        let poid = self.procs.get(&info.ppid).map(|p| p.oid);
        Proc {
            oid: Oid {
                create_ts: info.start_ns,
                hpid: pid as i64,
            },
            poid,
            ppid: info.ppid,
            exe: info.exe,
            args: info.args,
            uid: info.uid,
            gid: info.gid,
            tty: info.tty,
            cwd: info.cwd,
            container: info.container.map(|(id, _)| id),
            written: false,
            exited: false,
        }
    }

    /// Make sure `pid` (and its ancestors) are in the table, reading /proc if needed.
    fn load_proc(&mut self, pid: u32) -> bool {
        if self.procs.contains_key(&pid) {
            return true;
        }
        let mut chain = Vec::new();
        let mut cur = pid;
        while cur > 0 && chain.len() < MAX_ANCESTRY && !self.procs.contains_key(&cur) {
            let Some(info) = procfs::read_proc(&self.cfg.proc_root, cur, &self.clocks) else {
                break;
            };
            let next = info.ppid;
            chain.push((cur, info));
            cur = next;
        }
        // Insert root first so every child finds its parent's OID.
        for (p, info) in chain.into_iter().rev() {
            if let Some((id, ty)) = &info.container {
                self.containers.entry(id.clone()).or_insert((*ty, false));
            }
            let proc = self.proc_from_info(p, info);
            self.procs.insert(p, proc);
        }
        self.procs.contains_key(&pid)
    }

    fn process_record(&self, p: &Proc, state: ObjectState, ts: i64) -> Process {
        Process {
            state,
            oid: p.oid,
            poid: p.poid,
            ts,
            exe: p.exe.clone(),
            exe_args: p.args.clone(),
            uid: p.uid as i32,
            user_name: self.names.user(p.uid).to_string(),
            gid: p.gid as i32,
            group_name: self.names.group(p.gid).to_string(),
            tty: p.tty,
            container_id: p.container.clone(),
            entry: false,
            cwd: p.cwd.clone(),
            env: Vec::new(),
        }
    }

    fn emit(&mut self, r: SysFlow) {
        self.stats.records += 1;
        self.out.push(r);
    }

    fn ensure_container(&mut self, id: &Option<String>) {
        let Some(id) = id else { return };
        let entry = self
            .containers
            .entry(id.clone())
            .or_insert((ContainerType::Docker, false));
        if entry.1 {
            return;
        }
        entry.1 = true;
        let ty = entry.0;
        // No runtime query: the collector's placeholders for missing runtime metadata.
        self.emit(SysFlow::Container(Container {
            id: id.clone(),
            name: "incomplete".into(),
            image: "incomplete:incomplete".into(),
            imageid: "incomplete".into(),
            r#type: ty,
            privileged: false,
            pod_id: None,
            imagerepo: None,
        }));
    }

    /// Write the process (and its container and ancestors) if not yet written this epoch.
    fn ensure_proc(&mut self, pid: u32, ts: i64) -> Option<Oid> {
        if !self.load_proc(pid) {
            return None;
        }
        // Ancestors not yet written, nearest first; then written root first.
        let mut todo = Vec::new();
        let mut cur = pid;
        while let Some(p) = self.procs.get(&cur) {
            if p.written || todo.len() >= MAX_ANCESTRY {
                break;
            }
            todo.push(cur);
            if p.ppid == 0 || p.ppid == cur {
                break;
            }
            cur = p.ppid;
        }
        let state = if self.reup {
            ObjectState::Reup
        } else {
            ObjectState::Created
        };
        for p in todo.into_iter().rev() {
            let cont = self.procs.get(&p).and_then(|x| x.container.clone());
            self.ensure_container(&cont);
            let Some(proc) = self.procs.get(&p) else {
                continue;
            };
            let rec = self.process_record(proc, state, ts);
            if let Some(proc) = self.procs.get_mut(&p) {
                proc.written = true;
            }
            self.emit(SysFlow::Process(rec));
        }
        self.procs.get(&pid).map(|p| p.oid)
    }

    /// Re-emit a process as MODIFIED (EXEC, SETUID), writing what it depends on first.
    fn emit_modified(&mut self, pid: u32, ts: i64) -> Option<Oid> {
        let was_written = self.procs.get(&pid).map(|p| p.written).unwrap_or(false);
        let oid = self.ensure_proc(pid, ts)?;
        if was_written {
            let proc = self.procs.get(&pid)?;
            let rec = self.process_record(proc, ObjectState::Modified, ts);
            self.emit(SysFlow::Process(rec));
        }
        Some(oid)
    }

    fn file_foid(&mut self, pid: u32, path: &str, restype: u8) -> Foid {
        let cont = self.procs.get(&pid).and_then(|p| p.container.clone());
        let foid = Foid::of(cont.as_deref().unwrap_or(""), path);
        let e = self.files.entry(foid).or_insert_with(|| FileEnt {
            path: path.to_string(),
            restype,
            container: cont,
            written: false,
        });
        if e.restype == b'?' && restype != b'?' {
            e.restype = restype;
        }
        foid
    }

    fn ensure_file(&mut self, foid: Foid, ts: i64, state: ObjectState) {
        let reup = self.reup;
        let Some(f) = self.files.get_mut(&foid) else {
            return;
        };
        if f.written {
            return;
        }
        f.written = true;
        let rec = File {
            state: if reup { ObjectState::Reup } else { state },
            oid: foid,
            ts,
            restype: f.restype as i32,
            path: f.path.clone(),
            container_id: f.container.clone(),
        };
        let cont = f.container.clone();
        self.ensure_container(&cont);
        self.emit(SysFlow::File(rec));
    }

    // ----- process events --------------------------------------------------------------

    fn proc_event(&mut self, pid: u32, tid: u32, ts: i64, op: u32, ret: i64, args: Vec<String>) {
        let Some(oid) = self.ensure_proc(pid, ts) else {
            return;
        };
        self.emit(SysFlow::ProcessEvent(ProcessEvent {
            proc_oid: oid,
            ts,
            tid: tid as i64,
            op_flags: OpFlags(op),
            args,
            ret: ret as i32,
        }));
    }

    fn on_fork(&mut self, e: &ForkEvent) {
        let (ptgid, ptid) = (e.hdr.tgid(), e.hdr.tid());
        if e.child_pid == 0 || e.child_pid != e.child_tgid {
            // Thread clones are summarised by ProcessFlow in the collector, which the
            // processor ignores; no record.
            return;
        }
        let ts = self.epoch_ns(e.hdr.ts_ns);
        self.load_proc(ptgid);
        let child = match self.procs.get(&ptgid) {
            Some(p) => Proc {
                oid: Oid {
                    create_ts: ts,
                    hpid: e.child_tgid as i64,
                },
                poid: Some(p.oid),
                ppid: ptgid,
                exe: p.exe.clone(),
                args: p.args.clone(),
                // The forking task's credentials, which the child copies: right even when the
                // parent's setuid was not reported (`--events` without setuid, or one thread
                // changing its own credentials with a raw syscall).
                uid: e.hdr.uid(),
                gid: e.hdr.gid(),
                tty: p.tty,
                cwd: p.cwd.clone(),
                container: p.container.clone(),
                written: false,
                exited: false,
            },
            None => Proc {
                oid: Oid {
                    create_ts: ts,
                    hpid: e.child_tgid as i64,
                },
                poid: None,
                ppid: ptgid,
                exe: String::new(),
                args: String::new(),
                uid: e.hdr.uid(),
                gid: e.hdr.gid(),
                tty: false,
                cwd: String::new(),
                container: None,
                written: false,
                exited: false,
            },
        };
        self.procs.insert(e.child_tgid, child);
        self.proc_event(
            ptgid,
            ptid,
            ts,
            OpFlags::CLONE,
            e.child_pid as i64,
            Vec::new(),
        );
        self.proc_event(e.child_tgid, e.child_pid, ts, OpFlags::CLONE, 0, Vec::new());
    }

    fn on_exec(&mut self, e: &ExecEvent) {
        let pid = e.hdr.tgid();
        let ts = self.epoch_ns(e.hdr.ts_ns);
        self.load_proc(pid);
        let exe_raw = String::from_utf8_lossy(cstr(&e.exe, e.exe_len as usize)).into_owned();
        let args = procfs::join_args(cstr_args(&e.args, e.args_len as usize));
        let names_container =
            procfs::read_proc(&self.cfg.proc_root, pid, &self.clocks).and_then(|i| i.container);
        let Some(p) = self.procs.get_mut(&pid) else {
            return;
        };
        p.exe = if exe_raw.starts_with('/') || p.cwd.is_empty() {
            exe_raw
        } else {
            paths::absolute(&p.cwd, &exe_raw)
        };
        p.args = args;
        p.uid = e.hdr.uid();
        p.gid = e.hdr.gid();
        p.tty = e.tty != 0;
        if let Some((id, ty)) = names_container {
            self.containers.entry(id.clone()).or_insert((ty, false));
            if let Some(p) = self.procs.get_mut(&pid) {
                p.container = Some(id);
            }
        }
        // Descriptors opened with O_CLOEXEC are gone in the new image.
        let cloexec: Vec<i32> = self
            .fds
            .iter()
            .filter(|((t, _), info)| {
                *t == pid
                    && matches!(info, FdInfo::File { linux_flags: Some(f), .. } if f & O_CLOEXEC != 0)
            })
            .map(|((_, fd), _)| *fd)
            .collect();
        for fd in cloexec {
            self.close_fd(pid, 0, fd, ts, false);
        }
        self.emit_modified(pid, ts);
        self.proc_event(pid, e.hdr.tid(), ts, OpFlags::EXEC, 0, Vec::new());
    }

    fn on_exit(&mut self, e: &ExitEvent) {
        let (pid, tid) = (e.hdr.tgid(), e.hdr.tid());
        let ts = self.epoch_ns(e.hdr.ts_ns);
        if e.group_dead == 0 {
            // One thread gone: its flows end, truncated.
            let keys: Vec<FlowKey> = self
                .flows
                .keys()
                .filter(|k| k.tid == tid && k.tgid == pid)
                .copied()
                .collect();
            for k in keys {
                self.finish_flow(k, ts, OpFlags::TRUNCATE);
            }
            return;
        }
        let keys: Vec<FlowKey> = self
            .flows
            .keys()
            .filter(|k| k.tgid == pid)
            .copied()
            .collect();
        for k in keys {
            self.finish_flow(k, ts, OpFlags::TRUNCATE);
        }
        self.fds.retain(|(t, _), _| *t != pid);
        self.by_fd.retain(|(t, _), _| *t != pid);
        // Wait status → exit status (or minus the signal number).
        let code = e.exit_code;
        let ret = if code & 0x7f == 0 {
            (code >> 8) & 0xff
        } else {
            -(code & 0x7f)
        };
        self.proc_event(pid, tid, ts, OpFlags::EXIT, ret as i64, Vec::new());
        if let Some(p) = self.procs.get_mut(&pid) {
            p.exited = true;
        }
    }

    fn on_cred(&mut self, e: &CredEvent) {
        let pid = e.hdr.tgid();
        let ts = self.epoch_ns(e.hdr.ts_ns);
        self.load_proc(pid);
        if e.hdr.ret == 0 {
            if let Some(p) = self.procs.get_mut(&pid) {
                p.uid = e.hdr.uid();
                p.gid = e.hdr.gid();
            }
            self.emit_modified(pid, ts);
        }
        let arg = if e.uid_arg == u32::MAX {
            "<NA>".to_string()
        } else {
            e.uid_arg.to_string()
        };
        self.proc_event(pid, e.hdr.tid(), ts, OpFlags::SETUID, e.hdr.ret, vec![arg]);
    }

    // ----- files -------------------------------------------------------------------------

    fn cwd_of(&mut self, pid: u32) -> String {
        match self.procs.get(&pid) {
            Some(p) if !p.cwd.is_empty() => p.cwd.clone(),
            _ => procfs::cwd(&self.cfg.proc_root, pid).unwrap_or_else(|| "/".into()),
        }
    }

    /// Directory a dirfd refers to, for *at() calls.
    fn dir_of(&mut self, pid: u32, dirfd: i32) -> String {
        if dirfd == AT_FDCWD {
            return self.cwd_of(pid);
        }
        if let Some(FdInfo::File { foid, .. }) = self.fds.get(&(pid, dirfd)) {
            if let Some(f) = self.files.get(foid) {
                return f.path.clone();
            }
        }
        procfs::fd_path(&self.cfg.proc_root, pid, dirfd).unwrap_or_else(|| "/".into())
    }

    fn resolve(&mut self, pid: u32, dirfd: i32, raw: &[u8]) -> String {
        let p = String::from_utf8_lossy(raw);
        if p.starts_with('/') {
            return paths::absolute("/", &p);
        }
        let base = self.dir_of(pid, dirfd);
        paths::absolute(&base, &p)
    }

    fn on_open(&mut self, e: &OpenEvent) {
        let (pid, tid) = (e.hdr.tgid(), e.hdr.tid());
        let fd = e.hdr.ret as i32;
        if fd < 0 {
            return;
        }
        let ts = self.epoch_ns(e.hdr.ts_ns);
        self.load_proc(pid);
        let path = self.resolve(pid, e.dirfd, cstr(&e.path, e.path_len as usize));
        let restype = restype_of_mode(e.i_mode);
        // A reused descriptor: whatever was on it is over.
        self.close_fd(pid, tid, fd, ts, false);
        let foid = self.file_foid(pid, &path, restype);
        self.fds.insert(
            (pid, fd),
            FdInfo::File {
                foid,
                linux_flags: Some(e.flags),
            },
        );
        if restype != b'f' {
            // The collector's fileOnly default: flows on regular files only.
            return;
        }
        let key = FlowKey {
            tgid: pid,
            tid,
            fd,
            peer: 0,
        };
        let flow = self.new_flow(
            key,
            FlowKind::File {
                foid,
                open_flags: ppm_open_flags(e.flags),
            },
            ts,
        );
        flow.op_flags |= OpFlags::OPEN;
    }

    /// dup/dup2/dup3/fcntl(F_DUPFD*): the new descriptor refers to the old one's file or
    /// socket; whatever was open on the new descriptor (dup2/dup3) is over.
    fn on_dup(&mut self, e: &DupEvent) {
        let (pid, tid) = (e.hdr.tgid(), e.hdr.tid());
        let newfd = e.hdr.ret as i32;
        if e.hdr.ret < 0 || newfd == e.oldfd {
            return;
        }
        let ts = self.epoch_ns(e.hdr.ts_ns);
        self.close_fd(pid, tid, newfd, ts, false);
        let info = match self.fds.get(&(pid, e.oldfd)) {
            Some(FdInfo::File { foid, linux_flags }) => FdInfo::File {
                foid: *foid,
                // The copy has its own close-on-exec bit.
                linux_flags: linux_flags.map(|f| {
                    if e.cloexec != 0 {
                        f | O_CLOEXEC
                    } else {
                        f & !O_CLOEXEC
                    }
                }),
            },
            Some(FdInfo::Sock { role }) => FdInfo::Sock { role: *role },
            // Unknown old descriptor: the new one is resolved through /proc on first use.
            None => return,
        };
        self.fds.insert((pid, newfd), info);
    }

    fn new_flow(&mut self, key: FlowKey, kind: FlowKind, ts: i64) -> &mut Flow {
        self.by_fd.entry((key.tgid, key.fd)).or_default().push(key);
        self.flows.entry(key).or_insert(Flow {
            kind,
            ts,
            last_export: ts,
            last_activity: ts,
            op_flags: 0,
            rops: 0,
            wops: 0,
            rbytes: 0,
            wbytes: 0,
        })
    }

    /// Flow of an I/O event, creating it from the descriptor table or /proc if needed.
    fn flow_for_io(&mut self, e: &IoEvent, ts: i64) -> Option<FlowKey> {
        let (pid, tid, fd) = (e.hdr.tgid(), e.hdr.tid(), e.fd);
        let is_sock = e.i_mode & mode::S_IFMT == mode::S_IFSOCK;
        let peer = if is_sock && e.sock.proto == 17 {
            peer_hash(&e.sock)
        } else {
            0
        };
        let key = FlowKey {
            tgid: pid,
            tid,
            fd,
            peer,
        };
        if self.flows.contains_key(&key) {
            return Some(key);
        }
        if is_sock {
            let role = match self.fds.get(&(pid, fd)) {
                Some(FdInfo::Sock { role }) => *role,
                _ => {
                    self.fds.insert(
                        (pid, fd),
                        FdInfo::Sock {
                            role: Role::Unknown,
                        },
                    );
                    Role::Unknown
                }
            };
            let role = match (role, e.sock.proto) {
                // Unconnected UDP: the receiver sees the peer as the initiator.
                (Role::Unknown, 17) if Op::from_u16(e.hdr.op).is_some_and(Op::is_read) => {
                    Role::Server
                }
                (r, _) => r,
            };
            self.new_flow(
                key,
                FlowKind::Net {
                    tuple: e.sock,
                    role,
                },
                ts,
            );
            return Some(key);
        }
        if e.i_mode & mode::S_IFMT != mode::S_IFREG {
            return None;
        }
        let (foid, linux_flags) = match self.fds.get(&(pid, fd)) {
            Some(FdInfo::File { foid, linux_flags }) => (*foid, *linux_flags),
            _ => {
                self.load_proc(pid);
                let Some(path) = procfs::fd_path(&self.cfg.proc_root, pid, fd) else {
                    self.stats.unresolved_fds += 1;
                    return None;
                };
                let foid = self.file_foid(pid, &path, b'f');
                self.fds.insert(
                    (pid, fd),
                    FdInfo::File {
                        foid,
                        linux_flags: None,
                    },
                );
                (foid, None)
            }
        };
        self.new_flow(
            key,
            FlowKind::File {
                foid,
                // A flow without OPEN (descriptor duplicated or opened before the sensor)
                // still carries the open flags when they are known, as sinsp's fdinfo does.
                open_flags: linux_flags.map(ppm_open_flags).unwrap_or(0),
            },
            ts,
        );
        Some(key)
    }

    fn on_io(&mut self, e: &IoEvent) {
        let Some(op) = Op::from_u16(e.hdr.op) else {
            return;
        };
        let ts = self.epoch_ns(e.hdr.ts_ns);
        let (pid, tid) = (e.hdr.tgid(), e.hdr.tid());
        match op {
            Op::Close => {
                self.close_fd(pid, tid, e.fd, ts, true);
                return;
            }
            Op::Connect => {
                if e.hdr.ret < 0 && e.hdr.ret != -EINPROGRESS {
                    return;
                }
                self.close_fd(pid, tid, e.fd, ts, false);
                self.fds
                    .insert((pid, e.fd), FdInfo::Sock { role: Role::Client });
            }
            Op::Accept | Op::Accept4 => {
                self.close_fd(pid, tid, e.fd, ts, false);
                self.fds
                    .insert((pid, e.fd), FdInfo::Sock { role: Role::Server });
            }
            _ => {}
        }
        let Some(key) = self.flow_for_io(e, ts) else {
            return;
        };
        let Some(f) = self.flows.get_mut(&key) else {
            return;
        };
        f.last_activity = ts;
        let ret = e.hdr.ret;
        match op {
            Op::Connect => f.op_flags |= OpFlags::CONNECT,
            Op::Accept | Op::Accept4 => f.op_flags |= OpFlags::ACCEPT,
            Op::Shutdown => f.op_flags |= OpFlags::SHUTDOWN,
            Op::Mmap => f.op_flags |= OpFlags::MMAP,
            _ if op.is_read() => {
                f.op_flags |= OpFlags::READ;
                f.rops += 1;
                if ret > 0 && !matches!(op, Op::Recvmmsg) {
                    f.rbytes += ret;
                }
            }
            _ if op.is_write() => {
                f.op_flags |= OpFlags::WRITE;
                f.wops += 1;
                if ret > 0 && !matches!(op, Op::Sendmmsg) {
                    f.wbytes += ret;
                }
            }
            _ => {}
        }
        // Sockets learn their endpoints late (connect in progress, bind on first send).
        if let FlowKind::Net { tuple, .. } = &mut f.kind {
            if tuple.sport == 0 || tuple.dport == 0 {
                *tuple = e.sock;
            }
        }
    }

    /// A descriptor closed (or replaced): the closing thread's flow ends with CLOSE, other
    /// threads' flows on it are truncated. `explicit` is false for implicit ends (reuse,
    /// exec), which truncate every flow.
    fn close_fd(&mut self, pid: u32, tid: u32, fd: i32, ts: i64, explicit: bool) {
        self.fds.remove(&(pid, fd));
        let Some(keys) = self.by_fd.remove(&(pid, fd)) else {
            return;
        };
        for k in keys {
            let how = if explicit && k.tid == tid {
                OpFlags::CLOSE
            } else {
                OpFlags::TRUNCATE
            };
            self.finish_flow(k, ts, how);
        }
    }

    fn finish_flow(&mut self, key: FlowKey, ts: i64, how: u32) {
        if let Some(v) = self.by_fd.get_mut(&(key.tgid, key.fd)) {
            v.retain(|k| *k != key);
        }
        let Some(mut f) = self.flows.remove(&key) else {
            return;
        };
        f.op_flags |= how;
        self.write_flow(key, &f, ts);
    }

    /// Write a flow record (entities first). Skips empty flows and suppressed reads.
    fn write_flow(&mut self, key: FlowKey, f: &Flow, end_ts: i64) {
        if f.op_flags == 0 || f.op_flags == OpFlags::TRUNCATE {
            return;
        }
        match &f.kind {
            FlowKind::File { foid, open_flags } => {
                let read_only = f.op_flags & OpFlags::WRITE == 0;
                if read_only {
                    let suppress = match self.cfg.file_read_mode {
                        0 => false,
                        1 => true,
                        _ => self
                            .files
                            .get(foid)
                            .is_some_and(|x| paths::read_suppressed(&x.path)),
                    };
                    if suppress {
                        self.stats.suppressed_flows += 1;
                        return;
                    }
                }
                let Some(oid) = self.ensure_proc(key.tgid, f.ts) else {
                    return;
                };
                self.ensure_file(*foid, f.ts, ObjectState::Created);
                self.emit(SysFlow::FileFlow(FileFlow {
                    proc_oid: oid,
                    ts: f.ts,
                    tid: key.tid as i64,
                    op_flags: OpFlags(f.op_flags),
                    open_flags: OpenFlags(*open_flags),
                    end_ts,
                    file_oid: *foid,
                    fd: key.fd,
                    num_r_recv_ops: f.rops,
                    num_w_send_ops: f.wops,
                    num_r_recv_bytes: f.rbytes,
                    num_w_send_bytes: f.wbytes,
                }));
            }
            FlowKind::Net { tuple, role } => {
                let Some(oid) = self.ensure_proc(key.tgid, f.ts) else {
                    return;
                };
                // s = initiator, d = server on both sides (libsinsp tuple).
                let (sa, sp, da, dp) = if *role == Role::Server {
                    (&tuple.daddr, tuple.dport, &tuple.saddr, tuple.sport)
                } else {
                    (&tuple.saddr, tuple.sport, &tuple.daddr, tuple.dport)
                };
                let mut nf = NetworkFlow {
                    proc_oid: oid,
                    ts: f.ts,
                    tid: key.tid as i64,
                    op_flags: OpFlags(f.op_flags),
                    end_ts,
                    sip: 0,
                    sport: sp as i32,
                    dip: 0,
                    dport: dp as i32,
                    proto: tuple.proto as i32,
                    fd: key.fd,
                    num_r_recv_ops: f.rops,
                    num_w_send_ops: f.wops,
                    num_r_recv_bytes: f.rbytes,
                    num_w_send_bytes: f.wbytes,
                };
                if tuple.family == 10 {
                    self.stats.ipv6_flows += 1;
                    self.out6.push(NetworkFlow6 {
                        flow: nf,
                        sip6: *sa,
                        dip6: *da,
                    });
                } else {
                    nf.sip = ip4(sa);
                    nf.dip = ip4(da);
                    self.emit(SysFlow::NetworkFlow(nf));
                }
            }
        }
    }

    fn on_path(&mut self, e: &PathEvent) {
        let Some(op) = Op::from_u16(e.hdr.op) else {
            return;
        };
        let (pid, tid) = (e.hdr.tgid(), e.hdr.tid());
        let ts = self.epoch_ns(e.hdr.ts_ns);
        self.load_proc(pid);
        let p1 = cstr(&e.path1, e.len1 as usize);
        let p2 = cstr(&e.path2, e.len2 as usize);
        if matches!(op, Op::Chdir | Op::Fchdir) {
            let cwd = if op == Op::Chdir {
                self.resolve(pid, AT_FDCWD, p1)
            } else {
                self.dir_of(pid, e.dirfd1)
            };
            if let Some(p) = self.procs.get_mut(&pid) {
                p.cwd = cwd;
            }
            return;
        }
        let flag = match op {
            Op::Mkdir | Op::Mkdirat => OpFlags::MKDIR,
            Op::Rmdir => OpFlags::RMDIR,
            Op::Unlinkat if e.flags & AT_REMOVEDIR != 0 => OpFlags::RMDIR,
            Op::Unlink | Op::Unlinkat => OpFlags::UNLINK,
            Op::Link | Op::Linkat => OpFlags::LINK,
            Op::Symlink | Op::Symlinkat => OpFlags::SYMLINK,
            Op::Rename | Op::Renameat | Op::Renameat2 => OpFlags::RENAME,
            _ => return,
        };
        let path1 = if flag == OpFlags::SYMLINK {
            // The target is stored as given, made absolute against the link's directory.
            let link = self.resolve(pid, e.dirfd2, p2);
            let t = String::from_utf8_lossy(p1);
            paths::absolute(paths::parent(&link), &t)
        } else {
            self.resolve(pid, e.dirfd1, p1)
        };
        let dir = matches!(flag, OpFlags::MKDIR | OpFlags::RMDIR);
        let rt1 = if dir { b'd' } else { b'?' };
        let foid1 = self.file_foid(pid, &path1, rt1);
        let new = if matches!(flag, OpFlags::LINK | OpFlags::SYMLINK | OpFlags::RENAME) {
            let path2 = self.resolve(pid, e.dirfd2, p2);
            let rt = self.files.get(&foid1).map(|f| f.restype).unwrap_or(b'?');
            Some(self.file_foid(pid, &path2, rt))
        } else {
            None
        };
        let Some(oid) = self.ensure_proc(pid, ts) else {
            return;
        };
        let st1 = if new.is_some() {
            ObjectState::Reup
        } else {
            ObjectState::Created
        };
        self.ensure_file(foid1, ts, st1);
        if let Some(n) = new {
            self.ensure_file(n, ts, ObjectState::Created);
        }
        self.emit(SysFlow::FileEvent(FileEvent {
            proc_oid: oid,
            ts,
            tid: tid as i64,
            op_flags: OpFlags(flag),
            file_oid: foid1,
            ret: e.hdr.ret as i32,
            new_file_oid: new,
        }));
    }

    // ----- time ----------------------------------------------------------------------------

    /// Periodic work (call about once a second with the wall clock): write long-running
    /// flows every export interval, expire idle ones, forget exited processes.
    pub fn tick(&mut self, now: i64) {
        if now - self.last_tick < 1_000_000_000 {
            return;
        }
        self.last_tick = now;
        let (exp, idle) = (self.cfg.export_interval_ns, self.cfg.expire_interval_ns);
        let due: Vec<FlowKey> = self
            .flows
            .iter()
            .filter(|(_, f)| now - f.last_export >= exp || now - f.last_activity >= idle)
            .map(|(k, _)| *k)
            .collect();
        for k in due {
            let Some(f) = self.flows.get(&k) else {
                continue;
            };
            if now - f.last_activity >= idle {
                self.stats.expired_flows += 1;
                if let Some(v) = self.by_fd.get_mut(&(k.tgid, k.fd)) {
                    v.retain(|x| *x != k);
                }
                self.flows.remove(&k);
                continue;
            }
            let Some(mut f) = self.flows.remove(&k) else {
                continue;
            };
            self.write_flow(k, &f, now);
            f.ts = now;
            f.last_export = now;
            f.op_flags = 0;
            (f.rops, f.wops, f.rbytes, f.wbytes) = (0, 0, 0, 0);
            self.flows.insert(k, f);
        }
    }

    /// Write every open flow with TRUNCATE (sensor shutdown or end of a file epoch).
    pub fn flush(&mut self, now: i64) {
        let keys: Vec<FlowKey> = self.flows.keys().copied().collect();
        for k in keys {
            self.finish_flow(k, now, OpFlags::TRUNCATE);
        }
    }
}

/// The used part of the argv buffer (NUL bytes are separators, not terminators).
fn cstr_args(buf: &[u8], len: usize) -> &[u8] {
    &buf[..len.min(buf.len())]
}
