//! Containers and pods: which container each process is in (from the cgroup names every
//! clone, exec and cgroup move carries), the process re-emitted as MODIFIED when that
//! changes, and the Container (and Pod) entities with what the runtime said, written again
//! when more becomes known.

use std::sync::Arc;

use sensor_ebpf_common::{CgroupEvent, CgroupNames};
use sysflow_model::{Container, Pod, SysFlow};

use super::{Builder, ContEnt};
use crate::source::ebpf::containers::{container_of_names, CgroupContainer, ContainerMeta};

/// Most cgroups whose container is remembered (cleared past it).
const MAX_CGROUPS: usize = 8192;

/// Where a process is, as an event tells it.
pub(super) enum Placement {
    /// The probe could not read the cgroup: keep what is known.
    Unknown,
    /// On the host.
    Host,
    /// In this container (short id).
    In(String),
}

impl Placement {
    /// The container for a process that was in `old`.
    pub(super) fn apply(self, old: &Option<String>) -> Option<String> {
        match self {
            Placement::Unknown => old.clone(),
            Placement::Host => None,
            Placement::In(id) => Some(id),
        }
    }
}

impl Builder {
    /// Where the cgroup of an event puts the process (a cgroup's container is remembered by
    /// its kernfs id: most events name a cgroup already seen).
    pub(super) fn placement(&mut self, cg: &CgroupNames) -> Placement {
        if cg.id == 0 {
            return Placement::Unknown;
        }
        let found = match self.cgroups.get(&cg.id) {
            Some(c) => c.clone(),
            None => {
                let names: Vec<String> = cg
                    .names()
                    .map(|n| String::from_utf8_lossy(n).into_owned())
                    .collect();
                let c = container_of_names(names.iter().map(String::as_str));
                if self.cgroups.len() >= MAX_CGROUPS {
                    self.cgroups.clear();
                }
                self.cgroups.insert(cg.id, c.clone());
                c
            }
        };
        match found {
            Some(c) => Placement::In(self.note_container(&c)),
            None => Placement::Host,
        }
    }

    /// Make sure container `c` is in the table (asking the runtime about it if it is new);
    /// its short id.
    pub(super) fn note_container(&mut self, c: &CgroupContainer) -> String {
        let short = c.short_id();
        if !self.containers.contains_key(short) {
            let meta = self
                .runtimes
                .as_ref()
                .and_then(|r| r.get(short).or_else(|| r.lookup_now(c)));
            if meta.as_ref().is_none_or(|m| !m.complete) {
                if let Some(r) = &mut self.runtimes {
                    r.request(c);
                }
            }
            self.containers.insert(
                short.to_string(),
                ContEnt {
                    ty: c.ty,
                    full_id: c.full_id.clone(),
                    written: false,
                    meta,
                },
            );
        }
        short.to_string()
    }

    /// `cgroup_attach_task`: a process moved to another cgroup; re-emitted as MODIFIED when
    /// that changes its container (runc's init process entering the container it starts).
    pub(super) fn on_cgroup(&mut self, e: &CgroupEvent) {
        let pid = e.hdr.tgid();
        let ts = self.epoch_ns(e.hdr.ts_ns);
        let placement = self.placement(&e.cgroup);
        if !self.load_proc(pid) {
            return;
        }
        let Some(p) = self.procs.get_mut(&pid) else {
            return;
        };
        let new = placement.apply(&p.container);
        if new == p.container {
            return;
        }
        p.container = new;
        if p.written {
            self.emit_modified(pid, ts);
        }
    }

    /// Metadata that arrived from the runtimes since the last call: kept, and the Container
    /// (and its Pod) written again if it was already written with less.
    pub(super) fn refresh_containers(&mut self, ts: i64) {
        let Some(r) = &self.runtimes else {
            return;
        };
        let updated: Vec<(String, Arc<ContainerMeta>)> = r
            .updated()
            .filter_map(|id| {
                let m = r.get(&id)?;
                Some((id, m))
            })
            .collect();
        for (id, meta) in updated {
            let Some(c) = self.containers.get_mut(&id) else {
                continue;
            };
            if c.meta.as_deref() == Some(&*meta) {
                continue;
            }
            c.meta = Some(meta);
            if c.written {
                c.written = false;
                self.ensure_container(&Some(id), ts);
            }
        }
    }

    /// Write the container of a process or file (and its pod first) if not yet written
    /// this epoch, with what the runtime said so far (the collector's `incomplete`
    /// placeholders for what it has not).
    pub(super) fn ensure_container(&mut self, id: &Option<String>, ts: i64) {
        let Some(id) = id else { return };
        let latest = self.runtimes.as_ref().and_then(|r| r.get(id));
        let Some(c) = self.containers.get_mut(id) else {
            return;
        };
        if c.written {
            return;
        }
        c.written = true;
        if latest.is_some() {
            c.meta = latest;
        }
        let (ty, meta) = (c.ty, c.meta.clone());
        let placeholder = |v: &str, p: &str| {
            if v.is_empty() {
                p.to_string()
            } else {
                v.to_string()
            }
        };
        let rec = match &meta {
            Some(m) => Container {
                id: id.clone(),
                name: placeholder(&m.name, "incomplete"),
                image: placeholder(&m.image, "incomplete:incomplete"),
                imageid: placeholder(&m.imageid, "incomplete"),
                r#type: ty,
                privileged: m.privileged,
                pod_id: m.pod.as_ref().map(|p| p.uid.clone()),
                imagerepo: None,
            },
            // No runtime answer (yet): the collector's placeholders.
            None => Container {
                id: id.clone(),
                name: "incomplete".into(),
                image: "incomplete:incomplete".into(),
                imageid: "incomplete".into(),
                r#type: ty,
                privileged: false,
                pod_id: None,
                imagerepo: None,
            },
        };
        if let Some(pod) = meta.as_ref().and_then(|m| m.pod.as_ref()) {
            // A pod's containers share it: written once per epoch, and again when a
            // container brings news of it.
            let rec = Pod {
                ts,
                id: pod.uid.clone(),
                name: pod.name.clone(),
                namespace: pod.namespace.clone(),
                ..Pod::default()
            };
            let key = (pod.name.clone(), pod.namespace.clone());
            if self.pods.get(&pod.uid) != Some(&key) {
                self.pods.insert(pod.uid.clone(), key);
                self.emit(SysFlow::Pod(rec));
            }
        }
        self.emit(SysFlow::Container(rec));
    }
}

