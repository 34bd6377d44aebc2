//! `format: ecs`: Elastic Common Schema 8.2 documents (reference §6.3). Nested objects have
//! their keys sorted (as Go's encoding/json writes maps); the top-level order follows the
//! original's struct. Strings are escaped as serde_json escapes them.
//!
//! The document is written straight into the output. The host, container, pod (and
//! services), process and user objects, and the parent process, read one entity each and are
//! copied from the fragment cache (`super::fragment`) while the entity is unchanged.
//! (`reference.rs`, test-only, is the earlier encoder that built `serde_json` maps: the tests
//! hold this one to its bytes.)

mod parts;
#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;

use serde_json::Value as J;
use sysflow_model::flat::{Field, Value};
use sysflow_model::record::RecordType;
use sysflow_model::{OpFlags, SysFlow};

use super::fragment::{CacheStats, Caches};
use super::jsonw::{self, plain_string as string};
use super::Encoder;
use crate::pipeline::Event;
use crate::time::Civil;
use parts::Part;

const ECS_VERSION: &str = "8.2";

macro_rules! fields {
    ($($f:ident = $n:literal,)*) => {
        /// Every attribute the encoder reads, resolved once.
        struct Fields { $($f: Option<Field>,)* }
        impl Fields {
            fn resolve() -> Self {
                Fields { $($f: Field::resolve($n),)* }
            }
        }
    };
}

fields! {
    ts = "sf.ts",
    endts = "sf.endts",
    ret = "sf.ret",
    node_id = "sf.node.id",
    node_ip = "sf.node.ip",
    container_id = "sf.container.id",
    container_name = "sf.container.name",
    container_image = "sf.container.image",
    container_imageid = "sf.container.imageid",
    container_type = "sf.container.type",
    container_privileged = "sf.container.privileged",
    proc_exe = "sf.proc.exe",
    proc_args = "sf.proc.args",
    proc_cmdline = "sf.proc.cmdline",
    proc_pid = "sf.proc.pid",
    proc_tid = "sf.proc.tid",
    proc_createts = "sf.proc.createts",
    proc_name = "sf.proc.name",
    proc_uid = "sf.proc.uid",
    proc_user = "sf.proc.user",
    proc_gid = "sf.proc.gid",
    proc_group = "sf.proc.group",
    pproc_exe = "sf.pproc.exe",
    pproc_args = "sf.pproc.args",
    pproc_cmdline = "sf.pproc.cmdline",
    pproc_pid = "sf.pproc.pid",
    pproc_createts = "sf.pproc.createts",
    pproc_name = "sf.pproc.name",
    file_path = "sf.file.path",
    file_name = "sf.file.name",
    file_directory = "sf.file.directory",
    file_type = "sf.file.type",
    file_fd = "sf.file.fd",
    file_newpath = "sf.file.newpath",
    flow_rbytes = "sf.flow.rbytes",
    flow_rops = "sf.flow.rops",
    flow_wbytes = "sf.flow.wbytes",
    flow_wops = "sf.flow.wops",
    net_sip = "sf.net.sip",
    net_sport = "sf.net.sport",
    net_dip = "sf.net.dip",
    net_dport = "sf.net.dport",
    net_proto = "sf.net.proto",
    ke_action = "sf.ke.action",
    ke_kind = "sf.ke.kind",
    ke_message = "sf.ke.message",
}

pub struct EcsEncoder {
    f: Fields,
    caches: Caches,
    /// Encode every part afresh (the reference the cached output is tested against).
    uncached: bool,
}

impl Default for EcsEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl EcsEncoder {
    pub fn new() -> Self {
        EcsEncoder {
            f: Fields::resolve(),
            caches: Caches::new(Part::ALL.len()),
            uncached: false,
        }
    }

    /// The same encoder without the fragment cache.
    pub fn uncached() -> Self {
        EcsEncoder {
            uncached: true,
            ..Self::new()
        }
    }

    /// Fragment-cache hits and misses so far.
    pub fn cache_stats(&self) -> CacheStats {
        self.caches.stats()
    }

    fn part(&mut self, p: Part, ev: &Event, out: &mut Vec<u8>) {
        let r = Rec { f: &self.f, ev };
        match Part::entity(p).key(&ev.rec).filter(|_| !self.uncached) {
            Some(k) => self.caches.get(p as usize).write(k, out, |o| r.part(p, o)),
            None => r.part(p, out),
        }
    }
}

/// RFC 3339 with nanoseconds, UTC.
pub fn iso_nanos(ns: i64) -> String {
    let mut out = Vec::with_capacity(32);
    write_iso_nanos(&mut out, ns);
    String::from_utf8(out).unwrap_or_default()
}

