//! The ECS encoder as it was before issue 19 (test-only): each document built as
//! `serde_json` maps (keys sorted, as Go's encoding/json writes maps), the top-level order
//! the original's struct. The streaming encoder (`super`) is tested against its bytes.

use std::collections::HashMap;

use serde_json::{json, Map, Value as J};
use sysflow_model::flat::{Field, Value};
use sysflow_model::record::RecordType;
use sysflow_model::OpFlags;

use crate::export::encode::{jsonw, Encoder};
use crate::pipeline::Event;
use crate::time::Civil;

use super::ECS_VERSION;

/// Every attribute the encoder reads.
const NAMES: &[&str] = &[
    "sf.ts",
    "sf.endts",
    "sf.ret",
    "sf.opflags",
    "sf.node.id",
    "sf.node.ip",
    "sf.container.id",
    "sf.container.name",
    "sf.container.image",
    "sf.container.imageid",
    "sf.container.type",
    "sf.container.privileged",
    "sf.proc.exe",
    "sf.proc.args",
    "sf.proc.cmdline",
    "sf.proc.pid",
    "sf.proc.tid",
    "sf.proc.createts",
    "sf.proc.name",
    "sf.proc.uid",
    "sf.proc.user",
    "sf.proc.gid",
    "sf.proc.group",
    "sf.pproc.exe",
    "sf.pproc.args",
    "sf.pproc.cmdline",
    "sf.pproc.pid",
    "sf.pproc.createts",
    "sf.pproc.name",
    "sf.file.path",
    "sf.file.name",
    "sf.file.directory",
    "sf.file.type",
    "sf.file.fd",
    "sf.file.newpath",
    "sf.flow.rbytes",
    "sf.flow.rops",
    "sf.flow.wbytes",
    "sf.flow.wops",
    "sf.net.sip",
    "sf.net.sport",
    "sf.net.dip",
    "sf.net.dport",
    "sf.net.proto",
    "sf.ke.action",
    "sf.ke.kind",
    "sf.ke.message",
    "sf.pod.id",
    "sf.pod.name",
    "sf.pod.nodename",
    "sf.pod.namespace",
    "sf.pod.ts",
    "sf.pod.restartcnt",
];

pub struct EcsEncoder {
    fields: HashMap<&'static str, Field>,
}

impl Default for EcsEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl EcsEncoder {
    pub fn new() -> Self {
        EcsEncoder {
            fields: NAMES
                .iter()
                .filter_map(|n| Field::resolve(n).map(|f| (*n, f)))
                .collect(),
        }
    }
}

struct Rec<'a> {
    enc: &'a EcsEncoder,
    ev: &'a Event,
}

impl Rec<'_> {
    fn v(&self, name: &str) -> Value<'_> {
        self.enc
            .fields
            .get(name)
            .map(|f| self.ev.rec.get(f))
            .unwrap_or(Value::Missing)
    }
    fn s(&self, name: &str) -> String {
        match self.v(name) {
            Value::Missing => String::new(),
            v => v.to_string(),
        }
    }
    fn i(&self, name: &str) -> i64 {
        self.v(name).as_int().unwrap_or(0)
    }
}

