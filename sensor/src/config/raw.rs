//! The untyped form of `pipeline.json`: every plugin is a map of string keys to string values
//! (or string arrays for `in`/`out`), exactly what the original's viper reading gives.

use std::collections::BTreeMap;

use super::ConfigError;

/// A value in a plugin entry.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    Str(String),
    List(Vec<String>),
    /// Objects and other nested values (Kafka maps); only meaningful to plugins we do not have.
    Other(serde_json::Value),
}

impl RawValue {
    fn from_json(v: serde_json::Value) -> RawValue {
        use serde_json::Value as J;
        match v {
            J::String(s) => RawValue::Str(s),
            // The original reads every value as a string; accept unquoted numbers and booleans.
            J::Number(n) => RawValue::Str(n.to_string()),
            J::Bool(b) => RawValue::Str(b.to_string()),
            J::Array(a) if a.iter().all(|x| x.is_string()) => RawValue::List(
                a.into_iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
            ),
            other => RawValue::Other(other),
        }
    }
}

/// One plugin or driver entry, in file order.
#[derive(Debug, Clone, Default)]
pub struct RawEntry {
    /// Position in its array (0-based), for messages.
    pub index: usize,
    pub keys: BTreeMap<String, RawValue>,
}

impl RawEntry {
    /// The `processor` (plugins) or `driver` (drivers) name, lower-cased.
    pub fn kind(&self, field: &str) -> Option<String> {
        match self.keys.get(field) {
            Some(RawValue::Str(s)) => Some(s.trim().to_ascii_lowercase()),
            _ => None,
        }
    }
}

/// The whole file.
#[derive(Debug, Clone, Default)]
pub struct RawPipeline {
    pub pipeline: Vec<RawEntry>,
    pub drivers: Vec<RawEntry>,
    /// `metrics.address`: where `sensor run` serves its metrics (ours; not sf-processor's).
    pub metrics: Option<String>,
}

impl RawPipeline {
    /// Parses the JSON text; errors give line and column.
    pub fn parse(text: &str) -> Result<RawPipeline, ConfigError> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            ConfigError::Invalid(format!(
                "not valid JSON at line {}, column {}: {e}",
                e.line(),
                e.column()
            ))
        })?;
        let serde_json::Value::Object(top) = v else {
            return Err(ConfigError::Invalid(
                "expected a JSON object with a \"pipeline\" array".into(),
            ));
        };
        let mut out = RawPipeline::default();
        for (k, v) in top {
            match k.as_str() {
                "pipeline" => out.pipeline = entries(&k, v)?,
                "drivers" => out.drivers = entries(&k, v)?,
                "metrics" => out.metrics = metrics(v)?,
                // `_comment` and other top-level keys are ignored, as by the original.
                _ => tracing::debug!("ignoring top-level key {k:?}"),
            }
        }
        if out.pipeline.is_empty() {
            return Err(ConfigError::Invalid(
                "the \"pipeline\" array is missing or empty".into(),
            ));
        }
        Ok(out)
    }
}

/// `"metrics": {"address": "HOST:PORT"}`; the address is checked when it is used.
fn metrics(v: serde_json::Value) -> Result<Option<String>, ConfigError> {
    let serde_json::Value::Object(m) = v else {
        return Err(ConfigError::bad(
            "metrics",
            "metrics",
            "expected an object such as {\"address\": \"127.0.0.1:9090\"}",
        ));
    };
    let mut address = None;
    for (k, v) in m {
        match (k.as_str(), v) {
            ("address", serde_json::Value::String(a)) => address = Some(a),
            ("address", _) => {
                return Err(ConfigError::bad(
                    "metrics",
                    "address",
                    "expected a string HOST:PORT",
                ))
            }
            (other, _) => {
                return Err(ConfigError::bad(
                    "metrics",
                    other,
                    "unknown key (the metrics object has only \"address\")",
                ))
            }
        }
    }
    Ok(address)
}

fn entries(name: &str, v: serde_json::Value) -> Result<Vec<RawEntry>, ConfigError> {
    let serde_json::Value::Array(items) = v else {
        return Err(ConfigError::Invalid(format!("\"{name}\" must be an array")));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let serde_json::Value::Object(m) = item else {
                return Err(ConfigError::Invalid(format!(
                    "\"{name}\"[{index}] must be an object"
                )));
            };
            Ok(RawEntry {
                index,
                keys: m
                    .into_iter()
                    .map(|(k, v)| (k, RawValue::from_json(v)))
                    .collect(),
            })
        })
        .collect()
}

/// Applies `<PLUGIN>_<KEY>` overrides (reference §7.4): the variable name is lower-cased and
/// split at the first `_`; when the prefix equals a plugin's `processor`, the rest with `_`
/// turned into `.` is set on every plugin of that name. Drivers are not overridable.
pub fn apply_env(raw: &mut RawPipeline, env: impl IntoIterator<Item = (String, String)>) {
    for (name, value) in env {
        let lower = name.to_ascii_lowercase();
        let Some((prefix, rest)) = lower.split_once('_') else {
            continue;
        };
        if rest.is_empty() {
            continue;
        }
        let key = rest.replace('_', ".");
        for entry in raw.pipeline.iter_mut() {
            if entry.kind("processor").as_deref() == Some(prefix) {
                tracing::info!("environment {name} sets {prefix}.{key}");
                entry.keys.insert(key.clone(), RawValue::Str(value.clone()));
            }
        }
    }
}
