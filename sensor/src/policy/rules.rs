//! The policy engine stage's rule set, behind a trait: compiled rules evaluate one record and
//! attach their matches; a loader compiles them (again, on reload).

use std::path::PathBuf;
use std::sync::Arc;

use sysflow_policy::{Diagnostic, LoadOptions, Matches, Mode, PolicyEngine, PolicyError, Verdict};

use crate::config::{builtin, PolicyMode};
use crate::pipeline::{Event, RuleInfo};

/// Compiled rules, shared by the policy workers.
pub trait RuleSet: Send + Sync {
    /// Evaluates every rule on `ev` and attaches the matches to it; `m` is the calling
    /// worker's scratch space.
    fn eval(&self, ev: &mut Event, m: &mut Matches) -> Verdict;

    /// When only the records some rule can match go on (alert mode), what each rule needs
    /// from the event source ([`PolicyEngine::requirements`]); `None` when every record may.
    fn requirements(&self) -> Option<Vec<(u16, u32)>> {
        None
    }
}

/// A compiled rule set as the stages hold it.
pub type Rules = Arc<dyn RuleSet>;

/// Compiles a rule set; called at startup and on every reload.
pub type Loader = Arc<dyn Fn() -> anyhow::Result<Rules> + Send + Sync>;

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
    fn eval(&self, _ev: &mut Event, _m: &mut Matches) -> Verdict {
        Verdict::Pass
    }
}

/// Compiled rules of the policy engine, with per-rule export data shared by every match.
struct EngineRules {
    engine: PolicyEngine,
    infos: Vec<Arc<RuleInfo>>,
}

impl RuleSet for EngineRules {
    fn eval(&self, ev: &mut Event, m: &mut Matches) -> Verdict {
        let v = self.engine.process(&ev.rec, m);
        if v == Verdict::Alert {
            for &i in m.indices() {
                if let Some(r) = self.infos.get(i as usize) {
                    ev.rules.push(r.clone());
                }
            }
        }
        v
    }

    fn requirements(&self) -> Option<Vec<(u16, u32)>> {
        (self.engine.mode() == Mode::Alert).then(|| self.engine.requirements())
    }
}

fn engine_mode(m: PolicyMode) -> Mode {
    match m {
        PolicyMode::Alert => Mode::Alert,
        PolicyMode::Enrich => Mode::Enrich,
        PolicyMode::Filter => Mode::Filter,
    }
}

fn wrap(
    res: Result<(PolicyEngine, Vec<Diagnostic>), PolicyError>,
    what: &str,
) -> anyhow::Result<Rules> {
    let (engine, warnings) = res.map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    let infos = engine
        .rules()
        .iter()
        .map(|r| {
            Arc::new(RuleInfo {
                name: r.name.clone(),
                desc: r.desc.clone(),
                priority: r.priority.sysflow_level(),
                tags: r.tags.clone(),
                falco_priority: r.priority.falco_name(),
                template: r.template.clone(),
            })
        })
        .collect();
    tracing::info!("{what}: {} rules", engine.rules().len());
    Ok(Arc::new(EngineRules { engine, infos }))
}

/// The loader for a rule source.
pub fn loader(src: RuleSource, mode: PolicyMode) -> Loader {
    Arc::new(move || -> anyhow::Result<Rules> {
        let opts = LoadOptions {
            mode: engine_mode(mode),
            strict: false,
        };
        match &src {
            RuleSource::Path(p) => wrap(PolicyEngine::load_with(p, opts), &p.display().to_string()),
            RuleSource::Builtin => {
                let (name, text) = builtin::RULES[0];
                wrap(PolicyEngine::from_str(name, text, opts), "built-in rules")
            }
        }
    })
}