/// Appends [`iso_nanos`] (no quotes).
fn write_iso_nanos(out: &mut Vec<u8>, ns: i64) {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    let c = Civil::from_unix(secs);
    let mut b = [0u8; 19];
    let mut put = |at: usize, w: usize, v: i64| {
        let mut v = v.unsigned_abs();
        for i in (at..at + w).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, c.year);
    put(5, 2, c.month as i64);
    put(8, 2, c.day as i64);
    put(11, 2, c.hour as i64);
    put(14, 2, c.minute as i64);
    put(17, 2, c.second as i64);
    b[4] = b'-';
    b[7] = b'-';
    b[10] = b'T';
    b[13] = b':';
    b[16] = b':';
    if !(0..=9999).contains(&c.year) {
        // Years of other widths: what `format!("{:04}")` writes.
        out.extend_from_slice(format!("{:04}", c.year).as_bytes());
        out.extend_from_slice(&b[4..]);
    } else {
        out.extend_from_slice(&b);
    }
    if frac != 0 {
        let mut d = [0u8; 9];
        let mut v = frac;
        for x in d.iter_mut().rev() {
            *x = b'0' + (v % 10) as u8;
            v /= 10;
        }
        let n = 9 - d.iter().rev().take_while(|&&x| x == b'0').count();
        out.push(b'.');
        out.extend_from_slice(&d[..n]);
    }
    out.push(b'Z');
}

/// One record being written.
struct Rec<'a> {
    f: &'a Fields,
    ev: &'a Event,
}

/// `"k":`
fn key(out: &mut Vec<u8>, k: &str) {
    jsonw::key(out, k);
}

/// `,"k":`
fn next(out: &mut Vec<u8>, k: &str) {
    out.push(b',');
    jsonw::key(out, k);
}

fn int(out: &mut Vec<u8>, v: i64) {
    jsonw::int(out, v);
}

fn ints(out: &mut Vec<u8>, v: &[i64]) {
    out.push(b'[');
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        int(out, *x);
    }
    out.push(b']');
}

fn iso(out: &mut Vec<u8>, ns: i64) {
    out.push(b'"');
    write_iso_nanos(out, ns);
    out.push(b'"');
}

