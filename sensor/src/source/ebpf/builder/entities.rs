//! The entity tables (processes, files) and their emission: an entity is written lazily,
//! right before the first record that refers to it, after whatever it depends on
//! (container → ancestors, root first → process → file; containers in `containers`).

use sysflow_model::{File, Foid, ObjectState, Oid, Process, SysFlow};

use super::{Builder, FileEnt, Proc};
use crate::source::ebpf::procfs::{self, ProcInfo};

const MAX_ANCESTRY: usize = 64;

impl Builder {
    fn proc_from_info(&self, pid: u32, info: ProcInfo, container: Option<String>) -> Proc {
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
            container,
            written: false,
            exited: false,
        }
    }

    /// Make sure `pid` (and its ancestors) are in the table, reading /proc if needed.
    pub(super) fn load_proc(&mut self, pid: u32) -> bool {
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
            let container = info.container.as_ref().map(|c| self.note_container(c));
            let proc = self.proc_from_info(p, info, container);
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

    pub(super) fn emit(&mut self, r: SysFlow) {
        self.stats.records += 1;
        self.out.push(r);
    }

    /// Write the process (and its container and ancestors) if not yet written this epoch.
    pub(super) fn ensure_proc(&mut self, pid: u32, ts: i64) -> Option<Oid> {
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
            self.ensure_container(&cont, ts);
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

    /// Re-emit a process as MODIFIED (EXEC, SETUID, a new container), writing what it
    /// depends on first: its container may be new to it.
    pub(super) fn emit_modified(&mut self, pid: u32, ts: i64) -> Option<Oid> {
        let was_written = self.procs.get(&pid).map(|p| p.written).unwrap_or(false);
        let oid = self.ensure_proc(pid, ts)?;
        if was_written {
            let cont = self.procs.get(&pid).and_then(|p| p.container.clone());
            self.ensure_container(&cont, ts);
            let proc = self.procs.get(&pid)?;
            let rec = self.process_record(proc, ObjectState::Modified, ts);
            self.emit(SysFlow::Process(rec));
        }
        Some(oid)
    }

    pub(super) fn file_foid(&mut self, pid: u32, path: &str, restype: u8) -> Foid {
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

    pub(super) fn ensure_file(&mut self, foid: Foid, ts: i64, state: ObjectState) {
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
        self.ensure_container(&cont, ts);
        self.emit(SysFlow::File(rec));
    }
}
