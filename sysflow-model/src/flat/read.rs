//! Reading attributes from a [`FlatRecord`]: one match arm per [`Attr`].
//!
//! Conventions (decisions in `docs/compatibility.md`, "Flattening and attributes"):
//! - An attribute whose entity is absent, or that does not apply to the record type, is
//!   [`Value::Missing`] — except `sf.ret` and `sf.endts`, which are 0 where the original
//!   writes 0 (they are top-level JSON fields of every record).
//! - exe, exeArgs, names and paths are trimmed here, at read time, as slices; the tables keep
//!   raw values for the print mode.
//! - Nothing here allocates, except rendering json-valued fields into the caller's scratch.

use std::fmt::Write as _;

use xxhash_rust::xxh64::Xxh64;

use super::attr::{Attr, Field};
use super::jsonpath;
use super::value::{name_of, Ancestor, Value};
use super::FlatRecord;
use crate::flags::{OpFlags, OpenFlags};
use crate::record::{File, Oid, Process, SysFlow};

/// Directory of a trimmed path like Go's `filepath.Dir` without lexical cleaning:
/// "/etc/passwd" → "/etc", "/x" → "/", "x" → ".", "" → "" (Go gives ".").
pub(crate) fn dir_of(path: &str) -> &str {
    let p = path.trim();
    if p.is_empty() {
        return "";
    }
    match p.rfind('/') {
        None => ".",
        Some(i) => {
            let d = p[..i].trim_end_matches('/');
            if d.is_empty() {
                "/"
            } else {
                d
            }
        }
    }
}

/// Splits the collector's unix-socket path form `aaaa->bbbb /path` (also `aaaa-\u003ebbbb
/// /path`) into (`/path`, `aaaa->bbbb`); any other path is (path, "").
pub(crate) fn split_sym_path(path: &str) -> (&str, &str) {
    let p = path.trim();
    fn hex_run(s: &str) -> usize {
        s.bytes().take_while(|b| b.is_ascii_hexdigit()).count()
    }
    let a = hex_run(p);
    if (1..=16).contains(&a) {
        let rest = &p[a..];
        let arrow = if rest.starts_with("->") {
            2
        } else if rest.starts_with("-\\u003e") {
            7
        } else {
            0
        };
        if arrow > 0 {
            let after = &rest[arrow..];
            let b = hex_run(after);
            if (1..=16).contains(&b) && after[b..].starts_with(' ') {
                let target = after[b..].trim_start();
                if !target.is_empty() {
                    return (target, &p[..a + arrow + b]);
                }
            }
        }
    }
    (p, "")
}

/// `sf.proc.oid`: xxhash64 (seed 0) of decimal(hpid) followed by decimal(createTS).
pub fn oid_hash(oid: &Oid) -> u64 {
    let mut h = Xxh64::new(0);
    let mut buf = [0u8; 20];
    h.update(dec(oid.hpid, &mut buf));
    h.update(dec(oid.create_ts, &mut buf));
    h.digest()
}

fn dec(v: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut u = v.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if v < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

fn cmdline(p: &Process) -> Value<'_> {
    let args = p.exe_args.trim();
    if args.is_empty() {
        Value::Str(p.exe.trim())
    } else {
        Value::Concat(p.exe.trim(), " ", args)
    }
}

fn ancestor_value(kind: Ancestor, p: &Process) -> Value<'_> {
    match kind {
        Ancestor::Name => Value::Str(name_of(&p.exe)),
        Ancestor::Exe => Value::Str(p.exe.trim()),
        Ancestor::Cmdline => cmdline(p),
        Ancestor::Pid => Value::Int(p.oid.hpid),
    }
}

fn ancestor_kind(a: Attr) -> Ancestor {
    match a {
        Attr::ProcAName => Ancestor::Name,
        Attr::ProcAExe => Ancestor::Exe,
        Attr::ProcACmdline => Ancestor::Cmdline,
        _ => Ancestor::Pid,
    }
}

fn val<'a, T>(o: Option<T>, f: impl FnOnce(T) -> Value<'a>) -> Value<'a> {
    o.map_or(Value::Missing, f)
}

