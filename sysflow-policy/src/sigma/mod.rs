//! Sigma rules on the same engine: Sigma's YAML format (rules, meta filters; correlation
//! rules are reported and skipped), its log sources mapped to SysFlow records, field names
//! mapped to SysFlow attributes (built in, extended or overridden by sf-processor's mapping
//! file), compiled into the engine's own condition tree beside Falco-dialect rules.
//!
//! `document` (documents of a file, collections merged) → `compile` (per rule: log source,
//! detection, condition, filters) → `detection` (search identifiers, field items, values) with
//! `condition` (the condition grammar), `modifiers`, `value` (wildcards and the
//! transformation modifiers), `logsource` (records and built-in field names) and `mapping`
//! (the field-mapping file). Case-insensitive string tests are [`crate::text`].
//! The language and its mapping are documented in `docs/sigma.md`.

pub(crate) mod compile;
mod condition;
mod detection;
pub(crate) mod document;
mod logsource;
pub(crate) mod mapping;
mod modifiers;
mod value;

use std::path::PathBuf;

/// Which rule language the files of a load are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    /// Each file by its shape: a YAML list of items is Falco's dialect, a mapping with
    /// Sigma's keys (`detection`, `logsource`, …) a Sigma rule.
    #[default]
    Auto,
    /// Falco's dialect only (a Sigma file is an error).
    Falco,
    /// Sigma only (every file is read as Sigma documents).
    Sigma,
}

impl std::str::FromStr for Language {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Language::Auto),
            "falco" => Ok(Language::Falco),
            "sigma" => Ok(Language::Sigma),
            o => Err(format!(
                "unknown rule language '{o}': expected falco, sigma or auto"
            )),
        }
    }
}

/// What [`crate::PolicyEngine::load_lang`] reads besides the rule files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LanguageOptions {
    pub language: Language,
    /// sf-processor's Sigma field-mapping file (its `"config"` key): extends and overrides
    /// the built-in mapping of Sigma field names to SysFlow attributes.
    pub sigma_config: Option<PathBuf>,
}
