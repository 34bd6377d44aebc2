//! The record joiner behind a trait, so the stage does not depend on how the flattener is
//! built (the model's tables, or those wrapped in the decay filter).

use sysflow_model::flat::FlatRecord;
use sysflow_model::SysFlow;

/// Joins records with the entities they reference; entity records only update the tables.
pub trait Flatten: Send {
    /// One record in; a flat record out for events and flows, `None` for entities (and
    /// for records a filter drops). Runs per record: no allocation beyond the record's own.
    fn push(&mut self, rec: SysFlow) -> Option<FlatRecord>;
}

impl Flatten for sysflow_model::tables::Flattener {
    fn push(&mut self, rec: SysFlow) -> Option<FlatRecord> {
        sysflow_model::tables::Flattener::push(self, rec)
    }
}