impl Rec<'_> {
    fn v(&self, f: &Option<Field>) -> Value<'_> {
        f.as_ref().map_or(Value::Missing, |f| self.ev.rec.get(f))
    }

    /// The string form of a value ("" when missing), as a JSON string.
    fn s(&self, out: &mut Vec<u8>, f: &Option<Field>) {
        let v = self.v(f);
        out.push(b'"');
        match v {
            Value::Str(s) => jsonw::escape_plain_into(out, s),
            v => {
                let mut first = true;
                v.any_part(|p| {
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    jsonw::escape_plain_into(out, p);
                    false
                });
            }
        }
        out.push(b'"');
    }

    /// Whether the string form of a value is empty (no part, or one empty part).
    fn empty(&self, f: &Option<Field>) -> bool {
        match self.v(f) {
            Value::Missing => true,
            Value::Str(s) => s.is_empty(),
            v => {
                let (mut parts, mut text) = (0, false);
                v.any_part(|p| {
                    parts += 1;
                    text |= !p.is_empty();
                    false
                });
                parts <= 1 && !text
            }
        }
    }

    fn i(&self, f: &Option<Field>) -> i64 {
        self.v(f).as_int().unwrap_or(0)
    }

    /// `"@timestamp"` to `"event"`: the record's own fields.
    fn head(&self, out: &mut Vec<u8>, ty: RecordType, ops: OpFlags) {
        let f = self.f;
        let has = |bit: u32| ops.0 & bit != 0;
        let ts = self.i(&f.ts);
        let endts = match self.i(&f.endts) {
            0 => ts,
            e => e,
        };
        out.extend_from_slice(b"{\"@timestamp\":");
        iso(out, ts);
        out.extend_from_slice(b",\"agent\":{\"type\":\"SysFlow\",\"version\":");
        string(out, env!("CARGO_PKG_VERSION"));
        out.extend_from_slice(b"},\"ecs\":{\"version\":");
        string(out, ECS_VERSION);
        out.extend_from_slice(b"},\"event\":{\"action\":");
        let mut category = "process";
        let mut etype = "info";
        match ty {
            RecordType::NetworkFlow => {
                category = "network";
                etype = "connection";
                string(out, "network-connection-traffic");
            }
            RecordType::FileFlow => {
                category = "file";
                etype = "access";
                out.extend_from_slice(b"\"file-access");
                if has(OpFlags::READ) && self.i(&f.flow_rbytes) > 0 {
                    out.extend_from_slice(b"-read");
                }
                if has(OpFlags::WRITE) && self.i(&f.flow_wbytes) > 0 {
                    out.extend_from_slice(b"-write");
                    etype = "change";
                }
                out.push(b'"');
            }
            RecordType::FileEvent => {
                category = "file";
                let (t, a) = if has(OpFlags::MKDIR) {
                    ("creation", "directory-create")
                } else if has(OpFlags::RMDIR) {
                    ("deletion", "directory-delete")
                } else if has(OpFlags::UNLINK) {
                    ("deletion", "file-delete")
                } else if has(OpFlags::LINK) || has(OpFlags::SYMLINK) {
                    ("change", "file-link")
                } else if has(OpFlags::RENAME) {
                    ("change", "file-rename")
                } else {
                    ("change", "file-change")
                };
                etype = t;
                string(out, a);
            }
            RecordType::ProcessEvent => {
                let thread = self.i(&f.proc_pid) != self.i(&f.proc_tid);
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
                etype = t;
                string(out, a);
            }
            RecordType::K8sEvent => {
                category = "orchestration";
                let mut a = Vec::new();
                self.s(&mut a, &f.ke_action);
                let a = &a[1..a.len() - 1];
                etype = if a.ends_with(b"ADDED") {
                    "creation"
                } else if a.ends_with(b"DELETED") {
                    "deletion"
                } else if a.ends_with(b"MODIFIED") {
                    "change"
                } else if a.ends_with(b"ERROR") {
                    "error"
                } else {
                    "info"
                };
                out.push(b'"');
                out.extend_from_slice(a);
                out.push(b'"');
            }
            _ => string(out, "unknown"),
        }
        next(out, "category");
        string(out, category);
        next(out, "duration");
        int(out, endts - ts);
        next(out, "end");
        iso(out, endts);
        next(out, "kind");
        string(out, "event");
        if ty == RecordType::K8sEvent {
            next(out, "original");
            self.s(out, &f.ke_message);
        }
        let ev = self.ev;
        if ev.is_alert() {
            next(out, "reason");
            out.push(b'"');
            for (i, x) in ev.rules.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                jsonw::escape_plain_into(out, &x.name);
            }
            out.push(b'"');
            next(out, "severity");
            int(
                out,
                ev.rules.iter().map(|x| x.priority).max().unwrap_or(0) as i64,
            );
        }
        if matches!(ty, RecordType::ProcessEvent | RecordType::FileEvent) {
            next(out, "sf_ret");
            int(out, self.i(&f.ret));
        }
        next(out, "sf_type");
        string(out, ty.code());
        next(out, "start");
        iso(out, ts);
        next(out, "type");
        string(out, etype);
        out.push(b'}');
    }

    /// `"orchestrator"` of a K8s event (rare: built as `serde_json` values).
    fn orchestrator(&self, out: &mut Vec<u8>) {
        let f = self.f;
        let text = |fl: &Option<Field>| match self.v(fl) {
            Value::Missing => String::new(),
            v => v.to_string(),
        };
        let msg: J = serde_json::from_str(&text(&f.ke_message)).unwrap_or(J::Null);
        let item = msg.pointer("/items/0").cloned().unwrap_or(J::Null);
        let o = serde_json::json!({
            "namespace": item.get("namespace").cloned().unwrap_or(J::Null),
            "resource": {"type": text(&f.ke_kind).trim_start_matches("K8S_").to_lowercase(),
                         "name": item.get("name").cloned().unwrap_or(J::Null)},
            "type": "kubernetes"
        });
        next(out, "orchestrator");
        // Serialising a serde_json::Value into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &o);
    }

    /// `"file"` and `"sf_file_action"` of FF and FE.
    fn file(&self, out: &mut Vec<u8>, ty: RecordType, ops: OpFlags) {
        let f = self.f;
        let has = |bit: u32| ops.0 & bit != 0;
        let ftype = if has(OpFlags::SYMLINK) {
            "symlink"
        } else {
            let mut t = Vec::new();
            self.s(&mut t, &f.file_type);
            match &t[1..t.len() - 1] {
                b"f" => "file",
                b"d" => "dir",
                b"u" | b"4" | b"6" => "socket",
                b"p" => "pipe",
                _ => "unknown",
            }
        };
        next(out, "file");
        out.push(b'{');
        if self.empty(&f.file_path) {
            let fd = self.i(&f.file_fd);
            key(out, "name");
            out.push(b'"');
            int(out, fd);
            out.push(b'"');
            next(out, "path");
            out.extend_from_slice(b"\"/proc/");
            int(out, self.i(&f.proc_pid));
            out.extend_from_slice(b"/fd/");
            int(out, fd);
            out.push(b'"');
        } else {
            key(out, "directory");
            self.s(out, &f.file_directory);
            next(out, "name");
            self.s(out, &f.file_name);
            if ftype != "dir" {
                next(out, "path");
                self.s(out, &f.file_path);
            }
        }
        if (has(OpFlags::LINK) || has(OpFlags::SYMLINK) || has(OpFlags::RENAME))
            && !self.empty(&f.file_newpath)
        {
            next(out, "target_path");
            self.s(out, &f.file_newpath);
        }
        next(out, "type");
        string(out, ftype);
        out.push(b'}');
        if ty == RecordType::FileFlow {
            let (rb, ro, wb, wo) = (
                self.i(&f.flow_rbytes),
                self.i(&f.flow_rops),
                self.i(&f.flow_wbytes),
                self.i(&f.flow_wops),
            );
            if rb != 0 || ro != 0 || wb != 0 || wo != 0 {
                next(out, "sf_file_action");
                out.extend_from_slice(b"{\"bytes_read\":");
                int(out, rb);
                next(out, "bytes_written");
                int(out, wb);
                next(out, "read_ops");
                int(out, ro);
                next(out, "write_ops");
                int(out, wo);
                out.push(b'}');
            }
        }
    }

    /// `"network"`, `"source"` and `"destination"` of NF.
    fn network(&self, out: &mut Vec<u8>) {
        let f = self.f;
        let (rb, ro, wb, wo) = (
            self.i(&f.flow_rbytes),
            self.i(&f.flow_rops),
            self.i(&f.flow_wbytes),
            self.i(&f.flow_wops),
        );
        let proto = self.i(&f.net_proto);
        let pname = match proto {
            6 => "tcp",
            17 => "udp",
            1 => "icmp",
            _ => "",
        };
        next(out, "network");
        out.extend_from_slice(b"{\"bytes\":");
        int(out, rb + wb);
        next(out, "iana_number");
        out.push(b'"');
        int(out, proto);
        out.push(b'"');
        if !pname.is_empty() {
            next(out, "protocol");
            string(out, pname);
        }
        out.push(b'}');
        for (name, ip, port, bytes, packets) in [
            ("source", &f.net_sip, &f.net_sport, wb, wo),
            ("destination", &f.net_dip, &f.net_dport, rb, ro),
        ] {
            next(out, name);
            out.extend_from_slice(b"{\"address\":");
            self.s(out, ip);
            next(out, "bytes");
            int(out, bytes);
            next(out, "ip");
            self.s(out, ip);
            next(out, "packets");
            int(out, packets);
            next(out, "port");
            int(out, self.i(port));
            out.push(b'}');
        }
    }

    /// `"tags"`: the rule actions' tags, then the rules' own.
    fn tags(&self, out: &mut Vec<u8>) {
        let ev = self.ev;
        let mut tags = ev.tags.iter().map(|t| &**t).chain(
            ev.rules
                .iter()
                .flat_map(|x| x.tags.iter().map(String::as_str)),
        );
        let Some(first) = tags.next() else {
            return;
        };
        next(out, "tags");
        out.push(b'[');
        string(out, first);
        for t in tags {
            out.push(b',');
            string(out, t);
        }
        out.push(b']');
    }
}

