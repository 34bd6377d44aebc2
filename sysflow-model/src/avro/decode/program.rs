//! What a compiled writer schema is: per union branch, the steps that read one record.

use crate::avro::schema::{Named, Ty};
use crate::record::RecordType;

/// Marks an optional field whose writer type is not a union (always present).
pub(super) const PLAIN: u8 = u8::MAX;
/// Slot of a writer field the reader does not use.
pub(super) const SKIP: u8 = u8::MAX;

/// How to read one writer field. Indexes point into the program's tables.
#[derive(Clone, Copy, Debug)]
pub(super) enum Wire {
    Skip(u16),
    Long,
    Int,
    Bool,
    Str,
    Oid,
    Foid,
    /// Optional values: the writer's null branch index (0/1) or [`PLAIN`].
    OptOid(u8),
    OptStr(u8),
    OptFoid(u8),
    Enum(u16),
    StrArray,
    LongArray,
    StrMap,
    Services,
}

/// One writer field: which record field it fills (its slot in the record's layout, or
/// [`SKIP`]) and how it is encoded.
#[derive(Clone, Copy, Debug)]
pub(super) struct Step {
    pub slot: u8,
    pub wire: Wire,
}

pub(super) enum Branch {
    Known {
        target: RecordType,
        /// One step per writer field, in writer order.
        steps: Vec<Step>,
        /// A pre-v2 header (no `ip` field): `ip` then reads as "NA" (the schema default).
        header_without_ip: bool,
    },
    /// A record this reader does not know; decoding it is an error (reported lazily so the
    /// records before it are still read).
    Unknown(String),
}

/// Writer enum index → reader value (enum index or op-flag bit); -1 = no counterpart.
pub(super) struct EnumMap {
    pub values: Vec<i32>,
    pub symbols: Vec<String>,
}

/// A compiled writer schema.
pub(crate) struct Program {
    pub(super) branches: Vec<Branch>,
    /// Writer types of skipped fields ([`Wire::Skip`] indexes).
    pub(super) skips: Vec<Ty>,
    /// Writer enums ([`Wire::Enum`] indexes).
    pub(super) enums: Vec<EnumMap>,
    pub(super) named: Vec<Named>,
}

impl Program {
    /// A program with no branches (every datum is a `BadBranch` error).
    pub fn empty() -> Program {
        Program {
            branches: Vec::new(),
            skips: Vec::new(),
            enums: Vec::new(),
            named: Vec::new(),
        }
    }
}
