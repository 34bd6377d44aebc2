//! Falco's field names (classes `evt`, `proc`, `thread`, `user`, `group`, `fd`,
//! `container`, `k8s`) mapped to what a flat SysFlow record holds or implies. Files in the
//! Falco dialect resolve names here first, then in the attribute catalogue; a field SysFlow
//! cannot supply has a reason, which the "rule skipped" warning names. The table is
//! documented in `docs/policy-language.md` ("Falco fields").

use std::fmt::Write as _;

use sysflow_model::flat::{Attr, Field, FlatRecord, Value};
use sysflow_model::SysFlow;

use crate::eval::{FieldRef, Getter};

/// Where a Falco field's value comes from.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    /// An attribute of the flat record.
    Attr(Attr),
    /// Rendered by a function (Falco's text form of a SysFlow value).
    Custom(Getter),
    /// SysFlow does not record it: the reason.
    Missing(&'static str),
}

use Source::{Attr as A, Custom as C, Missing as M};

const NO_ARGS: &str = "SysFlow records no syscall arguments beyond paths, flags and the result";
const NO_CAPS: &str = "SysFlow records no capability sets";
const NO_NS: &str = "SysFlow records host process ids only, no namespace-relative ids or sessions";
const NO_LOGIN: &str = "SysFlow records no audit login uid or user database entries";
const NO_INODE: &str = "SysFlow records no executable inode or overlay layer";
const NO_DNS: &str = "SysFlow records addresses, not the DNS names they were resolved from";
const NO_MOUNTS: &str = "SysFlow's container entity has no mounts, labels or start time";
const NO_K8S: &str = "SysFlow's pod entity has name, namespace, id and node only";
const NO_DATA: &str = "SysFlow records no I/O data buffers";