impl Encoder for EcsEncoder {
    fn encode(&mut self, ev: &Event, out: &mut Vec<u8>) {
        let ty = ev.rec.rec.record_type();
        let ops = match &ev.rec.rec {
            SysFlow::ProcessEvent(e) => e.op_flags,
            SysFlow::FileFlow(e) => e.op_flags,
            SysFlow::FileEvent(e) => e.op_flags,
            SysFlow::NetworkFlow(e) => e.op_flags,
            _ => OpFlags(0),
        };
        Rec { f: &self.f, ev }.head(out, ty, ops);
        self.part(Part::Host, ev, out);
        self.part(Part::Container, ev, out);
        if ty == RecordType::K8sEvent {
            Rec { f: &self.f, ev }.orchestrator(out);
        }
        self.part(Part::Pod, ev, out);
        let r = Rec { f: &self.f, ev };
        if matches!(ty, RecordType::FileFlow | RecordType::FileEvent) {
            r.file(out, ty, ops);
        }
        if ty == RecordType::NetworkFlow {
            r.network(out);
        }
        if ty != RecordType::K8sEvent {
            self.part(Part::ProcHead, ev, out);
            self.part(Part::Parent, ev, out);
            self.part(Part::ProcTail, ev, out);
            let r = Rec { f: &self.f, ev };
            next(out, "thread");
            out.extend_from_slice(b"{\"id\":");
            int(out, r.i(&r.f.proc_tid));
            out.extend_from_slice(b"}}");
            self.part(Part::User, ev, out);
        }
        Rec { f: &self.f, ev }.tags(out);
        out.push(b'}');
    }
}
