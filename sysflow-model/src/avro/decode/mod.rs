//! Decode programs: a writer schema compiled, once per file, into per-union-branch lists of
//! steps that write straight into the record structs.
//!
//! Writer fields are matched to record fields by name; writer fields the reader does not know
//! are skipped, record fields the writer lacks keep their defaults (see `docs/compatibility.md`,
//! "Reading legacy traces"). Union branches are resolved by the record's full name, never by
//! index, because legacy schemas order the union differently.
//!
//! - `records`: each record's layout (writer field names → record fields), declared once;
//! - `layout`: how a declaration becomes the name lookup `compile` uses and the decode loop of
//!   the record, and which wire kind each field type takes;
//! - `program`: what a compiled schema is; `compile`: writer schema → program;
//! - `read`: typed readers of one value;
//! - here: one datum → [`SysFlow`].

mod compile;
mod layout;
mod program;
mod read;
mod records;

pub(crate) use program::Program;

use super::cursor::Cur;
use super::error::DatumError;
use crate::record::SysFlow;
use program::Branch;

impl Program {
    /// Decode one datum (union index + record) from `cur`.
    pub fn decode(&self, cur: &mut Cur) -> Result<SysFlow, DatumError> {
        let pos = cur.pos;
        let idx = cur.long()?;
        let br = usize::try_from(idx)
            .ok()
            .and_then(|i| self.branches.get(i))
            .ok_or(DatumError::BadBranch {
                pos,
                index: idx,
                len: self.branches.len(),
            })?;
        match br {
            // The common case returns the record in place: a copy of it through a local here
            // cost ~15% of decode throughput (bench `decode`).
            Branch::Known {
                target,
                steps,
                header_without_ip: false,
            } => records::decode_record(self, *target, cur, steps),
            Branch::Known {
                target,
                steps,
                header_without_ip: true,
            } => {
                let mut rec = records::decode_record(self, *target, cur, steps)?;
                if let SysFlow::Header(h) = &mut rec {
                    h.ip = "NA".to_owned();
                }
                Ok(rec)
            }
            Branch::Unknown(name) => Err(DatumError::UnknownRecord {
                pos,
                index: idx,
                name: name.clone(),
            }),
        }
    }
}
