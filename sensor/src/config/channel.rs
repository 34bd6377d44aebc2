//! Channel specs of `in`/`out` keys (`"<name> <type>"`) and the channel types of the
//! original; which type each plugin accepts is checked when the tree is built
//! ([`super::tree`]).

use serde::Serialize;

/// Channel types of the original; which ones a plugin accepts is checked when the tree is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ChanType {
    /// SysFlow records (driver → reader).
    SysFlow,
    /// Flat records (reader → policy engine).
    Flattener,
    /// Flat records with rule matches (policy engine → exporter).
    Event,
}

/// `"<name> <type>"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelSpec {
    pub name: String,
    pub ty: ChanType,
}

impl ChannelSpec {
    pub fn parse(s: &str) -> Result<ChannelSpec, String> {
        let mut it = s.split_whitespace();
        let (Some(name), Some(ty), None) = (it.next(), it.next(), it.next()) else {
            return Err(format!(
                "expected a channel spec \"<name> <type>\", got {s:?}"
            ));
        };
        let ty = match ty.to_ascii_lowercase().as_str() {
            "sysflowchan" => ChanType::SysFlow,
            "flattenerchan" => ChanType::Flattener,
            "eventchan" => ChanType::Event,
            other => {
                return Err(format!(
                    "channel type {other:?} is not available in sysflow-sensor (available: sysflowchan, flattenerchan, eventchan)"
                ))
            }
        };
        Ok(ChannelSpec {
            name: name.to_string(),
            ty,
        })
    }
}
