//! The attribute catalogue (reference §4.2): `sf.*` names, Falco aliases, and how each one is
//! read from a [`FlatRecord`].
//!
//! CONTRACT (used by the policy engine and exporters; keep these signatures):
//! - [`Field::resolve`] turns a name as written in a rule or config (`sf.proc.exe`, `proc.name`,
//!   `proc.aname[2]`, `sf.ke.message[items.0.namespace]`) into a [`Field`], once, at compile time.
//! - [`FlatRecord::get`] reads a field's [`Value`] per record without allocating.
//! - [`FlatRecord::get_into`] is the same for fields that must render (json-path suffixes),
//!   using a caller-owned scratch string that is reused across records.
//! - [`Attr::exported`] lists the attributes that appear in JSON output, with their keys.
//!
//! The readers themselves live in `read.rs`; compatibility decisions are listed in
//! `docs/compatibility.md` ("Flattening and attributes").
//!
//! [`FlatRecord`]: super::FlatRecord
//! [`FlatRecord::get`]: super::FlatRecord::get
//! [`FlatRecord::get_into`]: super::FlatRecord::get_into
//! [`Value`]: super::Value

use std::sync::LazyLock;

/// One attribute of the catalogue. Several names (an `sf.*` name and Falco aliases) may
/// resolve to the same attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Attr {
    // Record level.
    Type,
    OpFlags,
    Ret,
    Ts,
    EndTs,
    // Process (of the event).
    ProcOid,
    ProcPid,
    ProcCreateTs,
    ProcTid,
    ProcExe,
    ProcName,
    ProcArgs,
    ProcCmdline,
    ProcUid,
    ProcGid,
    ProcUser,
    ProcGroup,
    ProcTty,
    ProcEntry,
    ProcAName,
    ProcAExe,
    ProcACmdline,
    ProcAPid,
    /// New (v5 Process.cwd); documented but absent in the original.
    ProcCwd,
    /// New (v5 Process.env).
    ProcEnv,
    // Parent process.
    PProcOid,
    PProcPid,
    PProcCreateTs,
    PProcExe,
    PProcName,
    PProcArgs,
    PProcCmdline,
    PProcUid,
    PProcGid,
    PProcUser,
    PProcGroup,
    PProcTty,
    PProcEntry,
    // File (FF, FE) and new file (FE).
    FilePath,
    FileSymlink,
    FileName,
    FileDirectory,
    FileOid,
    FileType,
    FileFd,
    FileOpenFlags,
    FileIsOpenRead,
    FileIsOpenWrite,
    FileNewPath,
    FileNewName,
    FileNewDirectory,
    FileNewSymlink,
    FileNewOid,
    // Network (NF, NE).
    NetSip,
    NetDip,
    NetSport,
    NetDport,
    NetProto,
    NetIp,
    NetPort,
    // Flow counters (FF, NF).
    FlowRBytes,
    FlowROps,
    FlowWBytes,
    FlowWOps,
    // Container of the process.
    ContainerId,
    ContainerName,
    ContainerImage,
    ContainerImageId,
    ContainerType,
    /// `sf.container.privileged`: 0/1 as in the original.
    ContainerPrivileged,
    /// Falco `container.privileged`: true/false.
    ContainerPrivilegedBool,
    // Pod of the container.
    PodId,
    PodName,
    PodNodeName,
    PodNamespace,
    PodTs,
    PodRestartCnt,
    /// `sf.pod.hostip+`: JSON array (exported).
    PodHostIp,
    PodInternalIp,
    PodServices,
    /// `sf.pod.hostip`: the same JSON as a string, for json-path use (not exported).
    PodHostIpJson,
    PodInternalIpJson,
    PodServicesJson,
    // K8s event.
    KeKind,
    KeAction,
    KeMessage,
    // Header.
    NodeId,
    NodeIp,
    MetaSchema,
    MetaTraceName,
    // Falco-only.
    /// `evt.dir`: the constant ">,<" (both directions match).
    EvtDir,
    // Derived for Falco's fields (readers in `falco.rs`; names in sysflow-policy's Falco
    // field table, not in this catalogue).
    /// `evt.num`: the record's position, from 1.
    EvtNum,
    /// `evt.res`: "SUCCESS" or the errno name of a negative return value.
    EvtRes,
    /// `proc.duration`: ns since the process started (record time − process creation).
    ProcDuration,
    /// `proc.ppid.duration`: ns since the parent started.
    PProcDuration,
    /// Falco's `proc.aname`/`aexe`/`apid` without an index: the ancestors, not the process.
    ParentAName,
    ParentAExe,
    ParentAPid,
    /// `fd.type`: file, directory, ipv4, unix, pipe, …
    FdType,
    /// `fd.typechar`: the file's resource type, '4' on network records.
    FdTypeChar,
    /// `fd.sockfamily`: ip or unix.
    FdSockFamily,
    /// `fd.connected`: true on network records.
    FdConnected,
    /// `fd.name_changed`: false on flows (a changed tuple is a new flow).
    FdNameChanged,
    /// `fd.l4proto`: tcp, udp, icmp, raw.
    FdL4Proto,
    /// Local and remote ends (`fd.lip`, `fd.rip`, `fd.lport`, `fd.rport`).
    NetLIp,
    NetRIp,
    NetLPort,
    NetRPort,
    /// `container.id`/`container.name`: "host" for a process outside containers (Falco).
    ContainerIdOrHost,
    ContainerNameOrHost,
    /// `container.image.repository` and `container.image.tag`, split from the image.
    ContainerImageRepo,
    ContainerImageTag,
    /// The executable's basename (Falco's `proc.exe` is argv[0]; SysFlow has the path).
    ProcExeName,
    /// `proc.tty`: Falco's terminal number; SysFlow knows whether there is one: 1 or 0.
    ProcTtyNum,
}

