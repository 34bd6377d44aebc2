//! The policy engine: compiled rules and filters indexed by record type and operation.
//!
//! [`build`] loads and compiles (once per load), [`index`] derives what a record must be for
//! a rule to possibly match, [`optimize`] prepares conditions for speed, and [`process`] is
//! the per-record hot path.

mod build;
mod index;
mod optimize;
mod process;

pub use process::{BatchResult, Matches};

use crate::eval::Cond;
use crate::rule::Rule;

/// What the engine does with records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Only records matching a rule go on (the original's default).
    #[default]
    Alert,
    /// Every record not dropped goes on; matches annotate it.
    Enrich,
    /// Only filters/drops are evaluated; every other record goes on.
    Filter,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "alert" => Ok(Mode::Alert),
            "enrich" => Ok(Mode::Enrich),
            "filter" => Ok(Mode::Filter),
            o => Err(format!(
                "unknown mode '{o}': expected alert, enrich or filter"
            )),
        }
    }
}

/// The outcome for one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A filter/drop matched: the record is discarded in every mode.
    Drop,
    /// No rule matched.
    Pass,
    /// At least one rule matched (see [`Matches`]).
    Alert,
}

/// Options for loading.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    pub mode: Mode,
    /// Unknown field names are errors instead of skipping their rules with a warning.
    pub strict: bool,
}

/// Counts for `sensor policy check`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadSummary {
    pub files: usize,
    pub rules: usize,
    pub disabled_rules: usize,
    pub macros: usize,
    pub lists: usize,
    pub filters: usize,
    pub skipped_rules: usize,
    /// Each rule skipped for a field SysFlow cannot supply (or another source): its name
    /// and why, in declaration order.
    pub skipped: Vec<(String, String)>,
}

/// A compiled rule or filter with what a record must have to possibly match it.
#[derive(Debug)]
pub(crate) struct Compiled {
    pub(crate) cond: Cond,
    /// One of these op flags must be set (0: no requirement).
    pub(crate) ops: u32,
}

/// The compiled policy. `Send + Sync`: share it between workers in an `Arc`.
#[derive(Debug)]
pub struct PolicyEngine {
    mode: Mode,
    rules: Vec<Rule>,
    conds: Vec<Compiled>,
    filters: Vec<Compiled>,
    /// Per record type (index = `RecordType as usize`), the enabled rules that can match it.
    rules_by_type: [Vec<u32>; 12],
    filters_by_type: [Vec<u32>; 12],
    /// Memo slots of shared sub-conditions ([`Cond::Memo`]).
    memo_slots: usize,
    /// Per-process memo slots ([`Cond::ProcMemo`]).
    proc_slots: usize,
    summary: LoadSummary,
}

impl PolicyEngine {
    /// What each enabled rule needs from an event source, in declaration order: the record
    /// types it can match (bit `1 << RecordType as u16`) and the op flags one of which it
    /// requires (0 = none). Conservative: a condition the analysis cannot narrow counts as
    /// matching every type.
    pub fn requirements(&self) -> Vec<(u16, u32)> {
        let mut types = vec![0u16; self.rules.len()];
        for (t, list) in self.rules_by_type.iter().enumerate() {
            for &i in list {
                types[i as usize] |= 1 << t;
            }
        }
        types
            .into_iter()
            .zip(self.conds.iter().map(|c| c.ops))
            .collect()
    }

    /// The enabled rules in declaration order ([`Matches`] indexes into this).
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn summary(&self) -> &LoadSummary {
        &self.summary
    }

    /// Whether a record with this verdict goes on in the engine's mode.
    pub fn forwards(&self, v: Verdict) -> bool {
        match v {
            Verdict::Drop => false,
            Verdict::Alert => true,
            Verdict::Pass => self.mode != Mode::Alert,
        }
    }
}

#[allow(dead_code)]
fn assert_send_sync() {
    fn f<T: Send + Sync>() {}
    f::<PolicyEngine>();
}
