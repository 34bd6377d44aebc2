//! Rust types for every record of the SysFlow v5 schema (and what legacy layouts map to).
//!
//! Field names follow the Avro schema in snake case (`procOID` → `proc_oid`). Timestamps are
//! nanoseconds since the epoch.

use crate::flags::{OpFlags, OpenFlags};
pub use crate::record_type::RecordType;

/// Process identity: clone timestamp of the main thread (ns) and host pid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Oid {
    pub create_ts: i64,
    pub hpid: i64,
}

/// File identity: SHA-1 of container id followed by path (20 raw bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Foid(pub [u8; 20]);

impl Foid {
    /// The FOID the collector computes: SHA-1(container id ‖ path).
    pub fn of(container_id: &str, path: &str) -> Foid {
        use sha1::{Digest, Sha1};
        let mut h = Sha1::new();
        h.update(container_id.as_bytes());
        h.update(path.as_bytes());
        Foid(h.finalize().into())
    }

    /// Lower-case hex, 40 characters, written into `out` without allocating.
    pub fn hex(&self) -> [u8; 40] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 40];
        for (i, b) in self.0.iter().enumerate() {
            out[2 * i] = HEX[(b >> 4) as usize];
            out[2 * i + 1] = HEX[(b & 15) as usize];
        }
        out
    }
}

/// Why an entity was (re)emitted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ObjectState {
    #[default]
    Created = 0,
    Modified = 1,
    Reup = 2,
}

impl ObjectState {
    pub const SYMBOLS: [&'static str; 3] = ["CREATED", "MODIFIED", "REUP"];
    pub fn from_index(i: usize) -> Option<Self> {
        [Self::Created, Self::Modified, Self::Reup].get(i).copied()
    }
    pub fn name(self) -> &'static str {
        Self::SYMBOLS[self as usize]
    }
}

/// Container runtime (`sysflow.type.ContainerType`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ContainerType {
    #[default]
    Docker = 0,
    Lxc,
    LibvirtLxc,
    Mesos,
    Rkt,
    Custom,
    Cri,
    Containerd,
    Crio,
    Bpm,
}

impl ContainerType {
    pub const SYMBOLS: [&'static str; 10] = [
        "CT_DOCKER",
        "CT_LXC",
        "CT_LIBVIRT_LXC",
        "CT_MESOS",
        "CT_RKT",
        "CT_CUSTOM",
        "CT_CRI",
        "CT_CONTAINERD",
        "CT_CRIO",
        "CT_BPM",
    ];
    const ALL: [ContainerType; 10] = [
        Self::Docker,
        Self::Lxc,
        Self::LibvirtLxc,
        Self::Mesos,
        Self::Rkt,
        Self::Custom,
        Self::Cri,
        Self::Containerd,
        Self::Crio,
        Self::Bpm,
    ];
    pub fn from_index(i: usize) -> Option<Self> {
        Self::ALL.get(i).copied()
    }
    /// Symbol as in the schema, e.g. `CT_DOCKER`.
    pub fn symbol(self) -> &'static str {
        Self::SYMBOLS[self as usize]
    }
    /// Name without the `CT_` prefix, as the processor renders `sf.container.type`.
    pub fn name(self) -> &'static str {
        &Self::SYMBOLS[self as usize][3..]
    }
}

/// `sysflow.type.K8sComponent`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum K8sComponent {
    #[default]
    Nodes = 0,
    Namespaces,
    Pods,
    ReplicationControllers,
    Services,
    Events,
    ReplicaSets,
    DaemonSets,
    Deployments,
    Unknown,
}

impl K8sComponent {
    pub const SYMBOLS: [&'static str; 10] = [
        "K8S_NODES",
        "K8S_NAMESPACES",
        "K8S_PODS",
        "K8S_REPLICATIONCONTROLLERS",
        "K8S_SERVICES",
        "K8S_EVENTS",
        "K8S_REPLICASETS",
        "K8S_DAEMONSETS",
        "K8S_DEPLOYMENTS",
        "K8S_UNKNOWN",
    ];
    const ALL: [K8sComponent; 10] = [
        Self::Nodes,
        Self::Namespaces,
        Self::Pods,
        Self::ReplicationControllers,
        Self::Services,
        Self::Events,
        Self::ReplicaSets,
        Self::DaemonSets,
        Self::Deployments,
        Self::Unknown,
    ];
    pub fn from_index(i: usize) -> Option<Self> {
        Self::ALL.get(i).copied()
    }
    pub fn symbol(self) -> &'static str {
        Self::SYMBOLS[self as usize]
    }
}

