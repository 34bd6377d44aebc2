//! What flows from the flattener through the policy stage to the exporters: a flat record
//! with the rules it matched.

use std::sync::Arc;

use sysflow_model::flat::FlatRecord;
use sysflow_policy::falco::output::Template;

/// A rule that matched a record (what the JSON `policies` array and ECS `event.reason` show).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    pub name: String,
    pub desc: String,
    /// 0 (lowest) … 4 as the original numbers priorities.
    pub priority: u8,
    pub tags: Vec<String>,
    /// Falco's priority word (`Warning`, …) for Falco's alert format.
    pub falco_priority: &'static str,
    /// The rule's `output`, compiled (Falco's alert format renders it).
    pub template: Option<Arc<Template>>,
}

/// A flat record and, once the policy engine has seen it, the rules it matched.
#[derive(Debug, Clone)]
pub struct Event {
    pub rec: FlatRecord,
    /// Matched rules in declaration order; shared with the compiled rule set.
    pub rules: Vec<Arc<RuleInfo>>,
    /// Tags added by rule actions (exported before the rules' own tags).
    pub tags: Vec<Arc<str>>,
    /// The driver's token of the batch this event came from ([`super::Ack`]); `None` for
    /// drivers that need no acknowledgement.
    pub ack: Option<super::Ack>,
}

impl Event {
    pub fn new(rec: FlatRecord) -> Self {
        Event {
            rec,
            rules: Vec::new(),
            tags: Vec::new(),
            ack: None,
        }
    }

    /// True when at least one rule matched.
    pub fn is_alert(&self) -> bool {
        !self.rules.is_empty()
    }
}
