//! sysprint's field table (`sysflow/formatter.py` `_fields`) and the keys of its flat map.
//!
//! Two orders matter: [`FIELDS`] is the order of `sysprint -l` (and of sysprint's column
//! table), [`Key::ALL`] is the order in which `_flatten` fills its map, which is the key order
//! of json, flatjson and csv output.

/// One row of sysprint's `_fields` table.
#[derive(Debug, Clone, Copy)]
pub struct FieldInfo {
    pub key: &'static str,
    /// Column name in `-o str` headers.
    pub column: &'static str,
    /// Column width in `-o str` (before terminal scaling).
    pub width: usize,
    pub desc: &'static str,
    /// Query-only fields have no value in the flat map (they print as "").
    pub query_only: bool,
}

const fn f(
    key: &'static str,
    column: &'static str,
    width: usize,
    desc: &'static str,
    query_only: bool,
) -> FieldInfo {
    FieldInfo {
        key,
        column,
        width,
        desc,
        query_only,
    }
}

/// sysprint 0.6.1 `_fields`, verbatim and in order.
pub const FIELDS: &[FieldInfo] = &[
    f("idx", "Rec #", 6, "Record number", false),
    f("type", "T", 2, "Record type", false),
    f("state", "State", 12, "Entity state", false),
    f("opflags", "Op Flags", 14, "Operation flags", false),
    f(
        "opflags_bitmap",
        "Op Flags",
        5,
        "Operation flags bitmap",
        false,
    ),
    f("ret", "Ret", 4, "Return code", false),
    f("ts", "Start Time", 26, "Record start time", false),
    f("ts_uts", "Start Time", 21, "Records start timestamp", false),
    f("endts", "End Time", 26, "Record end time", false),
    f("endts_uts", "End Time", 21, "Record end timestamp", false),
    f("proc.pid", "PID", 8, "Process PID", false),
    f("proc.tid", "TID", 8, "Thread PID", false),
    f("proc.uid", "UID", 5, "Process user ID", false),
    f("proc.user", "User", 8, "Process user name", false),
    f("proc.gid", "GID", 5, "Process group ID", false),
    f("proc.group", "Group", 8, "Process group name", false),
    f(
        "proc.apid",
        "A. PIDs",
        20,
        "Process ancestors PIDs (query only)",
        true,
    ),
    f(
        "proc.aname",
        "A. Proc. Names",
        20,
        "Process ancestors names (query only)",
        true,
    ),
    f("proc.cwd", "Cwd", 20, "Current working directory ", false),
    f("proc.exe", "Cmd", 20, "Process command/filename", false),
    f("proc.args", "Args", 20, "Process command arguments", false),
    f(
        "proc.name",
        "Proc. Name",
        20,
        "Process name (query only)",
        true,
    ),
    f(
        "proc.cmdline",
        "Cmd Line",
        20,
        "Process command line (query only)",
        true,
    ),
    f("proc.tty", "TTY", 5, "Process TTY status", false),
    f(
        "proc.env",
        "Env",
        30,
        "Process environment variables",
        false,
    ),
    f(
        "proc.entry",
        "Entry",
        5,
        "Process container entrypoint",
        false,
    ),
    f(
        "proc.createts",
        "Proc. Creation Time",
        21,
        "Process creation timestamp",
        false,
    ),
    f("pproc.pid", "PPID", 8, "Parent process ID", false),
    f("pproc.gid", "PGID", 5, "Parent process group ID", false),
    f("pproc.uid", "PUID", 5, "Parent process user ID", false),
    f(
        "pproc.group",
        "PGroup",
        8,
        "Parent process group name",
        false,
    ),
    f("pproc.tty", "PTTY", 5, "Parent process TTY status", false),
    f(
        "pproc.env",
        "PEnv",
        30,
        "Parent process environment variables",
        false,
    ),
    f(
        "pproc.entry",
        "PEntry",
        5,
        "Parent process container entry",
        false,
    ),
    f("pproc.user", "PUser", 8, "Parent process user name", false),
    f(
        "pproc.cwd",
        "PCwd",
        20,
        "Parent current working directory ",
        false,
    ),
    f(
        "pproc.exe",
        "PCmd",
        20,
        "Parent process command/filename",
        false,
    ),
    f(
        "pproc.args",
        "PArgs",
        20,
        "Parent process command arguments",
        false,
    ),
    f(
        "pproc.name",
        "PProc. Name",
        20,
        "Parent process name (query only)",
        true,
    ),
    f(
        "pproc.cmdline",
        "PProc. Cmd Line",
        20,
        "Parent process command line (query only)",
        true,
    ),
    f(
        "pproc.createts",
        "PProc. Creation Time",
        21,
        "Parent process creation timestamp",
        false,
    ),
    f("file.fd", "FD", 5, "File descriptor number", false),
    f("file.path", "Path", 30, "File path", false),
    f("file.newpath", "New Path", 30, "New file path", false),
    f("file.name", "File Name", 30, "File name (query only)", true),
    f(
        "file.directory",
        "Dir",
        30,
        "File directory (query only)",
        true,
    ),
    f("file.type", "File Type", 8, "File type", false),
    f(
        "file.is_open_write",
        "W",
        5,
        "File open with write flag (query only)",
        true,
    ),
    f(
        "file.is_open_read",
        "R",
        5,
        "File open with read flag (query only)",
        true,
    ),
    f("file.openflags", "Open Flags", 5, "File open flags", false),
    f("net.proto", "Proto", 5, "Network protocol", false),
    f("net.sport", "SPort", 5, "Source port", false),
    f("net.dport", "DPort", 5, "Destination port", false),
    f(
        "net.port",
        "Port",
        5,
        "Source or destination port (query only)",
        true,
    ),
    f("net.sip", "SIP", 16, "Source IP", false),
    f("net.dip", "DIP", 16, "Destination IP", false),
    f(
        "net.ip",
        "IP",
        5,
        "Source or destination IP (query only)",
        true,
    ),
    f("res", "Resource", 45, "File or network resource", false),
    f(
        "flow.rbytes",
        "NoBRead",
        8,
        "Flow bytes read/received",
        false,
    ),
    f(
        "flow.rops",
        "NoOpsRead",
        8,
        "Flow operations read/received",
        false,
    ),
    f(
        "flow.wbytes",
        "NoBWrite",
        8,
        "Flow bytes written/sent",
        false,
    ),
    f(
        "flow.wops",
        "NoOpsWrite",
        8,
        "Flow bytes written/sent",
        false,
    ),
    f("container.id", "Cont ID", 12, "Container ID", false),
    f("container.name", "Cont Name", 12, "Container name", false),
    f(
        "container.imageid",
        "Image ID",
        12,
        "Container image ID",
        false,
    ),
    f(
        "container.image",
        "Image Name",
        12,
        "Container image name",
        false,
    ),
    f("container.type", "Cont Type", 8, "Container type", false),
    f(
        "container.privileged",
        "Privileged",
        5,
        "Container privilege status",
        false,
    ),
    f("pf.nthreads", "NoThreads", 8, "Threads created", false),
    f("pf.nexits", "NoThrExits", 8, "Threads exited", false),
    f("pf.nerrors", "NoThrErrs", 8, "Clone errors", false),
    f("pod.id", "Pod Id", 12, "Pod Identifier", false),
    f("pod.name", "Pod Name", 30, "Pod Name", false),
    f("pod.nname", "Pod Node Name", 12, "Pod Node Name", false),
    f("pod.hostip", "Pod Host IP", 16, "Pod Host IP", false),
    f(
        "pod.internalip",
        "Pod Intern IP",
        16,
        "Pod Internal IP",
        false,
    ),
    f("pod.ns", "Pod Namespace", 12, "Pod Namespace", false),
    f("pod.rstrtcnt", "Rstrt Cnt", 9, "Pod Restart Count", false),
    f("pod.services", "Pod Services", 100, "Pod Services", false),
    f("k8s.action", "K8s EV Action", 25, "K8s Event Action", false),
    f(
        "k8s.kind",
        "K8s EV Comp Type",
        26,
        "K8s Event Component Type",
        false,
    ),
    f("k8s.msg", "K8s EV Msg", 100, "K8s Event Message", false),
    f("node.id", "Node ID", 12, "Node identifier", false),
    f("node.ip", "Node IP", 16, "Node IP address", false),
    f("tags", "Tags", 10, "Enrichment tags", false),
    f("schema", "SF Schema", 8, "SysFlow schema version", false),
    f(
        "version",
        "API version",
        8,
        "SysFlow JSON schema version",
        false,
    ),
    f(
        "filename",
        "File name",
        15,
        "SysFlow trace file name",
        false,
    ),
];