/// `sysflow.type.K8sAction`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum K8sAction {
    #[default]
    Added = 0,
    Modified,
    Deleted,
    Error,
    Nonexistent,
    Unknown,
}

impl K8sAction {
    pub const SYMBOLS: [&'static str; 6] = [
        "K8S_COMPONENT_ADDED",
        "K8S_COMPONENT_MODIFIED",
        "K8S_COMPONENT_DELETED",
        "K8S_COMPONENT_ERROR",
        "K8S_COMPONENT_NONEXISTENT",
        "K8S_COMPONENT_UNKNOWN",
    ];
    const ALL: [K8sAction; 6] = [
        Self::Added,
        Self::Modified,
        Self::Deleted,
        Self::Error,
        Self::Nonexistent,
        Self::Unknown,
    ];
    pub fn from_index(i: usize) -> Option<Self> {
        Self::ALL.get(i).copied()
    }
    pub fn symbol(self) -> &'static str {
        Self::SYMBOLS[self as usize]
    }
}

/// `sysflow.entity.SFHeader`: first record of every file or stream epoch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SfHeader {
    /// Schema version written by the producer: 1000/1001 legacy, 2..=5.
    pub version: i64,
    pub exporter: String,
    /// Node IP; "NA" when the writer schema has no such field (before v2).
    pub ip: String,
    /// Trace file name; "" before v3 and on socket-only streams.
    pub filename: String,
}

/// `sysflow.entity.Container`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub image: String,
    pub imageid: String,
    pub r#type: ContainerType,
    pub privileged: bool,
    pub pod_id: Option<String>,
    /// Only in the transitional 1001 schema; "NA" elsewhere.
    pub imagerepo: Option<String>,
}

/// `sysflow.entity.Process`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Process {
    pub state: ObjectState,
    pub oid: Oid,
    pub poid: Option<Oid>,
    pub ts: i64,
    pub exe: String,
    pub exe_args: String,
    pub uid: i32,
    pub user_name: String,
    pub gid: i32,
    pub group_name: String,
    pub tty: bool,
    pub container_id: Option<String>,
    pub entry: bool,
    pub cwd: String,
    pub env: Vec<String>,
}

/// `sysflow.entity.File`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct File {
    pub state: ObjectState,
    pub oid: Foid,
    pub ts: i64,
    /// Resource type as a character code: 'f', 'd', 'u', 'p', '4', '6', '?'.
    pub restype: i32,
    pub path: String,
    pub container_id: Option<String>,
}

/// `sysflow.event.ProcessEvent`: exactly one of CLONE, EXEC, EXIT, SETUID.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessEvent {
    pub proc_oid: Oid,
    pub ts: i64,
    pub tid: i64,
    pub op_flags: OpFlags,
    pub args: Vec<String>,
    pub ret: i32,
}

/// `sysflow.flow.NetworkFlow` (IPv4; addresses are network-order bytes read as little-endian i32).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkFlow {
    pub proc_oid: Oid,
    pub ts: i64,
    pub tid: i64,
    pub op_flags: OpFlags,
    pub end_ts: i64,
    pub sip: i32,
    pub sport: i32,
    pub dip: i32,
    pub dport: i32,
    pub proto: i32,
    pub fd: i32,
    pub num_r_recv_ops: i64,
    pub num_w_send_ops: i64,
    pub num_r_recv_bytes: i64,
    pub num_w_send_bytes: i64,
}

/// `sysflow.flow.FileFlow`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileFlow {
    pub proc_oid: Oid,
    pub ts: i64,
    pub tid: i64,
    pub op_flags: OpFlags,
    pub open_flags: OpenFlags,
    pub end_ts: i64,
    pub file_oid: Foid,
    pub fd: i32,
    pub num_r_recv_ops: i64,
    pub num_w_send_ops: i64,
    pub num_r_recv_bytes: i64,
    pub num_w_send_bytes: i64,
}

