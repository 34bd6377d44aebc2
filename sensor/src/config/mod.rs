//! `pipeline.json` as sf-processor reads it (reference §7.4), in both generations of its keys.
//!
//! Loading goes raw JSON → per-plugin string maps ([`raw`]) → `<PLUGIN>_<KEY>` environment
//! overrides ([`raw::apply_env`]) → typed configs ([`plugins`]) → a validated channel tree
//! ([`tree`]). Every default lives in [`defaults`]; the built-in pipeline and rules
//! (`conf/`, compiled in) in [`builtin`].

pub mod builtin;
mod channel;
pub mod defaults;
pub mod kafka;
mod keys;
pub mod plugins;
pub mod raw;
pub mod tree;

pub use kafka::{KafkaEncoding, KafkaExport, KafkaKey, KafkaProps, KafkaSource};
pub use plugins::{
    BacklogConfig, DriverConfig, DriverKind, EventsSetting, ExportFormat, ExportKind,
    ExporterConfig, PluginConfig, PolicyConfig, PolicyLanguage, PolicyMode, ReaderConfig,
    RecordKind, SocketOwner, SyslogProto, WhenFull,
};
pub use tree::{Pipeline, Stage};

use std::path::Path;

use anyhow::Context;

/// Error in a pipeline description; the message always names the plugin (or driver) and key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{plugin}: key \"{key}\": {msg}")]
    BadValue {
        plugin: String,
        key: String,
        msg: String,
    },
    #[error("{0}")]
    Invalid(String),
}

impl ConfigError {
    pub(crate) fn bad(plugin: &str, key: &str, msg: impl Into<String>) -> Self {
        ConfigError::BadValue {
            plugin: plugin.to_string(),
            key: key.to_string(),
            msg: msg.into(),
        }
    }
}

/// Reads and validates a pipeline file, applying the process environment's overrides.
pub fn load_file(path: &Path) -> anyhow::Result<Pipeline> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read pipeline file {}", path.display()))?;
    load_str(&text, std::env::vars())
        .with_context(|| format!("invalid pipeline file {}", path.display()))
}

/// Parses a pipeline description with the given environment (for overrides).
pub fn load_str(
    text: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Pipeline, ConfigError> {
    let mut raw = raw::RawPipeline::parse(text)?;
    raw::apply_env(&mut raw, env);
    tree::Pipeline::build(&raw)
}

#[cfg(test)]
mod tests;