/// RFC 3339 with nanoseconds, UTC.
pub(super) fn iso_nanos(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    let c = Civil::from_unix(secs);
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    );
    if frac != 0 {
        let f = format!("{frac:09}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

fn insert_nonempty(m: &mut Map<String, J>, k: &str, v: String) {
    if !v.is_empty() {
        m.insert(k.into(), J::String(v));
    }
}

impl EcsEncoder {
    fn document(&self, ev: &Event) -> Vec<(&'static str, J)> {
        let r = Rec { enc: self, ev };
        let ty = ev.rec.rec.record_type();
        let ops = match &ev.rec.rec {
            sysflow_model::SysFlow::ProcessEvent(e) => e.op_flags,
            sysflow_model::SysFlow::FileFlow(e) => e.op_flags,
            sysflow_model::SysFlow::FileEvent(e) => e.op_flags,
            sysflow_model::SysFlow::NetworkFlow(e) => e.op_flags,
            _ => OpFlags(0),
        };
        let has = |bit: u32| ops.0 & bit != 0;
        let ts = r.i("sf.ts");
        let endts = match r.i("sf.endts") {
            0 => ts,
            e => e,
        };
        let mut doc: Vec<(&'static str, J)> = vec![
            ("@timestamp", J::String(iso_nanos(ts))),
            (
                "agent",
                json!({"type": "SysFlow", "version": env!("CARGO_PKG_VERSION")}),
            ),
            ("ecs", json!({ "version": ECS_VERSION })),
        ];
        let mut event = Map::new();
        let (category, etype, action): (&str, &str, String) = match ty {
            RecordType::NetworkFlow => {
                ("network", "connection", "network-connection-traffic".into())
            }
            RecordType::FileFlow => {
                let mut a = "file-access".to_string();
                let mut t = "access";
                if has(OpFlags::READ) && r.i("sf.flow.rbytes") > 0 {
                    a.push_str("-read");
                }
                if has(OpFlags::WRITE) && r.i("sf.flow.wbytes") > 0 {
                    a.push_str("-write");
                    t = "change";
                }
                ("file", t, a)
            }
            RecordType::FileEvent => {
                if has(OpFlags::MKDIR) {
                    ("file", "creation", "directory-create".into())
                } else if has(OpFlags::RMDIR) {
                    ("file", "deletion", "directory-delete".into())
                } else if has(OpFlags::UNLINK) {
                    ("file", "deletion", "file-delete".into())
                } else if has(OpFlags::LINK) || has(OpFlags::SYMLINK) {
                    ("file", "change", "file-link".into())
                } else if has(OpFlags::RENAME) {
                    ("file", "change", "file-rename".into())
                } else {
                    ("file", "change", "file-change".into())
                }
            }
            RecordType::ProcessEvent => {
                let thread = r.i("sf.proc.pid") != r.i("sf.proc.tid");
                let (t, a) = if has(OpFlags::CLONE) || has(OpFlags::EXEC) {
                    (
                        "start",
                        if thread && has(OpFlags::CLONE) {
                            "thread-start"
                        } else {
                            "process-start"
                        },
                    )
                } else if has(OpFlags::EXIT) {
                    (
                        "end",
                        if thread {
                            "thread-exit"
                        } else {
                            "process-exit"
                        },
                    )
                } else {
                    ("change", "process-change")
                };
                ("process", t, a.into())
            }
            RecordType::K8sEvent => {
                let a = r.s("sf.ke.action");
                let t = if a.ends_with("ADDED") {
                    "creation"
                } else if a.ends_with("DELETED") {
                    "deletion"
                } else if a.ends_with("MODIFIED") {
                    "change"
                } else if a.ends_with("ERROR") {
                    "error"
                } else {
                    "info"
                };
                event.insert("original".into(), J::String(r.s("sf.ke.message")));
                ("orchestration", t, a)
            }
            _ => ("process", "info", "unknown".into()),
        };
        event.insert("category".into(), json!(category));
        event.insert("type".into(), json!(etype));
        event.insert("action".into(), json!(action));
        event.insert("sf_type".into(), json!(ty.code()));
        event.insert("start".into(), json!(iso_nanos(ts)));
        event.insert("end".into(), json!(iso_nanos(endts)));
        event.insert("duration".into(), json!(endts - ts));
        event.insert("kind".into(), json!("event"));
        if matches!(ty, RecordType::ProcessEvent | RecordType::FileEvent) {
            event.insert("sf_ret".into(), json!(r.i("sf.ret")));
        }
        if ev.is_alert() {
            let names: Vec<&str> = ev.rules.iter().map(|x| x.name.as_str()).collect();
            event.insert("reason".into(), json!(names.join(", ")));
            let sev = ev.rules.iter().map(|x| x.priority).max().unwrap_or(0);
            event.insert("severity".into(), json!(sev));
        }
        doc.push(("event", J::Object(event)));
        doc.push((
            "host",
            json!({"id": r.s("sf.node.id"), "ip": r.s("sf.node.ip")}),
        ));

        let cid = r.s("sf.container.id");
        if !cid.is_empty() {
            let mut c = Map::new();
            c.insert("id".into(), json!(cid));
            c.insert("runtime".into(), json!(r.s("sf.container.type")));
            c.insert(
                "sf_privileged".into(),
                json!(r.i("sf.container.privileged") != 0),
            );
            insert_nonempty(&mut c, "name", r.s("sf.container.name"));
            let img = r.s("sf.container.image");
            if !img.is_empty() {
                c.insert(
                    "image".into(),
                    json!({"id": r.s("sf.container.imageid"), "name": img}),
                );
            }
            doc.push(("container", J::Object(c)));
        }
        if ty == RecordType::K8sEvent {
            let msg: J = serde_json::from_str(&r.s("sf.ke.message")).unwrap_or(J::Null);
            let item = msg.pointer("/items/0").cloned().unwrap_or(J::Null);
            doc.push((
                "orchestrator",
                json!({
                    "namespace": item.get("namespace").cloned().unwrap_or(J::Null),
                    "resource": {"type": r.s("sf.ke.kind").trim_start_matches("K8S_").to_lowercase(),
                                 "name": item.get("name").cloned().unwrap_or(J::Null)},
                    "type": "kubernetes"
                }),
            ));
        }
        if let Some(p) = ev.rec.pod.as_deref().filter(|p| !p.id.is_empty()) {
            doc.push((
                "pod",
                json!({"ts": p.ts, "id": p.id, "name": p.name, "nodename": p.node_name,
                       "namespace": p.namespace, "hostip": p.host_ip, "internalip": p.internal_ip,
                       "restartcnt": p.restart_count}),
            ));
            if !p.services.is_empty() {
                let svcs: Vec<J> = p
                    .services
                    .iter()
                    .map(|s| {
                        let ports: Vec<J> = s
                            .port_list
                            .iter()
                            .map(|x| json!({"port": x.port, "targetport": x.target_port, "nodeport": x.node_port, "proto": x.proto}))
                            .collect();
                        json!({"id": s.id, "name": s.name, "namespace": s.namespace, "clusterip": s.cluster_ip, "ports": ports})
                    })
                    .collect();
                doc.push(("service", J::Array(svcs)));
            }
        }
        if matches!(ty, RecordType::FileFlow | RecordType::FileEvent) {
            let mut f = Map::new();
            let t = r.s("sf.file.type");
            let ftype = if has(OpFlags::SYMLINK) {
                "symlink"
            } else {
                match t.as_str() {
                    "f" => "file",
                    "d" => "dir",
                    "u" | "4" | "6" => "socket",
                    "p" => "pipe",
                    _ => "unknown",
                }
            };
            f.insert("type".into(), json!(ftype));
            let path = r.s("sf.file.path");
            if path.is_empty() {
                let fd = r.i("sf.file.fd");
                f.insert("name".into(), json!(fd.to_string()));
                f.insert(
                    "path".into(),
                    json!(format!("/proc/{}/fd/{fd}", r.i("sf.proc.pid"))),
                );
            } else {
                f.insert("name".into(), json!(r.s("sf.file.name")));
                f.insert("directory".into(), json!(r.s("sf.file.directory")));
                if ftype != "dir" {
                    f.insert("path".into(), json!(path));
                }
            }
            if has(OpFlags::LINK) || has(OpFlags::SYMLINK) || has(OpFlags::RENAME) {
                insert_nonempty(&mut f, "target_path", r.s("sf.file.newpath"));
            }
            doc.push(("file", J::Object(f)));
            if ty == RecordType::FileFlow {
                let (rb, ro, wb, wo) = (
                    r.i("sf.flow.rbytes"),
                    r.i("sf.flow.rops"),
                    r.i("sf.flow.wbytes"),
                    r.i("sf.flow.wops"),
                );
                if rb != 0 || ro != 0 || wb != 0 || wo != 0 {
                    doc.push(("sf_file_action", json!({"bytes_read": rb, "read_ops": ro, "bytes_written": wb, "write_ops": wo})));
                }
            }
        }
        if ty == RecordType::NetworkFlow {
            let (rb, ro, wb, wo) = (
                r.i("sf.flow.rbytes"),
                r.i("sf.flow.rops"),
                r.i("sf.flow.wbytes"),
                r.i("sf.flow.wops"),
            );
            let proto = r.i("sf.net.proto");
            let pname = match proto {
                6 => "tcp",
                17 => "udp",
                1 => "icmp",
                _ => "",
            };
            let mut n = Map::new();
            n.insert("bytes".into(), json!(rb + wb));
            n.insert("iana_number".into(), json!(proto.to_string()));
            insert_nonempty(&mut n, "protocol", pname.into());
            doc.push(("network", J::Object(n)));
            let (sip, dip) = (r.s("sf.net.sip"), r.s("sf.net.dip"));
            doc.push(("source", json!({"ip": sip, "address": sip, "port": r.i("sf.net.sport"), "bytes": wb, "packets": wo})));
            doc.push(("destination", json!({"ip": dip, "address": dip, "port": r.i("sf.net.dport"), "bytes": rb, "packets": ro})));
        }
        if ty != RecordType::K8sEvent {
            let mut p = Map::new();
            p.insert("executable".into(), json!(r.s("sf.proc.exe")));
            p.insert("args".into(), json!(r.s("sf.proc.args")));
            p.insert("command_line".into(), json!(r.s("sf.proc.cmdline")));
            p.insert("pid".into(), json!(r.i("sf.proc.pid")));
            p.insert("start".into(), json!(iso_nanos(r.i("sf.proc.createts"))));
            p.insert("name".into(), json!(r.s("sf.proc.name")));
            p.insert("thread".into(), json!({"id": r.i("sf.proc.tid")}));
            if r.i("sf.pproc.pid") != 0 {
                p.insert(
                    "parent".into(),
                    json!({"executable": r.s("sf.pproc.exe"), "args": r.s("sf.pproc.args"),
                           "command_line": r.s("sf.pproc.cmdline"), "pid": r.i("sf.pproc.pid"),
                           "start": iso_nanos(r.i("sf.pproc.createts")), "name": r.s("sf.pproc.name")}),
                );
            }
            doc.push(("process", J::Object(p)));
            let mut u = Map::new();
            u.insert("id".into(), json!(r.i("sf.proc.uid").to_string()));
            insert_nonempty(&mut u, "name", r.s("sf.proc.user"));
            let mut g = Map::new();
            g.insert("id".into(), json!(r.i("sf.proc.gid").to_string()));
            insert_nonempty(&mut g, "name", r.s("sf.proc.group"));
            u.insert("group".into(), J::Object(g));
            doc.push(("user", J::Object(u)));
        }
        let tags: Vec<&str> = ev
            .tags
            .iter()
            .map(|t| &**t)
            .chain(
                ev.rules
                    .iter()
                    .flat_map(|x| x.tags.iter().map(String::as_str)),
            )
            .collect();
        if !tags.is_empty() {
            doc.push(("tags", json!(tags)));
        }
        doc
    }
}

impl Encoder for EcsEncoder {
    fn encode(&mut self, ev: &Event, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (k, v)) in self.document(ev).into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            jsonw::key(out, k);
            // Serialising a serde_json::Value into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, &v);
        }
        out.push(b'}');
    }
}
