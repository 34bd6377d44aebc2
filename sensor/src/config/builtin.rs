//! The built-in pipeline (`sensor run` without `--config`): reader → flattener → policy engine
//! with the built-in rules → JSON alerts on the terminal. Its description and rules come from
//! `conf/` and are compiled in; `<PLUGIN>_<KEY>` overrides apply to it as to a file.

use crate::config::{self, Pipeline};

/// `conf/pipeline.json`.
pub const PIPELINE: &str = include_str!("../../../conf/pipeline.json");

/// The built-in rule files (`conf/policies/*.yaml`), in load order.
pub const RULES: &[(&str, &str)] = &[(
    "default.yaml",
    include_str!("../../../conf/policies/default.yaml"),
)];

/// The built-in pipeline with the environment's overrides.
pub fn pipeline() -> anyhow::Result<Pipeline> {
    config::load_str(PIPELINE, std::env::vars())
        .map_err(|e| anyhow::anyhow!("built-in pipeline: {e}"))
}