/// How an attribute's value behaves in output and comparisons; exporters use it to render a
/// [`super::Value::Missing`] as the zero value of the attribute's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrKind {
    Str,
    Int,
    Bool,
    /// JSON array in output, comma-joined in comparisons.
    List,
    /// JSON text: embedded as-is in JSON output (`sf.pod.*+`) or a string holding JSON.
    Json,
}

/// Every accepted name with its attribute: `sf.*` names first (catalogue order), then aliases.
const NAMES: &[(&str, Attr)] = &[
    ("sf.type", Attr::Type),
    ("sf.opflags", Attr::OpFlags),
    ("sf.ret", Attr::Ret),
    ("sf.ts", Attr::Ts),
    ("sf.endts", Attr::EndTs),
    ("sf.proc.oid", Attr::ProcOid),
    ("sf.proc.pid", Attr::ProcPid),
    ("sf.proc.createts", Attr::ProcCreateTs),
    ("sf.proc.tid", Attr::ProcTid),
    ("sf.proc.exe", Attr::ProcExe),
    ("sf.proc.name", Attr::ProcName),
    ("sf.proc.args", Attr::ProcArgs),
    ("sf.proc.cmdline", Attr::ProcCmdline),
    ("sf.proc.uid", Attr::ProcUid),
    ("sf.proc.gid", Attr::ProcGid),
    ("sf.proc.user", Attr::ProcUser),
    ("sf.proc.group", Attr::ProcGroup),
    ("sf.proc.tty", Attr::ProcTty),
    ("sf.proc.entry", Attr::ProcEntry),
    ("sf.proc.aname", Attr::ProcAName),
    ("sf.proc.aexe", Attr::ProcAExe),
    ("sf.proc.acmdline", Attr::ProcACmdline),
    ("sf.proc.apid", Attr::ProcAPid),
    ("sf.proc.cwd", Attr::ProcCwd),
    ("sf.proc.env", Attr::ProcEnv),
    ("sf.pproc.oid", Attr::PProcOid),
    ("sf.pproc.pid", Attr::PProcPid),
    ("sf.pproc.createts", Attr::PProcCreateTs),
    ("sf.pproc.exe", Attr::PProcExe),
    ("sf.pproc.name", Attr::PProcName),
    ("sf.pproc.args", Attr::PProcArgs),
    ("sf.pproc.cmdline", Attr::PProcCmdline),
    ("sf.pproc.uid", Attr::PProcUid),
    ("sf.pproc.gid", Attr::PProcGid),
    ("sf.pproc.user", Attr::PProcUser),
    ("sf.pproc.group", Attr::PProcGroup),
    ("sf.pproc.tty", Attr::PProcTty),
    ("sf.pproc.entry", Attr::PProcEntry),
    ("sf.file.path", Attr::FilePath),
    ("sf.file.symlink", Attr::FileSymlink),
    ("sf.file.name", Attr::FileName),
    ("sf.file.directory", Attr::FileDirectory),
    ("sf.file.oid", Attr::FileOid),
    ("sf.file.type", Attr::FileType),
    ("sf.file.fd", Attr::FileFd),
    ("sf.file.openflags", Attr::FileOpenFlags),
    ("sf.file.is_open_read", Attr::FileIsOpenRead),
    ("sf.file.is_open_write", Attr::FileIsOpenWrite),
    ("sf.file.newpath", Attr::FileNewPath),
    ("sf.file.newname", Attr::FileNewName),
    ("sf.file.newdirectory", Attr::FileNewDirectory),
    ("sf.file.newsymlink", Attr::FileNewSymlink),
    ("sf.file.newoid", Attr::FileNewOid),
    ("sf.net.sip", Attr::NetSip),
    ("sf.net.dip", Attr::NetDip),
    ("sf.net.sport", Attr::NetSport),
    ("sf.net.dport", Attr::NetDport),
    ("sf.net.proto", Attr::NetProto),
    ("sf.net.ip", Attr::NetIp),
    ("sf.net.port", Attr::NetPort),
    ("sf.flow.rbytes", Attr::FlowRBytes),
    ("sf.flow.rops", Attr::FlowROps),
    ("sf.flow.wbytes", Attr::FlowWBytes),
    ("sf.flow.wops", Attr::FlowWOps),
    ("sf.container.id", Attr::ContainerId),
    ("sf.container.name", Attr::ContainerName),
    ("sf.container.image", Attr::ContainerImage),
    ("sf.container.imageid", Attr::ContainerImageId),
    ("sf.container.type", Attr::ContainerType),
    ("sf.container.privileged", Attr::ContainerPrivileged),
    ("sf.pod.id", Attr::PodId),
    ("sf.pod.name", Attr::PodName),
    ("sf.pod.nodename", Attr::PodNodeName),
    ("sf.pod.namespace", Attr::PodNamespace),
    ("sf.pod.ts", Attr::PodTs),
    ("sf.pod.restartcnt", Attr::PodRestartCnt),
    ("sf.pod.hostip+", Attr::PodHostIp),
    ("sf.pod.internalip+", Attr::PodInternalIp),
    ("sf.pod.services+", Attr::PodServices),
    ("sf.pod.hostip", Attr::PodHostIpJson),
    ("sf.pod.internalip", Attr::PodInternalIpJson),
    ("sf.pod.services", Attr::PodServicesJson),
    ("sf.ke.kind", Attr::KeKind),
    ("sf.ke.action", Attr::KeAction),
    ("sf.ke.message", Attr::KeMessage),
    ("sf.node.id", Attr::NodeId),
    ("sf.node.ip", Attr::NodeIp),
    ("sf.meta.schema", Attr::MetaSchema),
    ("sf.meta.tracename", Attr::MetaTraceName),
    // Falco aliases (reference §4.2 alias table, with the fixes listed in compatibility.md).
    ("evt.type", Attr::OpFlags),
    ("evt.rawres", Attr::Ret),
    ("evt.rawtime", Attr::Ts),
    ("evt.dir", Attr::EvtDir),
    ("evt.is_open_read", Attr::FileIsOpenRead),
    ("evt.is_open_write", Attr::FileIsOpenWrite),
    ("evt.arg.uid", Attr::ProcUid),
    ("fd.typechar", Attr::FileType),
    ("fd.name", Attr::FilePath),
    ("fd.filename", Attr::FileName),
    ("fd.directory", Attr::FileDirectory),
    ("fd.proto", Attr::NetProto),
    ("fd.lproto", Attr::NetProto),
    ("fd.l4proto", Attr::NetProto),
    ("fd.rproto", Attr::NetProto),
    ("fd.sproto", Attr::NetProto),
    ("fd.cproto", Attr::NetProto),
    ("fd.sport", Attr::NetSport),
    ("fd.dport", Attr::NetDport),
    ("fd.sip", Attr::NetSip),
    ("fd.dip", Attr::NetDip),
    ("fd.ip", Attr::NetIp),
    // Networks (CIDR literals): either end, the client (SysFlow's source) and the server.
    ("fd.net", Attr::NetIp),
    ("fd.cnet", Attr::NetSip),
    ("fd.snet", Attr::NetDip),
    ("fd.port", Attr::NetPort),
    ("fd.num", Attr::FileFd),
    ("user.name", Attr::ProcUser),
    ("proc.user", Attr::ProcUser),
    ("proc.pid", Attr::ProcPid),
    ("proc.tid", Attr::ProcTid),
    ("proc.gid", Attr::ProcGid),
    ("proc.uid", Attr::ProcUid),
    ("proc.group", Attr::ProcGroup),
    ("proc.tty", Attr::ProcTty),
    ("proc.exe", Attr::ProcExe),
    ("proc.name", Attr::ProcName),
    ("proc.args", Attr::ProcArgs),
    ("proc.cmdline", Attr::ProcCmdline),
    ("proc.createtime", Attr::ProcCreateTs),
    ("proc.cwd", Attr::ProcCwd),
    ("proc.env", Attr::ProcEnv),
    ("proc.aname", Attr::ProcAName),
    ("proc.apid", Attr::ProcAPid),
    ("proc.ppid", Attr::PProcPid),
    ("proc.pcreatetime", Attr::PProcCreateTs),
    ("proc.pgid", Attr::PProcGid),
    ("proc.puid", Attr::PProcUid),
    ("proc.pgroup", Attr::PProcGroup),
    ("proc.ptty", Attr::PProcTty),
    ("proc.puser", Attr::PProcUser),
    ("proc.pexe", Attr::PProcExe),
    ("proc.pargs", Attr::PProcArgs),
    ("proc.pname", Attr::PProcName),
    ("proc.pcmdline", Attr::PProcCmdline),
    ("container.id", Attr::ContainerId),
    ("container.image.id", Attr::ContainerImageId),
    ("container.image", Attr::ContainerImage),
    ("container.name", Attr::ContainerName),
    ("container.type", Attr::ContainerType),
    ("container.privileged", Attr::ContainerPrivilegedBool),
];

