//! The policy engine stage's rule set, behind a trait: compiled rules evaluate one record and
//! attach their matches; a loader compiles them (again, on reload).

use std::path::PathBuf;
use std::sync::Arc;

use sysflow_policy::{
    Diagnostic, Language, LanguageOptions, LoadOptions, Matches, Mode, PolicyEngine, PolicyError,
    Verdict,
};

use crate::config::{builtin, PolicyConfig, PolicyLanguage, PolicyMode};
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
    // A Sigma rule is exported as sf-processor exports it, by its id, with its title as the
    // description.
    let infos = engine
        .rules()
        .iter()
        .map(|r| {
            Arc::new(RuleInfo {
                name: r.id.clone().unwrap_or_else(|| r.name.clone()),
                desc: if r.id.is_some() {
                    r.name.clone()
                } else {
                    r.desc.clone()
                },
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

/// How rule files are read: the engine's mode, the rule language and Sigma's field mapping.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    pub mode: PolicyMode,
    pub language: PolicyLanguage,
    /// sf-processor's Sigma field-mapping file (`config`).
    pub sigma_config: Option<PathBuf>,
}

impl LoadSpec {
    /// The spec of a `policyengine` entry.
    pub fn of(cfg: &PolicyConfig) -> Self {
        LoadSpec {
            mode: cfg.mode,
            language: cfg.language,
            sigma_config: cfg.sigma_config.clone(),
        }
    }

    /// The language options of the engine.
    pub fn languages(&self) -> LanguageOptions {
        LanguageOptions {
            language: match self.language {
                PolicyLanguage::Auto => Language::Auto,
                PolicyLanguage::Falco => Language::Falco,
                PolicyLanguage::Sigma => Language::Sigma,
            },
            sigma_config: self.sigma_config.clone(),
        }
    }
}

/// The loader for a rule source (each file's language by its shape, the built-in Sigma
/// mapping).
pub fn loader(src: RuleSource, mode: PolicyMode) -> Loader {
    loader_with(
        src,
        LoadSpec {
            mode,
            language: PolicyLanguage::Auto,
            sigma_config: None,
        },
    )
}

/// The loader for a rule source read as `spec` says.
pub fn loader_with(src: RuleSource, spec: LoadSpec) -> Loader {
    Arc::new(move || -> anyhow::Result<Rules> {
        let opts = LoadOptions {
            mode: engine_mode(spec.mode),
            strict: false,
        };
        match &src {
            RuleSource::Path(p) => wrap(
                PolicyEngine::load_lang(p, opts, &spec.languages()),
                &p.display().to_string(),
            ),
            RuleSource::Builtin => {
                let (name, text) = builtin::RULES[0];
                wrap(PolicyEngine::from_str(name, text, opts), "built-in rules")
            }
        }
    })
}