#[cfg(test)]
mod tests {
    use sensor_ebpf_common::{
        CgroupEvent, CgroupNames, EventHeader, EventKind, ExecEvent, ForkEvent, Op,
    };
    use sysflow_model::{ContainerType, ObjectState, OpFlags, SysFlow};

    use crate::source::ebpf::{
        procfs::{Clocks, Names},
        raw::RawEvent,
        Builder, BuilderConfig,
    };

    const ID: &str = "d2fcbe7e204ae1d2ecbf831aed49c87c7331561198764b3a3af0ab9ae1dcb32a";

    fn cgroup(id: u64, names: &[&str]) -> CgroupNames {
        let mut c = CgroupNames {
            id,
            ..Default::default()
        };
        for (slot, n) in c.names.iter_mut().zip(names) {
            slot[..n.len()].copy_from_slice(n.as_bytes());
        }
        c
    }

    fn hdr(pid: u32, kind: EventKind, op: Op, ts: u64) -> EventHeader {
        EventHeader {
            ts_ns: ts,
            pid_tgid: (pid as u64) << 32 | pid as u64,
            kind: kind as u16,
            op: op as u16,
            ..Default::default()
        }
    }

    /// runc's way into a container: its init is cloned on the host, moved into the
    /// container's cgroup, then execs the entrypoint. The move re-emits the process as
    /// MODIFIED after the Container; the EXEC keeps the container.
    #[test]
    fn a_move_into_a_container_re_emits_the_process() {
        // No /proc to read: the builder knows only what the events say.
        let cfg = BuilderConfig {
            proc_root: std::env::temp_dir().join("sfx-no-such-proc"),
            ..Default::default()
        };
        let mut b = Builder::new(cfg, Clocks::now(), Names::default());
        let host = cgroup(1, &["/"]);
        let fork = ForkEvent {
            hdr: hdr(100, EventKind::Fork, Op::Fork, 10),
            child_pid: 200,
            child_tgid: 200,
            child_start_ns: 10,
            cgroup: host,
        };
        b.handle(&RawEvent::Fork(&fork));
        let moved = CgroupEvent {
            hdr: hdr(200, EventKind::Cgroup, Op::CgroupAttach, 20),
            cgroup: cgroup(7, &[ID, "docker", "/"]),
        };
        b.handle(&RawEvent::Cgroup(&moved));
        // SAFETY: a plain `#[repr(C)]` struct of integers and byte arrays; all zero is valid.
        let mut exec: ExecEvent = unsafe { std::mem::zeroed() };
        exec.hdr = hdr(200, EventKind::Exec, Op::Exec, 30);
        exec.exe[..7].copy_from_slice(b"/bin/sh");
        exec.exe_len = 7;
        exec.args[..9].copy_from_slice(b"sh\0-c\0id\0");
        exec.args_len = 9;
        exec.cgroup = cgroup(7, &[ID, "docker", "/"]);
        b.handle(&RawEvent::Exec(&exec));
        let recs: Vec<SysFlow> = b.drain().collect();
        let child: Vec<(ObjectState, Option<String>, String)> = recs
            .iter()
            .filter_map(|r| match r {
                SysFlow::Process(p) if p.oid.hpid == 200 => {
                    Some((p.state, p.container_id.clone(), p.exe.clone()))
                }
                _ => None,
            })
            .collect();
        let short = Some(ID[..12].to_string());
        assert_eq!(
            child,
            vec![
                (ObjectState::Created, None, String::new()),
                (ObjectState::Modified, short.clone(), String::new()),
                (ObjectState::Modified, short.clone(), "/bin/sh".to_string()),
            ]
        );
        // The Container comes before the first record naming it, once, with the type from
        // the naming scheme and the collector's placeholders (no runtime in this test).
        let first_named = recs
            .iter()
            .position(|r| matches!(r, SysFlow::Process(p) if p.container_id.is_some()))
            .unwrap();
        let containers: Vec<(usize, &SysFlow)> = recs
            .iter()
            .enumerate()
            .filter(|(_, r)| matches!(r, SysFlow::Container(_)))
            .collect();
        assert_eq!(containers.len(), 1);
        assert!(containers[0].0 < first_named);
        let SysFlow::Container(c) = containers[0].1 else {
            unreachable!()
        };
        assert_eq!(
            (c.id.as_str(), c.r#type, c.name.as_str()),
            (&ID[..12], ContainerType::Docker, "incomplete")
        );
        let exec_event = recs.iter().any(|r| {
            matches!(r, SysFlow::ProcessEvent(e) if e.op_flags.0 == OpFlags::EXEC && e.proc_oid.hpid == 200)
        });
        assert!(exec_event);
    }
}
