//! Values of sysprint's flat map, extracted from a [`FlatRecord`] without allocating, and the
//! Python renderings sysprint applies to them (ISO timestamps, opflags strings, IPs, env).

use sysflow_model::flat::FlatRecord;
use sysflow_model::record::{Process, Service, SysFlow};

use super::fields::Key;
use super::schema::SchemaTraits;
use crate::export::encode::fragment::Entity;
use crate::time::Civil;

/// One value of the flat map, as the Python object sysprint holds (rendered lazily).
#[derive(Debug, Clone, Copy)]
pub enum Val<'a> {
    /// Python `None`.
    Null,
    Str(&'a str),
    Int(i64),
    Bool(bool),
    /// `utils.getOpFlagsStr(bits)`.
    OpFlags(u32),
    /// `utils.getTimeStrIso8601(ns)`.
    Time(i64),
    /// `utils.getIpIntStr(ip)`.
    Ip(i64),
    /// `utils.getEnvStr(env)`.
    Env(&'a [String]),
    /// `chr(code)`.
    Chr(i32),
    /// `utils.getNetFlowStr(flow)`: `sip:sport-dip:dport`.
    NetRes {
        sip: i32,
        sport: i32,
        dip: i32,
        dport: i32,
    },
    /// `path` or `path, newpath` (FF/FE resource).
    FileRes(&'a str, Option<&'a str>),
    /// A Python list of IP strings.
    IpList(&'a [i64]),
    /// `pod.services` as a list of dicts.
    Services(&'a [Service]),
    /// The empty tuple of `tags`.
    EmptyTuple,
}

/// sysprint's JSON schema version string (`formatter._version`).
pub const API_VERSION: &str = "4";

/// A record with the schema traits of the file it came from.
pub struct Rec<'a> {
    pub flat: &'a FlatRecord,
    pub traits: &'a SchemaTraits,
}

fn op_flags(r: &SysFlow) -> Option<u32> {
    Some(match r {
        SysFlow::ProcessEvent(e) => e.op_flags.0,
        SysFlow::NetworkFlow(e) => e.op_flags.0,
        SysFlow::FileFlow(e) => e.op_flags.0,
        SysFlow::FileEvent(e) => e.op_flags.0,
        SysFlow::NetworkEvent(e) => e.op_flags.0,
        SysFlow::ProcessFlow(e) => e.op_flags.0,
        _ => return None,
    })
}

fn ts(r: &SysFlow) -> Option<i64> {
    Some(match r {
        SysFlow::ProcessEvent(e) => e.ts,
        SysFlow::NetworkFlow(e) => e.ts,
        SysFlow::FileFlow(e) => e.ts,
        SysFlow::FileEvent(e) => e.ts,
        SysFlow::NetworkEvent(e) => e.ts,
        SysFlow::ProcessFlow(e) => e.ts,
        SysFlow::K8sEvent(e) => e.ts,
        _ => return None,
    })
}

fn end_ts(r: &SysFlow) -> Option<i64> {
    Some(match r {
        SysFlow::NetworkFlow(e) => e.end_ts,
        SysFlow::FileFlow(e) => e.end_ts,
        SysFlow::ProcessFlow(e) => e.end_ts,
        _ => return None,
    })
}

fn tid(r: &SysFlow) -> Option<i64> {
    Some(match r {
        SysFlow::ProcessEvent(e) => e.tid,
        SysFlow::NetworkFlow(e) => e.tid,
        SysFlow::FileFlow(e) => e.tid,
        SysFlow::FileEvent(e) => e.tid,
        SysFlow::NetworkEvent(e) => e.tid,
        _ => return None,
    })
}

/// `ret` of events. sysprint treats NetworkEvent as a flow (and then crashes on `endTs`); we
/// print it as the event it is: `ret` set, no end time (see docs/print.md).
fn ret(r: &SysFlow) -> Option<i32> {
    Some(match r {
        SysFlow::ProcessEvent(e) => e.ret,
        SysFlow::FileEvent(e) => e.ret,
        SysFlow::NetworkEvent(e) => e.ret,
        _ => return None,
    })
}

/// (sip, sport, dip, dport, proto) of NF and NE.
fn net(r: &SysFlow) -> Option<(i32, i32, i32, i32, i32)> {
    match r {
        SysFlow::NetworkFlow(e) => Some((e.sip, e.sport, e.dip, e.dport, e.proto)),
        SysFlow::NetworkEvent(e) => Some((e.sip, e.sport, e.dip, e.dport, e.proto)),
        _ => None,
    }
}

/// (rbytes, rops, wbytes, wops) of NF and FF.
fn counters(r: &SysFlow) -> Option<(i64, i64, i64, i64)> {
    match r {
        SysFlow::NetworkFlow(e) => Some((
            e.num_r_recv_bytes,
            e.num_r_recv_ops,
            e.num_w_send_bytes,
            e.num_w_send_ops,
        )),
        SysFlow::FileFlow(e) => Some((
            e.num_r_recv_bytes,
            e.num_r_recv_ops,
            e.num_w_send_bytes,
            e.num_w_send_ops,
        )),
        _ => None,
    }
}

fn or_null<T>(o: Option<T>, f: impl FnOnce(T) -> i64) -> Val<'static> {
    o.map_or(Val::Null, |v| Val::Int(f(v)))
}

fn str_or_empty<'a, T>(o: Option<&'a T>, f: impl FnOnce(&'a T) -> &'a str) -> Val<'a> {
    Val::Str(o.map_or("", f))
}