/// Exported attributes in the order of the processor's JSON encoder: sorted by number of
/// dot-separated parts, then by full name (reference §6.2). Tuple: attribute, `sf.*` name,
/// JSON section ("" = top level), JSON key (`+` dropped).
const EXPORTED: &[(Attr, &str, &str, &str)] = &[
    (Attr::EndTs, "sf.endts", "", "endts"),
    (Attr::OpFlags, "sf.opflags", "", "opflags"),
    (Attr::Ret, "sf.ret", "", "ret"),
    (Attr::Ts, "sf.ts", "", "ts"),
    (Attr::Type, "sf.type", "", "type"),
    (Attr::ContainerId, "sf.container.id", "container", "id"),
    (
        Attr::ContainerImage,
        "sf.container.image",
        "container",
        "image",
    ),
    (
        Attr::ContainerImageId,
        "sf.container.imageid",
        "container",
        "imageid",
    ),
    (
        Attr::ContainerName,
        "sf.container.name",
        "container",
        "name",
    ),
    (
        Attr::ContainerPrivileged,
        "sf.container.privileged",
        "container",
        "privileged",
    ),
    (
        Attr::ContainerType,
        "sf.container.type",
        "container",
        "type",
    ),
    (
        Attr::FileDirectory,
        "sf.file.directory",
        "file",
        "directory",
    ),
    (Attr::FileFd, "sf.file.fd", "file", "fd"),
    (
        Attr::FileIsOpenRead,
        "sf.file.is_open_read",
        "file",
        "is_open_read",
    ),
    (
        Attr::FileIsOpenWrite,
        "sf.file.is_open_write",
        "file",
        "is_open_write",
    ),
    (Attr::FileName, "sf.file.name", "file", "name"),
    (
        Attr::FileNewDirectory,
        "sf.file.newdirectory",
        "file",
        "newdirectory",
    ),
    (Attr::FileNewName, "sf.file.newname", "file", "newname"),
    (Attr::FileNewOid, "sf.file.newoid", "file", "newoid"),
    (Attr::FileNewPath, "sf.file.newpath", "file", "newpath"),
    (
        Attr::FileNewSymlink,
        "sf.file.newsymlink",
        "file",
        "newsymlink",
    ),
    (Attr::FileOid, "sf.file.oid", "file", "oid"),
    (
        Attr::FileOpenFlags,
        "sf.file.openflags",
        "file",
        "openflags",
    ),
    (Attr::FilePath, "sf.file.path", "file", "path"),
    (Attr::FileSymlink, "sf.file.symlink", "file", "symlink"),
    (Attr::FileType, "sf.file.type", "file", "type"),
    (Attr::FlowRBytes, "sf.flow.rbytes", "flow", "rbytes"),
    (Attr::FlowROps, "sf.flow.rops", "flow", "rops"),
    (Attr::FlowWBytes, "sf.flow.wbytes", "flow", "wbytes"),
    (Attr::FlowWOps, "sf.flow.wops", "flow", "wops"),
    (Attr::KeAction, "sf.ke.action", "k8s", "action"),
    (Attr::KeKind, "sf.ke.kind", "k8s", "kind"),
    (Attr::KeMessage, "sf.ke.message", "k8s", "message"),
    (Attr::MetaSchema, "sf.meta.schema", "meta", "schema"),
    (
        Attr::MetaTraceName,
        "sf.meta.tracename",
        "meta",
        "tracename",
    ),
    (Attr::NetDip, "sf.net.dip", "net", "dip"),
    (Attr::NetDport, "sf.net.dport", "net", "dport"),
    (Attr::NetIp, "sf.net.ip", "net", "ip"),
    (Attr::NetPort, "sf.net.port", "net", "port"),
    (Attr::NetProto, "sf.net.proto", "net", "proto"),
    (Attr::NetSip, "sf.net.sip", "net", "sip"),
    (Attr::NetSport, "sf.net.sport", "net", "sport"),
    (Attr::NodeId, "sf.node.id", "node", "id"),
    (Attr::NodeIp, "sf.node.ip", "node", "ip"),
    (Attr::PodHostIp, "sf.pod.hostip+", "pod", "hostip"),
    (Attr::PodId, "sf.pod.id", "pod", "id"),
    (
        Attr::PodInternalIp,
        "sf.pod.internalip+",
        "pod",
        "internalip",
    ),
    (Attr::PodName, "sf.pod.name", "pod", "name"),
    (Attr::PodNamespace, "sf.pod.namespace", "pod", "namespace"),
    (Attr::PodNodeName, "sf.pod.nodename", "pod", "nodename"),
    (
        Attr::PodRestartCnt,
        "sf.pod.restartcnt",
        "pod",
        "restartcnt",
    ),
    (Attr::PodServices, "sf.pod.services+", "pod", "services"),
    (Attr::PodTs, "sf.pod.ts", "pod", "ts"),
    (Attr::PProcArgs, "sf.pproc.args", "pproc", "args"),
    (Attr::PProcCmdline, "sf.pproc.cmdline", "pproc", "cmdline"),
    (
        Attr::PProcCreateTs,
        "sf.pproc.createts",
        "pproc",
        "createts",
    ),
    (Attr::PProcEntry, "sf.pproc.entry", "pproc", "entry"),
    (Attr::PProcExe, "sf.pproc.exe", "pproc", "exe"),
    (Attr::PProcGid, "sf.pproc.gid", "pproc", "gid"),
    (Attr::PProcGroup, "sf.pproc.group", "pproc", "group"),
    (Attr::PProcName, "sf.pproc.name", "pproc", "name"),
    (Attr::PProcOid, "sf.pproc.oid", "pproc", "oid"),
    (Attr::PProcPid, "sf.pproc.pid", "pproc", "pid"),
    (Attr::PProcTty, "sf.pproc.tty", "pproc", "tty"),
    (Attr::PProcUid, "sf.pproc.uid", "pproc", "uid"),
    (Attr::PProcUser, "sf.pproc.user", "pproc", "user"),
    (Attr::ProcACmdline, "sf.proc.acmdline", "proc", "acmdline"),
    (Attr::ProcAExe, "sf.proc.aexe", "proc", "aexe"),
    (Attr::ProcAName, "sf.proc.aname", "proc", "aname"),
    (Attr::ProcAPid, "sf.proc.apid", "proc", "apid"),
    (Attr::ProcArgs, "sf.proc.args", "proc", "args"),
    (Attr::ProcCmdline, "sf.proc.cmdline", "proc", "cmdline"),
    (Attr::ProcCreateTs, "sf.proc.createts", "proc", "createts"),
    (Attr::ProcEntry, "sf.proc.entry", "proc", "entry"),
    (Attr::ProcExe, "sf.proc.exe", "proc", "exe"),
    (Attr::ProcGid, "sf.proc.gid", "proc", "gid"),
    (Attr::ProcGroup, "sf.proc.group", "proc", "group"),
    (Attr::ProcName, "sf.proc.name", "proc", "name"),
    (Attr::ProcOid, "sf.proc.oid", "proc", "oid"),
    (Attr::ProcPid, "sf.proc.pid", "proc", "pid"),
    (Attr::ProcTid, "sf.proc.tid", "proc", "tid"),
    (Attr::ProcTty, "sf.proc.tty", "proc", "tty"),
    (Attr::ProcUid, "sf.proc.uid", "proc", "uid"),
    (Attr::ProcUser, "sf.proc.user", "proc", "user"),
];