fn opt<'a, T: 'a>(o: Option<&'a T>, f: impl FnOnce(&'a T) -> Value<'a>) -> Value<'a> {
    o.map_or(Value::Missing, f)
}

/// Network 5-tuple of NF/NE records.
pub(super) struct Net {
    pub(super) sip: i32,
    pub(super) sport: i32,
    pub(super) dip: i32,
    pub(super) dport: i32,
    pub(super) proto: i32,
}

/// Flow counters of FF/NF records: (rbytes, rops, wbytes, wops).
type Counters = (i64, i64, i64, i64);

impl FlatRecord {
    /// Value of a field for this record. Hot path: allocates nothing.
    ///
    /// Fields that must render ([`Field::needs_scratch`]: json paths, pod JSON) yield
    /// [`Value::Missing`] here; read them with [`FlatRecord::get_into`].
    pub fn get(&self, f: &Field) -> Value<'_> {
        if f.needs_scratch() {
            return Value::Missing;
        }
        if let Some(i) = f.index {
            if f.attr.is_ancestor_list() {
                return opt(self.ancestry.get(i), |p| {
                    ancestor_value(ancestor_kind(f.attr), p)
                });
            }
        }
        self.attr(f.attr)
    }

    /// Like [`FlatRecord::get`], for fields whose value must be rendered (json paths);
    /// the rendering goes into `scratch`, which the caller reuses.
    pub fn get_into<'s>(&'s self, f: &Field, scratch: &'s mut String) -> Value<'s> {
        if !f.needs_scratch() {
            return self.get(f);
        }
        scratch.clear();
        let src: &str = match f.attr {
            Attr::KeMessage => match &self.rec {
                SysFlow::K8sEvent(k) => &k.message,
                _ => return Value::Missing,
            },
            a if a.renders() => {
                let Some(pod) = self.pod.as_deref() else {
                    return Value::Missing;
                };
                match a {
                    Attr::PodHostIp | Attr::PodHostIpJson => ints_json(&pod.host_ip, scratch),
                    Attr::PodInternalIp | Attr::PodInternalIpJson => {
                        ints_json(&pod.internal_ip, scratch)
                    }
                    _ => services_json(&pod.services, scratch),
                }
                if f.json_path.is_none() {
                    return Value::Str(scratch.as_str());
                }
                // The path evaluator reads its input before writing the output, so render
                // from a copy (rare path: pods only exist in old k8s captures).
                let json = std::mem::take(scratch);
                if let Some(p) = &f.json_path {
                    jsonpath::eval_into(&json, p, scratch);
                }
                return Value::Str(scratch.as_str());
            }
            // A hand-built Field with a json path on a non-json attribute.
            _ => return Value::Missing,
        };
        match &f.json_path {
            Some(p) if !src.is_empty() => {
                jsonpath::eval_into(src, p, scratch);
                Value::Str(scratch.as_str())
            }
            _ => Value::Str(src),
        }
    }

    pub(super) fn ts(&self) -> i64 {
        match &self.rec {
            SysFlow::ProcessEvent(r) => r.ts,
            SysFlow::NetworkFlow(r) => r.ts,
            SysFlow::FileFlow(r) => r.ts,
            SysFlow::FileEvent(r) => r.ts,
            SysFlow::NetworkEvent(r) => r.ts,
            SysFlow::ProcessFlow(r) => r.ts,
            SysFlow::K8sEvent(r) => r.ts,
            _ => 0,
        }
    }

    fn tid(&self) -> Option<i64> {
        match &self.rec {
            SysFlow::ProcessEvent(r) => Some(r.tid),
            SysFlow::NetworkFlow(r) => Some(r.tid),
            SysFlow::FileFlow(r) => Some(r.tid),
            SysFlow::FileEvent(r) => Some(r.tid),
            SysFlow::NetworkEvent(r) => Some(r.tid),
            _ => None,
        }
    }

    pub(super) fn opflags(&self) -> Option<OpFlags> {
        match &self.rec {
            SysFlow::ProcessEvent(r) => Some(r.op_flags),
            SysFlow::NetworkFlow(r) => Some(r.op_flags),
            SysFlow::FileFlow(r) => Some(r.op_flags),
            SysFlow::FileEvent(r) => Some(r.op_flags),
            SysFlow::NetworkEvent(r) => Some(r.op_flags),
            SysFlow::ProcessFlow(r) => Some(r.op_flags),
            _ => None,
        }
    }

    pub(super) fn net(&self) -> Option<Net> {
        match &self.rec {
            SysFlow::NetworkFlow(r) => Some(Net {
                sip: r.sip,
                sport: r.sport,
                dip: r.dip,
                dport: r.dport,
                proto: r.proto,
            }),
            SysFlow::NetworkEvent(r) => Some(Net {
                sip: r.sip,
                sport: r.sport,
                dip: r.dip,
                dport: r.dport,
                proto: r.proto,
            }),
            _ => None,
        }
    }

    fn counters(&self) -> Option<Counters> {
        match &self.rec {
            SysFlow::NetworkFlow(r) => Some((
                r.num_r_recv_bytes,
                r.num_r_recv_ops,
                r.num_w_send_bytes,
                r.num_w_send_ops,
            )),
            SysFlow::FileFlow(r) => Some((
                r.num_r_recv_bytes,
                r.num_r_recv_ops,
                r.num_w_send_bytes,
                r.num_w_send_ops,
            )),
            _ => None,
        }
    }

    fn open_flags(&self) -> Option<OpenFlags> {
        match &self.rec {
            SysFlow::FileFlow(r) => Some(r.open_flags),
            _ => None,
        }
    }

    fn proc_ref(&self) -> Option<&Process> {
        self.proc.as_deref()
    }

    fn file_value<'a>(&'a self, file: Option<&'a File>, a: Attr) -> Value<'a> {
        let Some(file) = file else {
            return Value::Missing;
        };
        let (path, link) = split_sym_path(&file.path);
        match a {
            Attr::FilePath | Attr::FileNewPath => Value::Str(path),
            Attr::FileSymlink | Attr::FileNewSymlink => Value::Str(link),
            Attr::FileName | Attr::FileNewName => Value::Str(name_of(path)),
            Attr::FileDirectory | Attr::FileNewDirectory => Value::Str(dir_of(path)),
            _ => char::from_u32(file.restype as u32).map_or(Value::Missing, Value::Char),
        }
    }

    fn attr(&self, a: Attr) -> Value<'_> {
        use Attr::*;
        let p = self.proc_ref();
        let pp = self.pproc.as_deref();
        let kind = self.rec.record_type();
        match a {
            Type => Value::Str(kind.code()),
            OpFlags => val(self.opflags(), |f| Value::OpFlags(f, kind)),
            Ret => Value::Int(match &self.rec {
                SysFlow::ProcessEvent(r) => r.ret as i64,
                SysFlow::FileEvent(r) => r.ret as i64,
                SysFlow::NetworkEvent(r) => r.ret as i64,
                _ => 0,
            }),
            Ts => Value::Int(self.ts()),
            EndTs => Value::Int(match &self.rec {
                SysFlow::FileFlow(r) => r.end_ts,
                SysFlow::NetworkFlow(r) => r.end_ts,
                SysFlow::ProcessFlow(r) => r.end_ts,
                SysFlow::K8sEvent(r) => r.ts,
                _ => 0,
            }),

            ProcOid => opt(self.rec.proc_oid(), |o| Value::Hash64(oid_hash(o))),
            ProcPid => opt(self.rec.proc_oid(), |o| Value::Int(o.hpid)),
            ProcCreateTs => opt(self.rec.proc_oid(), |o| Value::Int(o.create_ts)),
            ProcTid => val(self.tid(), Value::Int),
            ProcExe => opt(p, |p| Value::Str(p.exe.trim())),
            ProcName => opt(p, |p| Value::Str(name_of(&p.exe))),
            ProcArgs => opt(p, |p| Value::Str(p.exe_args.trim())),
            ProcCmdline => opt(p, cmdline),
            ProcUid => opt(p, |p| Value::Int(p.uid as i64)),
            ProcGid => opt(p, |p| Value::Int(p.gid as i64)),
            ProcUser => opt(p, |p| Value::Str(&p.user_name)),
            ProcGroup => opt(p, |p| Value::Str(&p.group_name)),
            ProcTty => opt(p, |p| Value::Bool(p.tty)),
            ProcEntry => opt(p, |p| Value::Bool(p.entry)),
            ProcAName | ProcAExe | ProcACmdline | ProcAPid => {
                if self.ancestry.is_empty() {
                    Value::Missing
                } else {
                    Value::Ancestors(ancestor_kind(a), &self.ancestry)
                }
            }
            ProcCwd => opt(p, |p| Value::Str(p.cwd.trim())),
            ProcEnv => opt(p, |p| Value::StrList(&p.env)),

            PProcOid => opt(p.and_then(|p| p.poid.as_ref()), |o| {
                Value::Hash64(oid_hash(o))
            }),
            PProcPid => opt(p.and_then(|p| p.poid.as_ref()), |o| Value::Int(o.hpid)),
            PProcCreateTs => opt(p.and_then(|p| p.poid.as_ref()), |o| Value::Int(o.create_ts)),
            PProcExe => opt(pp, |p| Value::Str(p.exe.trim())),
            PProcName => opt(pp, |p| Value::Str(name_of(&p.exe))),
            PProcArgs => opt(pp, |p| Value::Str(p.exe_args.trim())),
            PProcCmdline => opt(pp, cmdline),
            PProcUid => opt(pp, |p| Value::Int(p.uid as i64)),
            PProcGid => opt(pp, |p| Value::Int(p.gid as i64)),
            PProcUser => opt(pp, |p| Value::Str(&p.user_name)),
            PProcGroup => opt(pp, |p| Value::Str(&p.group_name)),
            PProcTty => opt(pp, |p| Value::Bool(p.tty)),
            PProcEntry => opt(pp, |p| Value::Bool(p.entry)),

            FilePath | FileSymlink | FileName | FileDirectory | FileType => {
                self.file_value(self.file.as_deref(), a)
            }
            FileNewPath | FileNewSymlink | FileNewName | FileNewDirectory => {
                self.file_value(self.newfile.as_deref(), a)
            }
            FileOid => match &self.rec {
                SysFlow::FileFlow(r) => Value::Foid(&r.file_oid),
                SysFlow::FileEvent(r) => Value::Foid(&r.file_oid),
                _ => Value::Missing,
            },
            FileNewOid => match &self.rec {
                SysFlow::FileEvent(r) => opt(r.new_file_oid.as_ref(), Value::Foid),
                _ => Value::Missing,
            },
            FileFd => match &self.rec {
                SysFlow::FileFlow(r) => Value::Int(r.fd as i64),
                SysFlow::NetworkFlow(r) => Value::Int(r.fd as i64),
                _ => Value::Missing,
            },
            FileOpenFlags => val(self.open_flags(), Value::OpenFlags),
            FileIsOpenRead => val(self.open_flags(), |f| Value::Bool(f.is_open_read())),
            FileIsOpenWrite => val(self.open_flags(), |f| Value::Bool(f.is_open_write())),

            NetSip | NetDip | NetSport | NetDport | NetProto | NetIp | NetPort => {
                let Some(n) = self.net() else {
                    return Value::Missing;
                };
                match a {
                    NetSip => Value::Ipv4(n.sip),
                    NetDip => Value::Ipv4(n.dip),
                    NetSport => Value::Int(n.sport as i64),
                    NetDport => Value::Int(n.dport as i64),
                    NetProto => Value::Int(n.proto as i64),
                    NetIp => Value::Ipv4Pair(n.sip, n.dip),
                    _ => Value::IntPair(n.sport as i64, n.dport as i64),
                }
            }

            FlowRBytes | FlowROps | FlowWBytes | FlowWOps => {
                let Some((rb, ro, wb, wo)) = self.counters() else {
                    return Value::Missing;
                };
                Value::Int(match a {
                    FlowRBytes => rb,
                    FlowROps => ro,
                    FlowWBytes => wb,
                    _ => wo,
                })
            }

            ContainerId => match (&self.container, p) {
                (Some(c), _) => Value::Str(&c.id),
                // Container record not seen: the process still names it.
                (None, Some(p)) => match p.container_id.as_deref() {
                    Some(id) if !id.is_empty() => Value::Str(id),
                    _ => Value::Missing,
                },
                _ => Value::Missing,
            },
            ContainerName => opt(self.container.as_deref(), |c| Value::Str(c.name.trim())),
            ContainerImage => opt(self.container.as_deref(), |c| Value::Str(c.image.trim())),
            ContainerImageId => opt(self.container.as_deref(), |c| Value::Str(&c.imageid)),
            ContainerType => match (&self.container, p) {
                (Some(c), _) => Value::Str(c.r#type.name()),
                // A process outside any container runs on the host (Falco's container.type
                // "host"; the original renders the zero enum "DOCKER").
                (None, Some(p)) if p.container_id.as_deref().unwrap_or("").is_empty() => {
                    Value::Str("host")
                }
                _ => Value::Missing,
            },
            ContainerPrivileged => opt(self.container.as_deref(), |c| {
                Value::Int(c.privileged as i64)
            }),
            ContainerPrivilegedBool => {
                opt(self.container.as_deref(), |c| Value::Bool(c.privileged))
            }

            PodId => opt(self.pod.as_deref(), |p| Value::Str(&p.id)),
            PodName => opt(self.pod.as_deref(), |p| Value::Str(p.name.trim())),
            PodNodeName => opt(self.pod.as_deref(), |p| Value::Str(p.node_name.trim())),
            PodNamespace => opt(self.pod.as_deref(), |p| Value::Str(p.namespace.trim())),
            PodTs => opt(self.pod.as_deref(), |p| Value::Int(p.ts)),
            PodRestartCnt => opt(self.pod.as_deref(), |p| Value::Int(p.restart_count)),
            // Rendered through get_into.
            PodHostIp | PodInternalIp | PodServices | PodHostIpJson | PodInternalIpJson
            | PodServicesJson => Value::Missing,

            KeKind | KeAction | KeMessage => match &self.rec {
                SysFlow::K8sEvent(k) => match a {
                    KeKind => Value::Str(k.kind.symbol()),
                    KeAction => Value::Str(k.action.symbol()),
                    _ => Value::Str(&k.message),
                },
                _ => Value::Missing,
            },

            NodeId => opt(self.header.as_deref(), |h| Value::Str(&h.exporter)),
            NodeIp => opt(self.header.as_deref(), |h| Value::Str(&h.ip)),
            MetaSchema => opt(self.header.as_deref(), |h| Value::Int(h.version)),
            MetaTraceName => opt(self.header.as_deref(), |h| Value::Str(name_of(&h.filename))),

            EvtDir => Value::Str(">,<"),
            _ => self.falco_attr(a),
        }
    }
}

fn ints_json(v: &[i64], out: &mut String) {
    out.push('[');
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{x}");
    }
    out.push(']');
}

/// Services as Go's `json.Marshal` writes `[]*sfgo.Service`: struct field order and the
/// field names of its json tags.
fn services_json(v: &[crate::record::Service], out: &mut String) {
    fn q(out: &mut String, s: &str) {
        // serde_json's string escaping; writing to a String cannot fail.
        out.push_str(&serde_json::Value::from(s).to_string());
    }
    out.push('[');
    for (i, s) in v.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"name\":");
        q(out, &s.name);
        out.push_str(",\"id\":");
        q(out, &s.id);
        out.push_str(",\"namespace\":");
        q(out, &s.namespace);
        out.push_str(",\"portList\":[");
        for (j, p) in s.port_list.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            let _ = write!(
                out,
                "{{\"port\":{},\"targetPort\":{},\"nodePort\":{},\"proto\":",
                p.port, p.target_port, p.node_port
            );
            q(out, &p.proto);
            out.push('}');
        }
        out.push_str("],\"clusterIP\":");
        ints_json(&s.cluster_ip, out);
        out.push('}');
    }
    out.push(']');
}