/// Falco field → source. Names with a `[N]` argument are resolved in [`resolve`].
pub const FIELDS: &[(&str, Source)] = &[
    // evt
    ("evt.type", A(Attr::OpFlags)),
    ("evt.num", A(Attr::EvtNum)),
    ("evt.res", A(Attr::EvtRes)),
    ("evt.rawres", A(Attr::Ret)),
    ("evt.dir", A(Attr::EvtDir)),
    ("evt.time", A(Attr::Ts)),
    ("evt.rawtime", A(Attr::Ts)),
    ("evt.hostname", A(Attr::NodeId)),
    ("evt.is_open_read", A(Attr::FileIsOpenRead)),
    ("evt.is_open_write", A(Attr::FileIsOpenWrite)),
    (
        "evt.is_open_exec",
        M("SysFlow's open flags have no exec-permission bit"),
    ),
    ("evt.arg.flags", C(open_flags)),
    ("evt.arg.path", A(Attr::FilePath)),
    ("evt.arg.pathname", A(Attr::FilePath)),
    ("evt.arg.name", A(Attr::FilePath)),
    ("evt.arg.filename", A(Attr::FilePath)),
    ("evt.arg.oldpath", A(Attr::FilePath)),
    ("evt.arg.target", A(Attr::FilePath)),
    ("evt.arg.newpath", A(Attr::FileNewPath)),
    ("evt.arg.linkpath", A(Attr::FileNewPath)),
    ("evt.arg.uid", A(Attr::ProcUid)),
    ("evt.arg.fd", A(Attr::FileFd)),
    ("evt.arg.res", A(Attr::Ret)),
    ("evt.buffer", M(NO_DATA)),
    ("evt.args", M(NO_ARGS)),
    // proc
    ("proc.name", A(Attr::ProcName)),
    ("proc.exe", A(Attr::ProcExe)),
    ("proc.exepath", A(Attr::ProcExe)),
    ("proc.args", A(Attr::ProcArgs)),
    ("proc.cmdline", A(Attr::ProcCmdline)),
    ("proc.pid", A(Attr::ProcPid)),
    ("proc.ppid", A(Attr::PProcPid)),
    ("proc.pname", A(Attr::PProcName)),
    ("proc.pexe", A(Attr::PProcExe)),
    ("proc.pexepath", A(Attr::PProcExe)),
    ("proc.pcmdline", A(Attr::PProcCmdline)),
    ("proc.cwd", A(Attr::ProcCwd)),
    ("proc.env", A(Attr::ProcEnv)),
    ("proc.tty", A(Attr::ProcTtyNum)),
    ("proc.createtime", A(Attr::ProcCreateTs)),
    ("proc.pcreatetime", A(Attr::PProcCreateTs)),
    ("proc.duration", A(Attr::ProcDuration)),
    ("proc.ppid.duration", A(Attr::PProcDuration)),
    ("proc.aname", A(Attr::ParentAName)),
    ("proc.aexe", A(Attr::ParentAExe)),
    ("proc.aexepath", A(Attr::ParentAExe)),
    ("proc.apid", A(Attr::ParentAPid)),
    ("proc.vpid", M(NO_NS)),
    ("proc.pvpid", M(NO_NS)),
    ("proc.sid", M(NO_NS)),
    ("proc.sname", M(NO_NS)),
    ("proc.vpgid", M(NO_NS)),
    ("proc.vpgid.name", M(NO_NS)),
    ("proc.vpgid.exe", M(NO_NS)),
    ("proc.is_vpgid_leader", M(NO_NS)),
    ("proc.is_exe_upper_layer", M(NO_INODE)),
    ("proc.is_exe_from_memfd", C(exe_from_memfd)),
    ("proc.is_exe_writable", M(NO_INODE)),
    ("proc.exe_ino", M(NO_INODE)),
    ("proc.exe_ino.ctime", M(NO_INODE)),
    ("proc.exe_ino.mtime", M(NO_INODE)),
    ("proc.exe_ino.ctime_duration_proc_start", M(NO_INODE)),
    // thread
    ("thread.tid", A(Attr::ProcTid)),
    ("thread.cap_permitted", M(NO_CAPS)),
    ("thread.cap_effective", M(NO_CAPS)),
    ("thread.cap_inheritable", M(NO_CAPS)),
    // user, group
    ("user.uid", A(Attr::ProcUid)),
    ("user.name", A(Attr::ProcUser)),
    ("user.loginuid", M(NO_LOGIN)),
    ("user.loginname", M(NO_LOGIN)),
    ("user.homedir", M(NO_LOGIN)),
    ("user.shell", M(NO_LOGIN)),
    ("group.gid", A(Attr::ProcGid)),
    ("group.name", A(Attr::ProcGroup)),
    // fd
    ("fd.num", A(Attr::FileFd)),
    ("fd.type", A(Attr::FdType)),
    ("fd.typechar", A(Attr::FdTypeChar)),
    ("fd.name", A(Attr::FilePath)),
    (
        "fd.nameraw",
        M("the collector records normalised paths, not the name as passed"),
    ),
    ("fd.directory", A(Attr::FileDirectory)),
    ("fd.filename", A(Attr::FileName)),
    ("fd.sockfamily", A(Attr::FdSockFamily)),
    ("fd.connected", A(Attr::FdConnected)),
    ("fd.name_changed", A(Attr::FdNameChanged)),
    ("fd.l4proto", A(Attr::FdL4Proto)),
    ("fd.ip", A(Attr::NetIp)),
    ("fd.port", A(Attr::NetPort)),
    ("fd.cip", A(Attr::NetSip)),
    ("fd.sip", A(Attr::NetDip)),
    ("fd.lip", A(Attr::NetLIp)),
    ("fd.rip", A(Attr::NetRIp)),
    ("fd.cport", A(Attr::NetSport)),
    ("fd.sport", A(Attr::NetDport)),
    ("fd.lport", A(Attr::NetLPort)),
    ("fd.rport", A(Attr::NetRPort)),
    ("fd.net", A(Attr::NetIp)),
    ("fd.cnet", A(Attr::NetSip)),
    ("fd.snet", A(Attr::NetDip)),
    ("fd.lnet", A(Attr::NetLIp)),
    ("fd.rnet", A(Attr::NetRIp)),
    ("fd.cip.name", M(NO_DNS)),
    ("fd.sip.name", M(NO_DNS)),
    ("fd.lip.name", M(NO_DNS)),
    ("fd.rip.name", M(NO_DNS)),
    ("fd.ino", M(NO_INODE)),
    ("fd.dev", M(NO_INODE)),
    // container
    ("container.id", A(Attr::ContainerIdOrHost)),
    ("container.name", A(Attr::ContainerNameOrHost)),
    ("container.image", A(Attr::ContainerImage)),
    ("container.image.id", A(Attr::ContainerImageId)),
    ("container.image.repository", A(Attr::ContainerImageRepo)),
    ("container.image.tag", A(Attr::ContainerImageTag)),
    ("container.type", A(Attr::ContainerType)),
    ("container.privileged", A(Attr::ContainerPrivilegedBool)),
    ("container.mounts", M(NO_MOUNTS)),
    ("container.mount", M(NO_MOUNTS)),
    ("container.mount.dest", M(NO_MOUNTS)),
    ("container.mount.source", M(NO_MOUNTS)),
    ("container.start_ts", M(NO_MOUNTS)),
    ("container.info", M(NO_MOUNTS)),
    ("container.image.digest", M(NO_MOUNTS)),
    // k8s
    ("k8s.pod.name", A(Attr::PodName)),
    ("k8s.pod.id", A(Attr::PodId)),
    ("k8s.pod.uid", A(Attr::PodId)),
    ("k8s.ns.name", A(Attr::PodNamespace)),
    ("k8s.pod.label", M(NO_K8S)),
    ("k8s.pod.labels", M(NO_K8S)),
    ("k8s.pod.ip", M(NO_K8S)),
    ("k8s.pod.cni.json", M(NO_K8S)),
];