impl Attr {
    /// Attributes that appear in JSON output, in the processor's key order (reference §6.2):
    /// `(attribute, sf name, section ("" = top level), key)`. The new `sf.proc.cwd`/`env` and the
    /// json-string forms `sf.pod.hostip`/`internalip`/`services` are not exported.
    pub fn exported() -> &'static [(Attr, &'static str, &'static str, &'static str)] {
        EXPORTED
    }

    /// Canonical name: the `sf.*` name, or the Falco name for Falco-only attributes.
    pub fn sf_name(self) -> &'static str {
        match self {
            Attr::ContainerPrivilegedBool => "container.privileged",
            Attr::EvtDir => "evt.dir",
            Attr::EvtNum => "evt.num",
            Attr::EvtRes => "evt.res",
            Attr::ProcDuration => "proc.duration",
            Attr::PProcDuration => "proc.ppid.duration",
            Attr::ParentAName => "proc.aname",
            Attr::ParentAExe => "proc.aexe",
            Attr::ParentAPid => "proc.apid",
            Attr::FdType => "fd.type",
            Attr::FdTypeChar => "fd.typechar",
            Attr::FdSockFamily => "fd.sockfamily",
            Attr::FdConnected => "fd.connected",
            Attr::FdNameChanged => "fd.name_changed",
            Attr::FdL4Proto => "fd.l4proto",
            Attr::NetLIp => "fd.lip",
            Attr::NetRIp => "fd.rip",
            Attr::NetLPort => "fd.lport",
            Attr::NetRPort => "fd.rport",
            Attr::ContainerIdOrHost => "container.id",
            Attr::ContainerNameOrHost => "container.name",
            Attr::ContainerImageRepo => "container.image.repository",
            Attr::ContainerImageTag => "container.image.tag",
            Attr::ProcExeName => "proc.exe",
            Attr::ProcTtyNum => "proc.tty",
            a => NAMES
                .iter()
                .find(|(_, x)| *x == a)
                .map(|(n, _)| *n)
                .unwrap_or("?"),
        }
    }

    /// Value type of the attribute.
    pub fn kind(self) -> AttrKind {
        use Attr::*;
        match self {
            OpFlags | ProcAName | ProcAExe | ProcACmdline | ProcAPid | ProcEnv | FileOpenFlags
            | NetIp | NetPort | EvtDir | ParentAName | ParentAExe | ParentAPid => AttrKind::List,
            Ret | Ts | EndTs | ProcPid | ProcCreateTs | ProcTid | ProcUid | ProcGid | PProcPid
            | PProcCreateTs | PProcUid | PProcGid | FileFd | NetSport | NetDport | NetProto
            | FlowRBytes | FlowROps | FlowWBytes | FlowWOps | ContainerPrivileged | PodTs
            | PodRestartCnt | MetaSchema | EvtNum | ProcDuration | PProcDuration | NetLPort
            | NetRPort | ProcTtyNum => AttrKind::Int,
            ProcTty
            | ProcEntry
            | PProcTty
            | PProcEntry
            | FileIsOpenRead
            | FileIsOpenWrite
            | ContainerPrivilegedBool
            | FdConnected
            | FdNameChanged => AttrKind::Bool,
            PodHostIp | PodInternalIp | PodServices | PodHostIpJson | PodInternalIpJson
            | PodServicesJson | KeMessage => AttrKind::Json,
            _ => AttrKind::Str,
        }
    }

    /// Derived for Falco's fields (read in `falco.rs`).
    pub fn is_falco_derived(self) -> bool {
        use Attr::*;
        matches!(
            self,
            EvtNum
                | EvtRes
                | ProcDuration
                | PProcDuration
                | ParentAName
                | ParentAExe
                | ParentAPid
                | FdType
                | FdTypeChar
                | FdSockFamily
                | FdConnected
                | FdNameChanged
                | FdL4Proto
                | NetLIp
                | NetRIp
                | NetLPort
                | NetRPort
                | ContainerIdOrHost
                | ContainerNameOrHost
                | ContainerImageRepo
                | ContainerImageTag
                | ProcExeName
                | ProcTtyNum
        )
    }

    /// Ancestor list attributes accept a `[N]` index (0 = the process itself).
    pub fn is_ancestor_list(self) -> bool {
        matches!(
            self,
            Attr::ProcAName | Attr::ProcAExe | Attr::ProcACmdline | Attr::ProcAPid
        )
    }

    /// Attributes whose value is JSON text accept a `[path]` json-path suffix.
    pub fn is_json(self) -> bool {
        self.kind() == AttrKind::Json
    }

    /// The value must be rendered (pod arrays and services as JSON): read it with
    /// `get_into`; `get` yields `Missing` for it.
    pub fn renders(self) -> bool {
        matches!(
            self,
            Attr::PodHostIp
                | Attr::PodInternalIp
                | Attr::PodServices
                | Attr::PodHostIpJson
                | Attr::PodInternalIpJson
                | Attr::PodServicesJson
        )
    }
}

