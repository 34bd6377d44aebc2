//! The policy engine stage's rule set, behind a trait: compiled rules evaluate one record and
//! attach their matches; a loader compiles them (again, on reload).

use std::path::PathBuf;
use std::sync::Arc;

use crate::run::event::Event;

/// What the rules decided for a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A filter (drop) rule matched: the record is discarded in every mode.
    Drop,
    /// No rule matched.
    Pass,
    /// At least one rule matched; the matches are in the event.
    Alert,
}

/// Compiled rules.
pub trait RuleSet: Send {
    /// Evaluates every rule on `ev` and attaches the matches to it.
    fn eval(&mut self, ev: &mut Event) -> Verdict;
}

/// Compiles a rule set; called at startup and on every reload.
pub type Loader = Arc<dyn Fn() -> anyhow::Result<Box<dyn RuleSet>> + Send + Sync>;

/// Where the rules come from.
#[derive(Debug, Clone)]
pub enum RuleSource {
    /// A rule file or a directory of `.yaml`/`.yml` files.
    Path(PathBuf),
    /// The built-in rules (`conf/policies`, compiled in).
    Builtin,
}

/// Forwards every record untouched (enrich mode without `policies`).
pub struct Bypass;

impl RuleSet for Bypass {
    fn eval(&mut self, _ev: &mut Event) -> Verdict {
        Verdict::Pass
    }
}

/// The loader for a rule source.
pub fn loader(src: RuleSource) -> Loader {
    Arc::new(move || -> anyhow::Result<Box<dyn RuleSet>> {
        match &src {
            RuleSource::Path(p) => {
                anyhow::bail!("policy engine not merged yet; cannot load {}", p.display())
            }
            RuleSource::Builtin => anyhow::bail!("policy engine not merged yet"),
        }
    })
}