/// Attributes that accept Falco's `[N]` ancestor argument, by name (`proc.aname[2]`).
const INDEXED: &[(&str, Attr)] = &[
    ("proc.aname", Attr::ProcAName),
    ("proc.aexe", Attr::ProcAExe),
    ("proc.aexepath", Attr::ProcAExe),
    ("proc.apid", Attr::ProcAPid),
    ("proc.acmdline", Attr::ProcACmdline),
];

fn lookup(name: &str) -> Option<Source> {
    FIELDS.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// A Falco field of the table: `Some(Ok(field))`, `Some(Err(reason))` when SysFlow cannot
/// supply it, `None` when the table does not know it (the catalogue may).
pub fn resolve(name: &str) -> Option<Result<FieldRef, &'static str>> {
    if let Some((base, arg)) = name.strip_suffix(']').and_then(|n| n.split_once('[')) {
        if let Some((_, attr)) = INDEXED.iter().find(|(n, _)| *n == base) {
            let i: usize = arg.trim().parse().ok()?;
            return Some(Ok(FieldRef::new(Field {
                attr: *attr,
                index: Some(i),
                json_path: None,
                name: attr.sf_name(),
            })));
        }
        return match lookup(base) {
            Some(Source::Missing(why)) => Some(Err(why)),
            Some(_) => None,
            // Arguments of Falco fields SysFlow has no data for.
            None if base.starts_with("fd.types") || base.starts_with("proc.env") => {
                Some(Err(NO_ARGS))
            }
            None => None,
        };
    }
    let Some(src) = lookup(name) else {
        return name.starts_with("evt.arg").then_some(Err(NO_ARGS));
    };
    Some(match src {
        Source::Attr(attr) => Ok(FieldRef::new(Field {
            attr,
            index: None,
            json_path: None,
            name: Field::resolve(name).map_or(attr.sf_name(), |f| f.name),
        })),
        Source::Custom(g) => Ok(FieldRef::custom(name_static(name), g)),
        Source::Missing(why) => Err(why),
    })
}

/// The table's own `&'static str` for a name it holds.
fn name_static(name: &str) -> &'static str {
    FIELDS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("", |(n, _)| n)
}

/// Why SysFlow cannot supply a Falco field (for warnings), if the table says so.
pub fn missing_reason(name: &str) -> Option<&'static str> {
    match resolve(name) {
        Some(Err(why)) => Some(why),
        None if name.starts_with("evt.arg") => Some(NO_ARGS),
        _ => None,
    }
}

/// Every Falco name the table resolves, for suggestions.
pub fn names() -> Vec<&'static str> {
    FIELDS
        .iter()
        .filter(|(_, s)| !matches!(s, Source::Missing(_)))
        .map(|(n, _)| *n)
        .collect()
}

/// `evt.arg.flags` of an open (a file flow): Falco's text, `O_RDWR|O_CREAT|…`.
fn open_flags<'r>(r: &'r FlatRecord, s: &'r mut String) -> Value<'r> {
    let SysFlow::FileFlow(ff) = &r.rec else {
        return Value::Missing;
    };
    s.clear();
    let f = ff.open_flags;
    s.push_str(match f.0 & 3 {
        1 => "O_RDONLY",
        2 => "O_WRONLY",
        3 => "O_RDWR",
        _ => "O_NONE",
    });
    for n in f.names() {
        if !matches!(n, "NONE" | "RDONLY" | "WRONLY" | "RDWR") {
            let _ = write!(s, "|O_{n}");
        }
    }
    for (bit, n) in [(1u32 << 13, "O_TMPFILE"), (1 << 14, "O_F_CREATED")] {
        if f.0 & bit != 0 {
            let _ = write!(s, "|{n}");
        }
    }
    Value::Str(s.as_str())
}

/// `proc.is_exe_from_memfd`: the process runs a file created by memfd_create. Such a file
/// has no path, only its name, `memfd:<name>` (`/memfd:<name>` as the kernel's `d_path`
/// and the eBPF collector's walk of the executed file spell it), which is what SysFlow's
/// exe holds: the flag follows from it as Falco's follows from the same name.
fn exe_from_memfd<'r>(r: &'r FlatRecord, _: &'r mut String) -> Value<'r> {
    let Some(p) = r.proc.as_deref() else {
        return Value::Missing;
    };
    let exe = p.exe.trim();
    Value::Bool(exe.starts_with("/memfd:") || exe.starts_with("memfd:"))
}