/// A resolved attribute reference: the attribute plus an optional ancestor index or json path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub attr: Attr,
    /// `proc.aname[N]`-style index into a list attribute.
    pub index: Option<usize>,
    /// `attr[path]` json-path suffix on a json-valued attribute.
    pub json_path: Option<Box<str>>,
    /// The canonical `sf.*` name.
    pub name: &'static str,
}

impl Field {
    /// Resolves a name; `None` when it is not an attribute or alias.
    ///
    /// A `[...]` suffix is an ancestor index on `sf.proc.aname/aexe/acmdline/apid` (and
    /// `proc.aname/apid`), Falco style: `[0]` is the process itself, `[1]` its parent. On
    /// json-valued attributes (`sf.ke.message`, `sf.pod.hostip`, `sf.pod.internalip`,
    /// `sf.pod.services`) it is a gjson-like path (`items.0.namespace`). Any other suffix
    /// does not resolve.
    pub fn resolve(name: &str) -> Option<Field> {
        let (base, suffix) = match name.find('[') {
            Some(i) => {
                let rest = name[i + 1..].strip_suffix(']')?;
                (&name[..i], Some(rest))
            }
            None => (name, None),
        };
        let attr = NAMES.iter().find(|(n, _)| *n == base)?.1;
        let mut f = Field {
            attr,
            index: None,
            json_path: None,
            name: attr.sf_name(),
        };
        if let Some(s) = suffix {
            if attr.is_ancestor_list() {
                f.index = Some(s.trim().parse().ok()?);
            } else if attr.is_json() && !s.is_empty() {
                f.json_path = Some(s.into());
            } else {
                return None;
            }
        }
        Some(f)
    }

