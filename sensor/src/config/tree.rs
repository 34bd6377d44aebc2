//! Channel wiring: plugins connected by `in`/`out` channel specs form a tree rooted at the
//! plugin the driver feeds; `out` arrays fan out to several consumers.

use std::collections::BTreeMap;

use serde::Serialize;

use super::channel::{ChanType, ChannelSpec};
use super::keys::Keys;
use super::plugins::{parse_driver, parse_plugin, DriverConfig, PluginConfig};
use super::raw::RawPipeline;
use super::ConfigError;

/// One plugin and the plugins fed by its output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stage {
    /// `pipeline[i] (processor)`, used in logs and counters.
    pub label: String,
    pub plugin: PluginConfig,
    pub children: Vec<Stage>,
}

/// A validated pipeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pipeline {
    /// The first entry of `drivers`, when present (the command line's `--input` wins).
    pub driver: Option<DriverConfig>,
    /// The plugin the driver writes to (a `sysflowreader`).
    pub root: Stage,
    /// `metrics.address`: where `sensor run` serves its metrics (`--metrics` wins).
    pub metrics: Option<String>,
}

struct Node {
    label: String,
    plugin: PluginConfig,
    input: ChannelSpec,
    outputs: Vec<ChannelSpec>,
}

impl Pipeline {
    pub(super) fn build(raw: &RawPipeline) -> Result<Pipeline, ConfigError> {
        let mut driver = None;
        for e in &raw.drivers {
            let name = e.kind("driver").ok_or_else(|| {
                ConfigError::bad(&format!("drivers[{}]", e.index), "driver", "missing")
            })?;
            let k = Keys::new(format!("drivers[{}] ({name})", e.index), e);
            let d = parse_driver(&k, &name)?;
            if driver.is_none() {
                driver = Some((d, k.channels("out")?));
            } else {
                tracing::warn!("{}: only the first driver runs", k.label);
            }
        }
        let mut nodes = Vec::new();
        for e in &raw.pipeline {
            let proc = e.kind("processor").ok_or_else(|| {
                ConfigError::bad(&format!("pipeline[{}]", e.index), "processor", "missing")
            })?;
            let k = Keys::new(format!("pipeline[{}] ({proc})", e.index), e);
            let plugin = parse_plugin(&k, &proc)?;
            let mut ins = k.channels("in")?;
            if ins.len() != 1 {
                return Err(k.bad("in", "every plugin reads exactly one channel"));
            }
            let input = ins.remove(0);
            let outputs = k.channels("out")?;
            let (accepts, emits): (&[ChanType], Option<ChanType>) = match plugin {
                PluginConfig::Reader(_) => (&[ChanType::SysFlow], Some(ChanType::Flattener)),
                PluginConfig::Policy(_) => (&[ChanType::Flattener], Some(ChanType::Event)),
                PluginConfig::Exporter(_) => (&[ChanType::Event, ChanType::Flattener], None),
            };
            if !accepts.contains(&input.ty) {
                return Err(k.bad(
                    "in",
                    format!("this plugin cannot read a {:?} channel", input.ty),
                ));
            }
            for o in &outputs {
                if Some(o.ty) != emits {
                    return Err(k.bad(
                        "out",
                        format!("this plugin cannot write a {:?} channel", o.ty),
                    ));
                }
            }
            nodes.push(Node {
                label: k.label.clone(),
                plugin,
                input,
                outputs,
            });
        }

        // Channels are shared by name; the first definition fixes the type.
        let mut types: BTreeMap<&str, ChanType> = BTreeMap::new();
        let mut consumer: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, n) in nodes.iter().enumerate() {
            for c in std::iter::once(&n.input).chain(&n.outputs) {
                let t = *types.entry(&c.name).or_insert(c.ty);
                if t != c.ty {
                    return Err(ConfigError::bad(
                        &n.label,
                        "in/out",
                        format!(
                            "channel {:?} was declared with another type ({t:?})",
                            c.name
                        ),
                    ));
                }
            }
            if let Some(j) = consumer.insert(&n.input.name, i) {
                return Err(ConfigError::bad(
                    &n.label,
                    "in",
                    format!(
                        "channel {:?} is already read by {}; use an \"out\" array to fan out",
                        n.input.name, nodes[j].label
                    ),
                ));
            }
        }

        // The driver writes to its `out`, else to the first plugin's input (as the original).
        let root_chan = match &driver {
            Some((_, outs)) if !outs.is_empty() => outs[0].name.clone(),
            _ => nodes[0].input.name.clone(),
        };
        let Some(&root) = consumer.get(root_chan.as_str()) else {
            return Err(ConfigError::Invalid(format!(
                "no plugin reads the driver's channel {root_chan:?}"
            )));
        };
        if !matches!(nodes[root].plugin, PluginConfig::Reader(_)) {
            return Err(ConfigError::bad(
                &nodes[root].label,
                "in",
                "the driver feeds SysFlow records; the first plugin must be a sysflowreader",
            ));
        }

        let mut visited = vec![false; nodes.len()];
        let root = build_stage(root, &nodes, &consumer, &mut visited)?;
        if let Some(i) = visited.iter().position(|v| !v) {
            return Err(ConfigError::bad(
                &nodes[i].label,
                "in",
                format!(
                    "channel {:?} is not fed by the pipeline",
                    nodes[i].input.name
                ),
            ));
        }
        Ok(Pipeline {
            driver: driver.map(|(d, _)| d),
            root,
            metrics: raw.metrics.clone(),
        })
    }
}

fn build_stage(
    i: usize,
    nodes: &[Node],
    consumer: &BTreeMap<&str, usize>,
    visited: &mut [bool],
) -> Result<Stage, ConfigError> {
    if visited[i] {
        return Err(ConfigError::bad(
            &nodes[i].label,
            "in",
            "the pipeline has a cycle",
        ));
    }
    visited[i] = true;
    let mut children = Vec::new();
    for o in &nodes[i].outputs {
        match consumer.get(o.name.as_str()) {
            Some(&j) => children.push(build_stage(j, nodes, consumer, visited)?),
            None => tracing::warn!("{}: nothing reads channel {:?}", nodes[i].label, o.name),
        }
    }
    Ok(Stage {
        label: nodes[i].label.clone(),
        plugin: nodes[i].plugin.clone(),
        children,
    })
}
