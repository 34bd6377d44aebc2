//! The parts of an ECS document that read one entity each, copied from the fragment cache
//! while the entity is unchanged: host, container, pod and services, the process (around
//! the parent and the thread), the parent, the user.

use super::{int, ints, iso, key, next, string, Rec};
use crate::export::encode::fragment::Entity;
use crate::export::encode::jsonw;

/// The parts copied from the fragment cache, in document order.
#[derive(Clone, Copy)]
pub(super) enum Part {
    /// `,"host":{…}`
    Host,
    /// `,"container":{…}` (nothing without a container id)
    Container,
    /// `,"pod":{…},"service":[…]`
    Pod,
    /// `,"process":{"args":…,"command_line":…,"executable":…,"name":…`
    ProcHead,
    /// `,"parent":{…}` (nothing without a parent pid)
    Parent,
    /// `,"pid":…,"start":…`
    ProcTail,
    /// `,"user":{…}`
    User,
}

impl Part {
    pub(super) const ALL: [Part; 7] = [
        Part::Host,
        Part::Container,
        Part::Pod,
        Part::ProcHead,
        Part::Parent,
        Part::ProcTail,
        Part::User,
    ];

    pub(super) fn entity(self) -> Entity {
        match self {
            Part::Host => Entity::Header,
            Part::Container => Entity::Container,
            Part::Pod => Entity::Pod,
            Part::Parent => Entity::PProc,
            Part::ProcHead | Part::ProcTail | Part::User => Entity::Proc,
        }
    }
}

impl Rec<'_> {
    /// One cached part (see [`Part`]).
    pub(super) fn part(&self, p: Part, out: &mut Vec<u8>) {
        let f = self.f;
        match p {
            Part::Host => {
                next(out, "host");
                out.push(b'{');
                key(out, "id");
                self.s(out, &f.node_id);
                next(out, "ip");
                self.s(out, &f.node_ip);
                out.push(b'}');
            }
            Part::Container => {
                if self.empty(&f.container_id) {
                    return;
                }
                next(out, "container");
                out.push(b'{');
                key(out, "id");
                self.s(out, &f.container_id);
                if !self.empty(&f.container_image) {
                    next(out, "image");
                    out.push(b'{');
                    key(out, "id");
                    self.s(out, &f.container_imageid);
                    next(out, "name");
                    self.s(out, &f.container_image);
                    out.push(b'}');
                }
                if !self.empty(&f.container_name) {
                    next(out, "name");
                    self.s(out, &f.container_name);
                }
                next(out, "runtime");
                self.s(out, &f.container_type);
                next(out, "sf_privileged");
                jsonw::boolean(out, self.i(&f.container_privileged) != 0);
                out.push(b'}');
            }
            Part::Pod => self.pod(out),
            Part::ProcHead => {
                next(out, "process");
                out.push(b'{');
                key(out, "args");
                self.s(out, &f.proc_args);
                next(out, "command_line");
                self.s(out, &f.proc_cmdline);
                next(out, "executable");
                self.s(out, &f.proc_exe);
                next(out, "name");
                self.s(out, &f.proc_name);
            }
            Part::Parent => {
                if self.i(&f.pproc_pid) == 0 {
                    return;
                }
                next(out, "parent");
                out.push(b'{');
                key(out, "args");
                self.s(out, &f.pproc_args);
                next(out, "command_line");
                self.s(out, &f.pproc_cmdline);
                next(out, "executable");
                self.s(out, &f.pproc_exe);
                next(out, "name");
                self.s(out, &f.pproc_name);
                next(out, "pid");
                int(out, self.i(&f.pproc_pid));
                next(out, "start");
                iso(out, self.i(&f.pproc_createts));
                out.push(b'}');
            }
            Part::ProcTail => {
                next(out, "pid");
                int(out, self.i(&f.proc_pid));
                next(out, "start");
                iso(out, self.i(&f.proc_createts));
            }
            Part::User => {
                next(out, "user");
                out.push(b'{');
                key(out, "group");
                out.push(b'{');
                key(out, "id");
                out.push(b'"');
                int(out, self.i(&f.proc_gid));
                out.push(b'"');
                if !self.empty(&f.proc_group) {
                    next(out, "name");
                    self.s(out, &f.proc_group);
                }
                out.push(b'}');
                next(out, "id");
                out.push(b'"');
                int(out, self.i(&f.proc_uid));
                out.push(b'"');
                if !self.empty(&f.proc_user) {
                    next(out, "name");
                    self.s(out, &f.proc_user);
                }
                out.push(b'}');
            }
        }
    }

    fn pod(&self, out: &mut Vec<u8>) {
        let Some(p) = self.ev.rec.pod.as_deref().filter(|p| !p.id.is_empty()) else {
            return;
        };
        next(out, "pod");
        out.push(b'{');
        key(out, "hostip");
        ints(out, &p.host_ip);
        next(out, "id");
        string(out, &p.id);
        next(out, "internalip");
        ints(out, &p.internal_ip);
        next(out, "name");
        string(out, &p.name);
        next(out, "namespace");
        string(out, &p.namespace);
        next(out, "nodename");
        string(out, &p.node_name);
        next(out, "restartcnt");
        int(out, p.restart_count);
        next(out, "ts");
        int(out, p.ts);
        out.push(b'}');
        if p.services.is_empty() {
            return;
        }
        next(out, "service");
        out.push(b'[');
        for (i, s) in p.services.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'{');
            key(out, "clusterip");
            ints(out, &s.cluster_ip);
            next(out, "id");
            string(out, &s.id);
            next(out, "name");
            string(out, &s.name);
            next(out, "namespace");
            string(out, &s.namespace);
            next(out, "ports");
            out.push(b'[');
            for (j, x) in s.port_list.iter().enumerate() {
                if j > 0 {
                    out.push(b',');
                }
                out.push(b'{');
                key(out, "nodeport");
                int(out, x.node_port as i64);
                next(out, "port");
                int(out, x.port as i64);
                next(out, "proto");
                string(out, &x.proto);
                next(out, "targetport");
                int(out, x.target_port as i64);
                out.push(b'}');
            }
            out.extend_from_slice(b"]}");
        }
        out.push(b']');
    }
}
