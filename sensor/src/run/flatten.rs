//! The `sysflowreader` stage's record joiner, behind a trait so the stage does not depend on
//! how the flattener is built.

use sysflow_model::flat::FlatRecord;
use sysflow_model::SysFlow;

use crate::config::ReaderConfig;

/// Joins records with the entities they reference; entity records only update the tables.
pub trait Flatten: Send {
    fn push(&mut self, rec: SysFlow) -> Option<FlatRecord>;
}

/// Builds the flattener for a `sysflowreader` plugin.
pub fn build(cfg: &ReaderConfig) -> anyhow::Result<Box<dyn Flatten>> {
    let inner =
        sysflow_model::tables::Flattener::new(sysflow_model::tables::TableConfig::default());
    if cfg.filter_enabled {
        return Ok(Box::new(super::decay::DecayFilter::new(
            inner,
            cfg.filter_maxage,
        )));
    }
    Ok(Box::new(inner))
}

impl Flatten for sysflow_model::tables::Flattener {
    fn push(&mut self, rec: SysFlow) -> Option<FlatRecord> {
        sysflow_model::tables::Flattener::push(self, rec)
    }
}