/// `sysflow.event.FileEvent`: MKDIR, RMDIR, LINK, UNLINK, SYMLINK or RENAME.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileEvent {
    pub proc_oid: Oid,
    pub ts: i64,
    pub tid: i64,
    pub op_flags: OpFlags,
    pub file_oid: Foid,
    pub ret: i32,
    pub new_file_oid: Option<Foid>,
}

/// `sysflow.event.NetworkEvent` (declared by the spec, produced by no collector).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkEvent {
    pub proc_oid: Oid,
    pub ts: i64,
    pub tid: i64,
    pub op_flags: OpFlags,
    pub sip: i32,
    pub sport: i32,
    pub dip: i32,
    pub dport: i32,
    pub proto: i32,
    pub ret: i32,
}

/// `sysflow.flow.ProcessFlow` (v2+): thread clone/exit summary of a process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessFlow {
    pub proc_oid: Oid,
    pub ts: i64,
    pub num_threads_cloned: i64,
    pub op_flags: OpFlags,
    pub end_ts: i64,
    pub num_threads_exited: i64,
    pub num_clone_errors: i64,
}

/// `sysflow.entity.Port` of a k8s service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Port {
    pub port: i32,
    pub target_port: i32,
    pub node_port: i32,
    pub proto: String,
}

/// `sysflow.entity.Service` of a pod.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    pub id: String,
    pub namespace: String,
    pub port_list: Vec<Port>,
    /// `ipaddr` longs: IPv4 as one u32 value, IPv6 as two longs per address.
    pub cluster_ip: Vec<i64>,
}

/// `sysflow.entity.Pod` (v4+).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pod {
    pub ts: i64,
    pub id: String,
    pub name: String,
    pub node_name: String,
    pub host_ip: Vec<i64>,
    pub internal_ip: Vec<i64>,
    pub namespace: String,
    pub restart_count: i64,
    /// Avro map in the order it was written.
    pub labels: Vec<(String, String)>,
    pub selectors: Vec<(String, String)>,
    pub services: Vec<Service>,
}

/// `sysflow.event.K8sEvent` (v4+).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct K8sEvent {
    pub kind: K8sComponent,
    pub action: K8sAction,
    pub ts: i64,
    pub message: String,
}

/// One SysFlow datum: the `rec` union. Variant order is the v5 union index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SysFlow {
    Header(SfHeader),
    Container(Container),
    Process(Process),
    File(File),
    ProcessEvent(ProcessEvent),
    NetworkFlow(NetworkFlow),
    FileFlow(FileFlow),
    FileEvent(FileEvent),
    NetworkEvent(NetworkEvent),
    ProcessFlow(ProcessFlow),
    Pod(Pod),
    K8sEvent(K8sEvent),
}

impl SysFlow {
    pub fn record_type(&self) -> RecordType {
        match self {
            SysFlow::Header(_) => RecordType::Header,
            SysFlow::Container(_) => RecordType::Container,
            SysFlow::Process(_) => RecordType::Process,
            SysFlow::File(_) => RecordType::File,
            SysFlow::ProcessEvent(_) => RecordType::ProcessEvent,
            SysFlow::NetworkFlow(_) => RecordType::NetworkFlow,
            SysFlow::FileFlow(_) => RecordType::FileFlow,
            SysFlow::FileEvent(_) => RecordType::FileEvent,
            SysFlow::NetworkEvent(_) => RecordType::NetworkEvent,
            SysFlow::ProcessFlow(_) => RecordType::ProcessFlow,
            SysFlow::Pod(_) => RecordType::Pod,
            SysFlow::K8sEvent(_) => RecordType::K8sEvent,
        }
    }

    /// The process this record belongs to, for events and flows.
    pub fn proc_oid(&self) -> Option<&Oid> {
        match self {
            SysFlow::ProcessEvent(r) => Some(&r.proc_oid),
            SysFlow::NetworkFlow(r) => Some(&r.proc_oid),
            SysFlow::FileFlow(r) => Some(&r.proc_oid),
            SysFlow::FileEvent(r) => Some(&r.proc_oid),
            SysFlow::NetworkEvent(r) => Some(&r.proc_oid),
            SysFlow::ProcessFlow(r) => Some(&r.proc_oid),
            _ => None,
        }
    }
}
