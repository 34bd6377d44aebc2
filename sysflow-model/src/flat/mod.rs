//! The flat record: an event or flow joined with the entities it references, and every
//! `sf.*` attribute of the processor read from it through resolved [`Field`]s.
//!
//! A consumer resolves an attribute name once ([`Field::resolve`]) and then reads
//! [`FlatRecord::get`] per record; reading never allocates (values borrow from the record
//! and render lazily, see [`Value`]).

mod attr;
mod falco;
mod jsonpath;
mod read;
mod value;

#[cfg(test)]
mod tests;

pub use attr::{falco_evt_type_ops, Attr, AttrKind, Field};
pub use read::oid_hash;
pub use value::{basename, Ancestor, Value};

use std::sync::Arc;

use crate::record::{Container, File, Pod, Process, SfHeader, SysFlow};

/// An event, flow or K8s event with its joined entities. Entities are shared (`Arc`) with the
/// tables, so building a flat record clones a few pointers and allocates nothing else.
#[derive(Debug, Clone)]
pub struct FlatRecord {
    /// 0-based position of `rec` among all records of its source (entities and headers counted).
    pub index: u64,
    /// The record itself: PE, NF, FF, FE, NE, PF or KE.
    pub rec: SysFlow,
    /// Header of the epoch the record belongs to.
    pub header: Option<Arc<SfHeader>>,
    /// Process of `rec.proc_oid()`, the latest record emitted for that OID.
    pub proc: Option<Arc<Process>>,
    /// Parent process (`proc.poid`), as currently in the table.
    pub pproc: Option<Arc<Process>>,
    /// Ancestry including self: `[proc, parent, grandparent, …]`; empty when `proc` is unknown.
    pub ancestry: Arc<[Arc<Process>]>,
    /// File of `fileOID` (FF, FE).
    pub file: Option<Arc<File>>,
    /// File of `newFileOID` (FE: LINK, SYMLINK, RENAME).
    pub newfile: Option<Arc<File>>,
    /// Container of the process.
    pub container: Option<Arc<Container>>,
    /// Pod of the container.
    pub pod: Option<Arc<Pod>>,
}
