//! The Falco dialect: Falco's field names mapped to SysFlow ([`fields`]) and Falco's output
//! templates ([`output`]). A rule file is in the Falco dialect when it declares
//! `required_engine_version` or `required_plugin_versions` (every Falco rule file does, no
//! SysFlow one does); its conditions then read Falco's fields with Falco's meaning and
//! `pmatch` is Falco's path-prefix match.

pub mod fields;
pub mod output;