    /// True when the value must be read with `get_into` (json paths, pod JSON).
    pub fn needs_scratch(&self) -> bool {
        self.json_path.is_some() || self.attr.renders()
    }

    /// Every name [`Field::resolve`] accepts without a suffix (sf names, then aliases).
    pub fn all_names() -> &'static [&'static str] {
        static ALL: LazyLock<Vec<&'static str>> =
            LazyLock::new(|| NAMES.iter().map(|(n, _)| *n).collect());
        &ALL
    }

    /// The closest accepted name to a misspelt one, for error messages (`None` when nothing
    /// is close). Not for hot paths.
    pub fn suggest(name: &str) -> Option<&'static str> {
        let base = name.split('[').next().unwrap_or(name);
        let limit = (base.len() / 3).clamp(1, 4);
        Field::all_names()
            .iter()
            .map(|n| (strsim::levenshtein(base, n), *n))
            .filter(|(d, _)| *d <= limit)
            // On a tie prefer a name the input starts with (`sf.proc.username` → `sf.proc.user`).
            .min_by_key(|(d, n)| 2 * d + usize::from(!base.starts_with(n)))
            .map(|(_, n)| n)
    }
}

/// Falco `evt.type` syscall names and the SysFlow operation names they correspond to.
///
/// `evt.type` yields SysFlow operation names (OPEN, EXEC, …) as in the original. A policy
/// compiler that wants Falco rules such as `evt.type in (open, openat)` to match rewrites each
/// Falco literal compared with `evt.type` into these names at compile time (no run-time cost).
/// Names that are not listed (and upper-case SysFlow names) are left as they are.
const FALCO_SYSCALLS: &[(&str, &[&str])] = &[
    ("open", &["OPEN"]),
    ("openat", &["OPEN"]),
    ("openat2", &["OPEN"]),
    ("creat", &["OPEN"]),
    ("open_by_handle_at", &["OPEN"]),
    ("execve", &["EXEC"]),
    ("execveat", &["EXEC"]),
    ("clone", &["CLONE"]),
    ("clone3", &["CLONE"]),
    ("fork", &["CLONE"]),
    ("vfork", &["CLONE"]),
    ("exit", &["EXIT"]),
    ("exit_group", &["EXIT"]),
    ("procexit", &["EXIT"]),
    ("setuid", &["SETUID"]),
    ("setresuid", &["SETUID"]),
    ("setreuid", &["SETUID"]),
    ("setns", &["SETNS"]),
    ("unshare", &["SETNS"]),
    ("accept", &["ACCEPT"]),
    ("accept4", &["ACCEPT"]),
    ("connect", &["CONNECT"]),
    ("read", &["READ", "RECV"]),
    ("readv", &["READ", "RECV"]),
    ("pread", &["READ"]),
    ("pread64", &["READ"]),
    ("preadv", &["READ"]),
    ("preadv2", &["READ"]),
    ("recv", &["RECV"]),
    ("recvfrom", &["RECV"]),
    ("recvmsg", &["RECV"]),
    ("recvmmsg", &["RECV"]),
    ("write", &["WRITE", "SEND"]),
    ("writev", &["WRITE", "SEND"]),
    ("pwrite", &["WRITE"]),
    ("pwrite64", &["WRITE"]),
    ("pwritev", &["WRITE"]),
    ("pwritev2", &["WRITE"]),
    // One call, two flows: the source reads, the destination writes (or sends).
    ("sendfile", &["READ", "WRITE", "SEND"]),
    ("splice", &["READ", "RECV", "WRITE", "SEND"]),
    ("copy_file_range", &["READ", "WRITE"]),
    ("send", &["SEND"]),
    ("sendto", &["SEND"]),
    ("sendmsg", &["SEND"]),
    ("sendmmsg", &["SEND"]),
    ("close", &["CLOSE"]),
    ("shutdown", &["SHUTDOWN"]),
    ("mmap", &["MMAP"]),
    ("mmap2", &["MMAP"]),
    ("truncate", &["TRUNCATE"]),
    ("ftruncate", &["TRUNCATE"]),
    ("mkdir", &["MKDIR"]),
    ("mkdirat", &["MKDIR"]),
    ("rmdir", &["RMDIR"]),
    ("link", &["LINK"]),
    ("linkat", &["LINK"]),
    ("unlink", &["UNLINK"]),
    ("unlinkat", &["UNLINK"]),
    ("symlink", &["SYMLINK"]),
    ("symlinkat", &["SYMLINK"]),
    ("rename", &["RENAME"]),
    ("renameat", &["RENAME"]),
    ("renameat2", &["RENAME"]),
];

/// SysFlow operation names matching a Falco `evt.type` syscall name (the table `FALCO_SYSCALLS` above).
pub fn falco_evt_type_ops(syscall: &str) -> Option<&'static [&'static str]> {
    FALCO_SYSCALLS
        .iter()
        .find(|(n, _)| *n == syscall)
        .map(|(_, ops)| *ops)
}