/// Looks a field up by key.
pub fn info(key: &str) -> Option<&'static FieldInfo> {
    FIELDS.iter().find(|f| f.key == key)
}

/// sysprint's default `-o str` columns.
pub const DEFAULT_FIELDS: &[&str] = &[
    "ts_uts",
    "type",
    "proc.exe",
    "proc.args",
    "pproc.pid",
    "proc.pid",
    "proc.tid",
    "opflags",
    "res",
    "flow.rbytes",
    "flow.wbytes",
    "container.id",
];

/// Default `-o str` columns with `-k` (pod name appended).
pub const K8S_FIELDS: &[&str] = &[
    "ts_uts",
    "type",
    "proc.exe",
    "proc.args",
    "pproc.pid",
    "proc.pid",
    "proc.tid",
    "opflags",
    "res",
    "flow.rbytes",
    "flow.wbytes",
    "container.id",
    "pod.name",
];

/// Default `-o str` columns with `-K` (k8s events).
pub const K8S_EVENT_FIELDS: &[&str] = &["ts_uts", "type", "k8s.action", "k8s.kind", "k8s.msg"];

macro_rules! keys {
    ($($v:ident = $s:literal,)*) => {
        /// A key of sysprint's flat map (`_flatten`), in map order.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Key { $($v,)* }
        impl Key {
            /// Every key in `_flatten` order (= json/flatjson/csv key order).
            pub const ALL: &'static [Key] = &[$(Key::$v,)*];
            /// The dotted key, e.g. `proc.pid`.
            pub fn name(self) -> &'static str {
                match self { $(Key::$v => $s,)* }
            }
            /// The key for a dotted name.
            pub fn from_name(s: &str) -> Option<Key> {
                match s { $($s => Some(Key::$v),)* _ => None }
            }
        }
    };
}

