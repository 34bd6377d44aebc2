//! Typed reading of one plugin's string keys, with errors that name the plugin and the key.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::str::FromStr;

use super::channel::ChannelSpec;
use super::raw::{RawEntry, RawValue};
use super::ConfigError;

/// Keys every plugin entry may carry besides its own.
const STRUCTURAL: &[&str] = &["processor", "driver", "handler", "in", "out", "_comment"];

/// Reader over one entry; remembers which keys were used so the rest can be reported.
pub struct Keys<'a> {
    pub label: String,
    entry: &'a RawEntry,
    used: RefCell<BTreeSet<&'a str>>,
}

impl<'a> Keys<'a> {
    pub fn new(label: String, entry: &'a RawEntry) -> Self {
        Keys {
            label,
            entry,
            used: RefCell::new(BTreeSet::new()),
        }
    }

    pub fn bad(&self, key: &str, msg: impl Into<String>) -> ConfigError {
        ConfigError::bad(&self.label, key, msg)
    }

    /// The string value of `key`, or of the first alias present (older key generation).
    /// Returns the key actually found, for messages.
    pub fn str(
        &self,
        key: &'a str,
        aliases: &[&'a str],
    ) -> Result<Option<(&'a str, &'a str)>, ConfigError> {
        for k in std::iter::once(&key).chain(aliases.iter()) {
            if let Some((name, v)) = self.entry.keys.get_key_value(*k) {
                self.used.borrow_mut().insert(name.as_str());
                return match v {
                    RawValue::Str(s) => Ok(Some((name.as_str(), s.as_str()))),
                    RawValue::List(_) | RawValue::Other(_) => {
                        Err(self.bad(name, "expected a string value"))
                    }
                };
            }
        }
        Ok(None)
    }

    /// `key` parsed with `FromStr`, or `default`.
    pub fn parse<T: FromStr>(
        &self,
        key: &'a str,
        aliases: &[&'a str],
        what: &str,
        default: T,
    ) -> Result<T, ConfigError> {
        match self.str(key, aliases)? {
            None => Ok(default),
            Some((k, v)) => v
                .trim()
                .parse()
                .map_err(|_| self.bad(k, format!("expected {what}, got {v:?}"))),
        }
    }

    /// `key` as one of a fixed set of words (case-insensitive), or `default`.
    pub fn choice<T: Copy>(
        &self,
        key: &'a str,
        aliases: &[&'a str],
        choices: &[(&str, T)],
        default: T,
    ) -> Result<T, ConfigError> {
        match self.str(key, aliases)? {
            None => Ok(default),
            Some((k, v)) => {
                let w = v.trim().to_ascii_lowercase();
                choices
                    .iter()
                    .find(|(name, _)| *name == w)
                    .map(|(_, t)| *t)
                    .ok_or_else(|| {
                        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
                        self.bad(
                            k,
                            format!("expected one of {}, got {v:?}", names.join(", ")),
                        )
                    })
            }
        }
    }

    /// A boolean in any of the spellings the original's configs use.
    pub fn flag(&self, key: &'a str, default: bool) -> Result<bool, ConfigError> {
        self.choice(
            key,
            &[],
            &[
                ("true", true),
                ("on", true),
                ("yes", true),
                ("1", true),
                ("false", false),
                ("off", false),
                ("no", false),
                ("0", false),
            ],
            default,
        )
    }

    /// `key` as a map of string properties (Kafka's `kafka.config`): a JSON object whose
    /// values are strings, numbers or booleans, each read as a string. Keys `key.<name>`
    /// (how `<PLUGIN>_KAFKA_CONFIG_<NAME>` environment overrides arrive) add to it and win.
    pub fn props(&self, key: &'a str) -> Result<Option<Vec<(String, String)>>, ConfigError> {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut found = false;
        if let Some((name, v)) = self.entry.keys.get_key_value(key) {
            self.used.borrow_mut().insert(name.as_str());
            found = true;
            let RawValue::Other(serde_json::Value::Object(m)) = v else {
                return Err(self.bad(key, "expected a JSON object of properties"));
            };
            for (k, v) in m {
                let v = match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Number(n) => n.to_string(),
                    serde_json::Value::Bool(b) => b.to_string(),
                    _ => {
                        return Err(self.bad(
                            key,
                            format!("property {k:?}: expected a string, number or boolean"),
                        ))
                    }
                };
                out.push((k.clone(), v));
            }
        }
        let prefix = format!("{key}.");
        for (name, v) in &self.entry.keys {
            let Some(prop) = name.strip_prefix(&prefix) else {
                continue;
            };
            let RawValue::Str(v) = v else {
                return Err(self.bad(name, "expected a string value"));
            };
            self.used.borrow_mut().insert(name.as_str());
            found = true;
            out.retain(|(k, _)| k != prop);
            out.push((prop.to_string(), v.clone()));
        }
        Ok(found.then_some(out))
    }

    /// A list of strings: a JSON array of them, or one comma-separated string.
    pub fn list(&self, key: &'a str) -> Result<Option<Vec<String>>, ConfigError> {
        let Some((name, v)) = self.entry.keys.get_key_value(key) else {
            return Ok(None);
        };
        self.used.borrow_mut().insert(name.as_str());
        let items: Vec<String> = match v {
            RawValue::Str(s) => s.split(',').map(|x| x.trim().to_string()).collect(),
            RawValue::List(l) => l.iter().map(|x| x.trim().to_string()).collect(),
            RawValue::Other(_) => {
                return Err(self.bad(key, "expected a string or an array of strings"))
            }
        };
        Ok(Some(items.into_iter().filter(|x| !x.is_empty()).collect()))
    }

    /// Logs every key no reader asked for (the original ignores them silently).
    pub fn warn_unused(&self) {
        let used = self.used.borrow();
        for k in self.entry.keys.keys() {
            if !used.contains(k.as_str()) && !STRUCTURAL.contains(&k.as_str()) {
                tracing::warn!("{}: ignoring key {k:?}", self.label);
            }
        }
    }

    /// Marks every key starting with one of `prefixes` as used (no warning): they belong to
    /// transports this build does not have and are rejected where they would matter.
    pub fn mark_prefixes(&self, prefixes: &[&str]) {
        for k in self.entry.keys.keys() {
            if prefixes.iter().any(|p| k.starts_with(p)) {
                self.used.borrow_mut().insert(k.as_str());
            }
        }
    }

    /// Channel specs of `in` or `out` (a string or an array of strings).
    pub fn channels(&self, key: &'a str) -> Result<Vec<ChannelSpec>, ConfigError> {
        let specs: Vec<&str> = match self.entry.keys.get(key) {
            None => return Ok(Vec::new()),
            Some(RawValue::Str(s)) => vec![s.as_str()],
            Some(RawValue::List(l)) => l.iter().map(String::as_str).collect(),
            Some(RawValue::Other(_)) => {
                return Err(self.bad(
                    key,
                    "expected a channel spec \"<name> <type>\" or an array of them",
                ))
            }
        };
        specs
            .into_iter()
            .map(|s| ChannelSpec::parse(s).map_err(|m| self.bad(key, m)))
            .collect()
    }
}