impl<'a> Rec<'a> {
    /// The value sysprint's `_flatten` puts under `key`.
    pub fn get(&self, key: Key) -> Val<'a> {
        let fr: &'a FlatRecord = self.flat;
        let r = &fr.rec;
        let proc: Option<&'a Process> = fr.proc.as_deref();
        let pproc: Option<&'a Process> = fr.pproc.as_deref();
        let file = fr.file.as_deref();
        let newfile = fr.newfile.as_deref();
        let cont = fr.container.as_deref();
        let pod = fr.pod.as_deref();
        let header = fr.header.as_deref();
        let t = self.traits;
        match key {
            Key::Version => Val::Str(API_VERSION),
            Key::Type => Val::Str(r.record_type().code()),
            Key::State => match (proc, file) {
                (Some(p), _) => Val::Str(p.state.name()),
                (None, Some(f)) => Val::Str(f.state.name()),
                _ => Val::Str(""),
            },
            Key::OpFlags => op_flags(r).map_or(Val::Str(""), Val::OpFlags),
            Key::OpFlagsBitmap => op_flags(r).map_or(Val::Str(""), |b| Val::Int(b as i64)),
            Key::Ret => ret(r).map_or(Val::Null, |v| Val::Int(v as i64)),
            Key::Ts => ts(r).map_or(Val::Str(""), Val::Time),
            Key::TsUts => or_null(ts(r), |v| v),
            Key::EndTs => end_ts(r).map_or(Val::Str(""), Val::Time),
            Key::EndTsUts => or_null(end_ts(r), |v| v),
            Key::ProcPid => or_null(proc, |p| p.oid.hpid),
            Key::ProcTid => or_null(tid(r), |v| v),
            Key::ProcUid => or_null(proc, |p| p.uid as i64),
            Key::ProcUser => str_or_empty(proc, |p| &p.user_name),
            Key::ProcGid => or_null(proc, |p| p.gid as i64),
            Key::ProcGroup => str_or_empty(proc, |p| &p.group_name),
            Key::ProcCwd => self.cwd(proc),
            Key::ProcExe => str_or_empty(proc, |p| &p.exe),
            Key::ProcArgs => str_or_empty(proc, |p| &p.exe_args),
            Key::ProcTty => proc.map_or(Val::Str(""), |p| Val::Bool(p.tty)),
            Key::ProcEntry => self.entry(proc),
            Key::ProcEnv => self.env(proc),
            Key::ProcCreateTs => or_null(proc, |p| p.oid.create_ts),
            Key::PProcPid => or_null(pproc, |p| p.oid.hpid),
            Key::PProcGid => or_null(pproc, |p| p.gid as i64),
            Key::PProcUid => or_null(pproc, |p| p.uid as i64),
            Key::PProcGroup => str_or_empty(pproc, |p| &p.group_name),
            Key::PProcTty => pproc.map_or(Val::Str(""), |p| Val::Bool(p.tty)),
            Key::PProcEntry => self.entry(pproc),
            Key::PProcEnv => self.env(pproc),
            Key::PProcUser => str_or_empty(pproc, |p| &p.user_name),
            Key::PProcCwd => self.cwd(pproc),
            Key::PProcExe => str_or_empty(pproc, |p| &p.exe),
            Key::PProcArgs => str_or_empty(pproc, |p| &p.exe_args),
            // sysprint keeps this one as '' (not None) when there is no parent.
            Key::PProcCreateTs => pproc.map_or(Val::Str(""), |p| Val::Int(p.oid.create_ts)),
            Key::FileFd => match r {
                SysFlow::FileFlow(e) => Val::Int(e.fd as i64),
                SysFlow::NetworkFlow(e) if t.nf_has_fd => Val::Int(e.fd as i64),
                _ => Val::Str(""),
            },
            Key::FilePath => str_or_empty(file, |f| &f.path),
            Key::FileNewPath => str_or_empty(newfile, |f| &f.path),
            Key::FileType => file.map_or(Val::Str(""), |f| Val::Chr(f.restype)),
            Key::FileOpenFlags => match r {
                SysFlow::FileFlow(e) => Val::Int(e.open_flags.0 as i64),
                _ => Val::Str(""),
            },
            Key::NetProto => net(r).map_or(Val::Str(""), |n| Val::Int(n.4 as i64)),
            Key::NetSport => or_null(net(r), |n| n.1 as i64),
            Key::NetDport => or_null(net(r), |n| n.3 as i64),
            Key::NetSip => net(r).map_or(Val::Str(""), |n| Val::Ip(n.0 as i64)),
            Key::NetDip => net(r).map_or(Val::Str(""), |n| Val::Ip(n.2 as i64)),
            Key::Res => match r {
                SysFlow::FileFlow(_) | SysFlow::FileEvent(_) => Val::FileRes(
                    file.map_or("", |f| f.path.as_str()),
                    newfile.map(|f| f.path.as_str()),
                ),
                _ => match net(r) {
                    Some((sip, sport, dip, dport, _)) => Val::NetRes {
                        sip,
                        sport,
                        dip,
                        dport,
                    },
                    None => Val::Str(""),
                },
            },
            Key::FlowRBytes => or_null(counters(r), |c| c.0),
            Key::FlowROps => or_null(counters(r), |c| c.1),
            Key::FlowWBytes => or_null(counters(r), |c| c.2),
            Key::FlowWOps => or_null(counters(r), |c| c.3),
            Key::PfNThreads | Key::PfNExits | Key::PfNErrors => match r {
                SysFlow::ProcessFlow(p) => Val::Int(match key {
                    Key::PfNThreads => p.num_threads_cloned,
                    Key::PfNExits => p.num_threads_exited,
                    _ => p.num_clone_errors,
                }),
                _ => Val::Null,
            },
            Key::ContainerId => str_or_empty(cont, |c| &c.id),
            Key::ContainerName => str_or_empty(cont, |c| &c.name),
            Key::ContainerImageId => str_or_empty(cont, |c| &c.imageid),
            Key::ContainerImage => str_or_empty(cont, |c| &c.image),
            Key::ContainerType => cont.map_or(Val::Str(""), |c| Val::Str(c.r#type.symbol())),
            Key::ContainerPrivileged => cont.map_or(Val::Str(""), |c| Val::Bool(c.privileged)),
            Key::PodId => str_or_empty(pod, |p| &p.id),
            Key::PodName => str_or_empty(pod, |p| &p.name),
            Key::PodNName => str_or_empty(pod, |p| &p.node_name),
            Key::PodHostIp => pod.map_or(Val::Str(""), |p| Val::IpList(&p.host_ip)),
            Key::PodInternalIp => pod.map_or(Val::Str(""), |p| Val::IpList(&p.internal_ip)),
            Key::PodNs => str_or_empty(pod, |p| &p.namespace),
            Key::PodRstrtCnt => or_null(pod, |p| p.restart_count),
            Key::PodServices => pod.map_or(Val::Str(""), |p| Val::Services(&p.services)),
            Key::NodeId => str_or_empty(header, |h| &h.exporter),
            Key::NodeIp => match header {
                Some(h) if t.header_has_ip => Val::Str(&h.ip),
                _ => Val::Str(""),
            },
            Key::Filename => match header {
                Some(h) if t.header_has_filename => Val::Str(&h.filename),
                _ => Val::Str(""),
            },
            Key::Schema => header.map_or(Val::Str(""), |h| Val::Int(h.version)),
            Key::Tags => Val::EmptyTuple,
            Key::K8sAction | Key::K8sKind | Key::K8sMsg => match r {
                SysFlow::K8sEvent(e) => Val::Str(match key {
                    Key::K8sAction => e.action.symbol(),
                    Key::K8sKind => e.kind.symbol(),
                    _ => &e.message,
                }),
                _ => Val::Str(""),
            },
        }
    }

    fn cwd(&self, p: Option<&'a Process>) -> Val<'a> {
        match p {
            Some(p) if self.traits.process_has_cwd => Val::Str(&p.cwd),
            _ => Val::Str(""),
        }
    }

    fn env(&self, p: Option<&'a Process>) -> Val<'a> {
        match p {
            Some(p) if self.traits.process_has_env => Val::Env(&p.env),
            _ => Val::Str(""),
        }
    }

    fn entry(&self, p: Option<&'a Process>) -> Val<'a> {
        match p {
            Some(p) if self.traits.process_has_entry => Val::Bool(p.entry),
            _ => Val::Str(""),
        }
    }
}

/// What the value of a key is read from: the JSON writer copies the parts of a record that
/// read one entity from its fragment cache (`export::encode::fragment`). Keep this in step
/// with [`Rec::get`]: a key may be given an entity only if `get` reads nothing else for it
/// (the schema traits aside, which are fixed per file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The same for every record.
    Const,
    /// The record itself (or several entities at once).
    Record,
    Entity(Entity),
}

/// The [`Source`] of a key's value.
pub fn source(key: Key) -> Source {
    use Key::*;
    match key {
        Version | Tags => Source::Const,
        ProcPid | ProcUid | ProcUser | ProcGid | ProcGroup | ProcCwd | ProcExe | ProcArgs
        | ProcTty | ProcEntry | ProcEnv | ProcCreateTs => Source::Entity(Entity::Proc),
        PProcPid | PProcGid | PProcUid | PProcGroup | PProcTty | PProcEntry | PProcEnv
        | PProcUser | PProcCwd | PProcExe | PProcArgs | PProcCreateTs => {
            Source::Entity(Entity::PProc)
        }
        ContainerId | ContainerName | ContainerImageId | ContainerImage | ContainerType
        | ContainerPrivileged => Source::Entity(Entity::Container),
        PodId | PodName | PodNName | PodHostIp | PodInternalIp | PodNs | PodRstrtCnt
        | PodServices => Source::Entity(Entity::Pod),
        NodeId | NodeIp | Filename | Schema => Source::Entity(Entity::Header),
        // State reads the process or the file; the others the record. (The file's values are
        // few and cheap here, and files change often: caching them did not pay.)
        Type | State | OpFlags | OpFlagsBitmap | Ret | Ts | TsUts | EndTs | EndTsUts | ProcTid
        | FileFd | FilePath | FileNewPath | FileType | FileOpenFlags | NetProto | NetSport
        | NetDport | NetSip | NetDip | Res | FlowRBytes | FlowROps | FlowWBytes | FlowWOps
        | PfNThreads | PfNExits | PfNErrors | K8sAction | K8sKind | K8sMsg => Source::Record,
    }
}

/// Appends `getOpFlagsStr(bits)`.
pub fn write_opflags(bits: u32, out: &mut Vec<u8>) {
    use sysflow_model::OpFlags as F;
    let start = out.len();
    for (b, n) in [
        (F::MKDIR, "MKDIR"),
        (F::RMDIR, "RMDIR"),
        (F::LINK, "LINK"),
        (F::SYMLINK, "SYMLINK"),
        (F::UNLINK, "UNLINK"),
        (F::RENAME, "RENAME"),
    ] {
        if bits & b != 0 {
            out.extend_from_slice(n.as_bytes());
        }
    }
    if out.len() > start {
        return;
    }
    for (b, n) in [
        (F::CLONE, "CLONE"),
        (F::EXEC, "EXEC"),
        (F::EXIT, "EXIT"),
        (F::SETUID, "SETUID"),
    ] {
        if bits & b != 0 {
            out.extend_from_slice(n.as_bytes());
        }
    }
    if out.len() > start {
        return;
    }
    for (b, c) in [
        (F::OPEN, b'O'),
        (F::ACCEPT, b'A'),
        (F::CONNECT, b'C'),
        (F::WRITE, b'W'),
        (F::READ, b'R'),
        (F::SETNS, b'N'),
        (F::MMAP, b'M'),
        (F::SHUTDOWN, b'S'),
        (F::CLOSE, b'C'),
        (F::TRUNCATE, b'T'),
        (F::DIGEST, b'D'),
    ] {
        out.push(if bits & b != 0 { c } else { b' ' });
    }
}

/// Appends `datetime.utcfromtimestamp(float(ns) / 1e9).isoformat()` exactly as CPython
/// computes it: the float division, round-half-even to microseconds, microseconds omitted when 0.
pub fn write_iso_time(ns: i64, out: &mut Vec<u8>) {
    let d = ns as f64 / 1e9;
    let mut int = d.trunc();
    let mut us = ((d - int) * 1e6).round_ties_even();
    if us >= 1e6 {
        us -= 1e6;
        int += 1.0;
    } else if us < 0.0 {
        us += 1e6;
        int -= 1.0;
    }
    let secs = int as i64;
    let us = us as u32;
    let Civil {
        year: y,
        month: m,
        day: dd,
        hour: h,
        minute: mi,
        second: s,
    } = Civil::from_unix(secs);
    if (0..=9999).contains(&y) {
        // The common case, formatted on the stack in one go.
        let mut b = *b"0000-00-00T00:00:00.000000";
        digits(&mut b[0..4], y as u32);
        digits(&mut b[5..7], m);
        digits(&mut b[8..10], dd);
        digits(&mut b[11..13], h);
        digits(&mut b[14..16], mi);
        digits(&mut b[17..19], s);
        let n = if us != 0 {
            digits(&mut b[20..26], us);
            26
        } else {
            19
        };
        out.extend_from_slice(&b[..n]);
        return;
    }
    if y < 0 {
        out.push(b'-');
    }
    push_num(out, y.unsigned_abs(), 4);
    out.push(b'-');
    push_num(out, m as u64, 2);
    out.push(b'-');
    push_num(out, dd as u64, 2);
    out.push(b'T');
    push_num(out, h as u64, 2);
    out.push(b':');
    push_num(out, mi as u64, 2);
    out.push(b':');
    push_num(out, s as u64, 2);
    if us != 0 {
        out.push(b'.');
        push_num(out, us as u64, 6);
    }
}

/// Writes `v` in decimal into all of `b`, zero-padded (the digits that fit).
fn digits(b: &mut [u8], mut v: u32) {
    for d in b.iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

fn push_num(out: &mut Vec<u8>, v: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let digits = buf.len() - i;
    for _ in digits..width {
        out.push(b'0');
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends an integer in decimal.
pub fn write_int(v: i64, out: &mut Vec<u8>) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Appends `getIpIntStr(ip)`: the four low bytes, least significant first.
pub fn write_ip(ip: i64, out: &mut Vec<u8>) {
    for (i, sh) in [0, 8, 16, 24].into_iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        push_num(out, ((ip >> sh) & 0xff) as u64, 1);
    }
}

/// Appends `getEnvStr(env)`: entries joined by ';', empty ones and "=" skipped.
pub fn write_env(env: &[String], out: &mut Vec<u8>) {
    let mut first = true;
    for e in env.iter().filter(|e| !e.is_empty() && *e != "=") {
        if !first {
            out.push(b';');
        }
        first = false;
        out.extend_from_slice(e.as_bytes());
    }
}

/// Appends the text of a scalar value as Python's `str()` gives it for the string-like values
/// (Str, OpFlags, Time, Ip, Env, Chr, NetRes, FileRes). Returns false for other kinds.
pub fn write_text(v: &Val, out: &mut Vec<u8>) -> bool {
    match *v {
        Val::Str(s) => out.extend_from_slice(s.as_bytes()),
        Val::OpFlags(b) => write_opflags(b, out),
        Val::Time(ns) => write_iso_time(ns, out),
        Val::Ip(ip) => write_ip(ip, out),
        Val::Env(e) => write_env(e, out),
        Val::Chr(c) => {
            if let Some(ch) = u32::try_from(c).ok().and_then(char::from_u32) {
                let mut b = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
            }
        }
        Val::NetRes {
            sip,
            sport,
            dip,
            dport,
        } => {
            write_ip(sip as i64, out);
            out.push(b':');
            write_int(sport as i64, out);
            out.push(b'-');
            write_ip(dip as i64, out);
            out.push(b':');
            write_int(dport as i64, out);
        }
        Val::FileRes(p, np) => {
            out.extend_from_slice(p.as_bytes());
            if let Some(np) = np {
                out.extend_from_slice(b", ");
                out.extend_from_slice(np.as_bytes());
            }
        }
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut v = Vec::new();
        f(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn iso_time_matches_python() {
        // Values checked against CPython's datetime.utcfromtimestamp(float(ts)/1e9).isoformat().
        assert_eq!(
            s(|o| write_iso_time(1647544455002529691, o)),
            "2022-03-17T19:14:15.002530"
        );
        assert_eq!(
            s(|o| write_iso_time(1588262436999999999, o)),
            "2020-04-30T16:00:37"
        );
        assert_eq!(s(|o| write_iso_time(0, o)), "1970-01-01T00:00:00");
        assert_eq!(
            s(|o| write_iso_time(1604071235204480411, o)),
            "2020-10-30T15:20:35.204480"
        );
        assert_eq!(
            s(|o| write_iso_time(-1_500_000_000, o)),
            "1969-12-31T23:59:58.500000"
        );
    }

    #[test]
    fn opflags_strings() {
        assert_eq!(s(|o| write_opflags(1408, o)), "O   R   C  ");
        assert_eq!(s(|o| write_opflags(2880, o)), "  CWR    T ");
        assert_eq!(s(|o| write_opflags(4, o)), "EXIT");
        assert_eq!(s(|o| write_opflags(1 << 20 | 1, o)), "RENAME");
        assert_eq!(s(|o| write_opflags(0, o)), "           ");
    }

    #[test]
    fn ips_and_env() {
        assert_eq!(s(|o| write_ip(16777343, o)), "127.0.0.1");
        assert_eq!(s(|o| write_ip(-1, o)), "255.255.255.255");
        let env = vec!["A=1".to_string(), "".into(), "=".into(), "B=2".into()];
        assert_eq!(s(|o| write_env(&env, o)), "A=1;B=2");
    }
}

#[cfg(test)]
mod source_tests {
    use super::*;
    use crate::print::json::write_val;
    use testkit::entities::{distinct_rename, sharing, Shared};

    fn render(r: &FlatRecord, key: Key) -> String {
        let traits = SchemaTraits::default();
        let (mut out, mut scratch) = (Vec::new(), Vec::new());
        write_val(
            &Rec {
                flat: r,
                traits: &traits,
            }
            .get(key),
            &mut out,
            &mut scratch,
        );
        String::from_utf8(out).unwrap()
    }

    /// A key given an entity reads nothing else: two records that share only that entity
    /// render it the same (the fragment cache relies on it).
    #[test]
    fn entity_keys_read_only_their_entity() {
        // FileEvents with a new file, so that every entity is there.
        let (a, b) = (distinct_rename(1), distinct_rename(2));
        for (e, shared) in [
            (Entity::Proc, Shared::Proc),
            (Entity::PProc, Shared::PProc),
            (Entity::Container, Shared::Container),
            (Entity::Pod, Shared::Pod),
            (Entity::Header, Shared::Header),
        ] {
            let b = sharing(&a, &b, shared);
            let mut n = 0;
            for &k in Key::ALL {
                match source(k) {
                    Source::Entity(x) if x == e => {
                        assert_eq!(render(&a, k), render(&b, k), "{}", k.name());
                        n += 1;
                    }
                    Source::Const => assert_eq!(render(&a, k), render(&b, k), "{}", k.name()),
                    _ => {}
                }
            }
            assert!(n > 0, "{e:?}");
        }
        // And without sharing, the two records differ in every entity key (so the
        // comparisons above can fail).
        for &k in Key::ALL {
            if matches!(source(k), Source::Entity(_)) {
                assert_ne!(render(&a, k), render(&b, k), "{}", k.name());
            }
        }
    }
}