keys! {
    Version = "version",
    Type = "type",
    State = "state",
    OpFlags = "opflags",
    OpFlagsBitmap = "opflags_bitmap",
    Ret = "ret",
    Ts = "ts",
    TsUts = "ts_uts",
    EndTs = "endts",
    EndTsUts = "endts_uts",
    ProcPid = "proc.pid",
    ProcTid = "proc.tid",
    ProcUid = "proc.uid",
    ProcUser = "proc.user",
    ProcGid = "proc.gid",
    ProcGroup = "proc.group",
    ProcCwd = "proc.cwd",
    ProcExe = "proc.exe",
    ProcArgs = "proc.args",
    ProcTty = "proc.tty",
    ProcEntry = "proc.entry",
    ProcEnv = "proc.env",
    ProcCreateTs = "proc.createts",
    PProcPid = "pproc.pid",
    PProcGid = "pproc.gid",
    PProcUid = "pproc.uid",
    PProcGroup = "pproc.group",
    PProcTty = "pproc.tty",
    PProcEntry = "pproc.entry",
    PProcEnv = "pproc.env",
    PProcUser = "pproc.user",
    PProcCwd = "pproc.cwd",
    PProcExe = "pproc.exe",
    PProcArgs = "pproc.args",
    PProcCreateTs = "pproc.createts",
    FileFd = "file.fd",
    FilePath = "file.path",
    FileNewPath = "file.newpath",
    FileType = "file.type",
    FileOpenFlags = "file.openflags",
    NetProto = "net.proto",
    NetSport = "net.sport",
    NetDport = "net.dport",
    NetSip = "net.sip",
    NetDip = "net.dip",
    Res = "res",
    FlowRBytes = "flow.rbytes",
    FlowROps = "flow.rops",
    FlowWBytes = "flow.wbytes",
    FlowWOps = "flow.wops",
    PfNThreads = "pf.nthreads",
    PfNExits = "pf.nexits",
    PfNErrors = "pf.nerrors",
    ContainerId = "container.id",
    ContainerName = "container.name",
    ContainerImageId = "container.imageid",
    ContainerImage = "container.image",
    ContainerType = "container.type",
    ContainerPrivileged = "container.privileged",
    PodId = "pod.id",
    PodName = "pod.name",
    PodNName = "pod.nname",
    PodHostIp = "pod.hostip",
    PodInternalIp = "pod.internalip",
    PodNs = "pod.ns",
    PodRstrtCnt = "pod.rstrtcnt",
    PodServices = "pod.services",
    NodeId = "node.id",
    NodeIp = "node.ip",
    Filename = "filename",
    Schema = "schema",
    Tags = "tags",
    K8sAction = "k8s.action",
    K8sKind = "k8s.kind",
    K8sMsg = "k8s.msg",
}

/// What one output column shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sel {
    /// A value of the flat map.
    Key(Key),
    /// The per-file record number (`-o str` only).
    Idx,
    /// A name the flat map lacks (query-only or unknown): sysprint prints "".
    Blank,
}

/// One selected output column: its dotted name and what it shows.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub sel: Sel,
}

impl Column {
    pub fn new(name: &str) -> Column {
        let sel = match Key::from_name(name) {
            Some(k) => Sel::Key(k),
            None if name == "idx" => Sel::Idx,
            None => Sel::Blank,
        };
        Column {
            name: name.to_string(),
            sel,
        }
    }
}

/// The columns for a field list, duplicates dropped (sysprint builds an `OrderedDict`).
pub fn columns<S: AsRef<str>>(names: &[S]) -> Vec<Column> {
    let mut out: Vec<Column> = Vec::with_capacity(names.len());
    for n in names {
        let n = n.as_ref();
        if !out.iter().any(|c| c.name == n) {
            out.push(Column::new(n));
        }
    }
    out
}

/// Every key of the flat map, in map order.
pub fn all_columns() -> Vec<Column> {
    Key::ALL
        .iter()
        .map(|k| Column {
            name: k.name().to_string(),
            sel: Sel::Key(*k),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flat_key_is_a_listed_non_query_field() {
        for k in Key::ALL {
            let i = info(k.name()).unwrap_or_else(|| panic!("{} not in FIELDS", k.name()));
            assert!(!i.query_only, "{}", k.name());
        }
        assert_eq!(Key::ALL.len(), 75);
        assert_eq!(FIELDS.len(), 88);
    }

    #[test]
    fn columns_dedupe_and_classify() {
        let c = columns(&["proc.pid", "idx", "proc.name", "proc.pid", "nope"]);
        let sels: Vec<_> = c.iter().map(|c| c.sel).collect();
        assert_eq!(
            sels,
            [Sel::Key(Key::ProcPid), Sel::Idx, Sel::Blank, Sel::Blank]
        );
    }
}
