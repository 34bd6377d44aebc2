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
    if cfg.filter_enabled {
        tracing::warn!("sysflowreader: filter.enabled is not implemented yet; ignored");
    }
    Ok(Box::new(Minimal { index: 0 }))
}

/// Stand-in until the entity tables land: events and flows without joined entities.
struct Minimal {
    index: u64,
}

impl Flatten for Minimal {
    fn push(&mut self, rec: SysFlow) -> Option<FlatRecord> {
        let index = self.index;
        self.index += 1;
        if !rec.record_type().is_event_or_flow() {
            return None;
        }
        Some(FlatRecord {
            index,
            rec,
            header: None,
            proc: None,
            pproc: None,
            ancestry: std::sync::Arc::from(Vec::new()),
            file: None,
            newfile: None,
            container: None,
            pod: None,
        })
    }
}
