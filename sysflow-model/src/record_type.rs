//! The record type: which of the twelve SysFlow records a datum is, with its `sf.type` code and
//! Avro full name.
//!
//! A module of its own, below both [`crate::record`] and [`crate::flags`], because op-flag
//! names depend on the record type (RECV/SEND on network records) while the records hold
//! op flags: with the type in `record.rs` the two modules imported each other.

/// Record type, numbered as the v5 union index (`sf.type` codes in [`RecordType::code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum RecordType {
    Header = 0,
    Container = 1,
    Process = 2,
    File = 3,
    ProcessEvent = 4,
    NetworkFlow = 5,
    FileFlow = 6,
    FileEvent = 7,
    NetworkEvent = 8,
    ProcessFlow = 9,
    Pod = 10,
    K8sEvent = 11,
}

impl RecordType {
    pub const ALL: [RecordType; 12] = [
        Self::Header,
        Self::Container,
        Self::Process,
        Self::File,
        Self::ProcessEvent,
        Self::NetworkFlow,
        Self::FileFlow,
        Self::FileEvent,
        Self::NetworkEvent,
        Self::ProcessFlow,
        Self::Pod,
        Self::K8sEvent,
    ];

    pub fn from_index(i: usize) -> Option<Self> {
        Self::ALL.get(i).copied()
    }

    /// Short type string as in `sf.type`: H, C, P, F, PE, NF, FF, FE, NE, PF, PD, KE.
    pub fn code(self) -> &'static str {
        [
            "H", "C", "P", "F", "PE", "NF", "FF", "FE", "NE", "PF", "PD", "KE",
        ][self as usize]
    }

    /// Avro full name of the record, e.g. `sysflow.flow.FileFlow`.
    pub fn full_name(self) -> &'static str {
        [
            "sysflow.entity.SFHeader",
            "sysflow.entity.Container",
            "sysflow.entity.Process",
            "sysflow.entity.File",
            "sysflow.event.ProcessEvent",
            "sysflow.flow.NetworkFlow",
            "sysflow.flow.FileFlow",
            "sysflow.event.FileEvent",
            "sysflow.event.NetworkEvent",
            "sysflow.flow.ProcessFlow",
            "sysflow.entity.Pod",
            "sysflow.event.K8sEvent",
        ][self as usize]
    }

    /// True for the record types that reference a process and reach the flattener output.
    pub fn is_event_or_flow(self) -> bool {
        matches!(
            self,
            Self::ProcessEvent
                | Self::NetworkFlow
                | Self::FileFlow
                | Self::FileEvent
                | Self::NetworkEvent
                | Self::ProcessFlow
                | Self::K8sEvent
        )
    }
}
