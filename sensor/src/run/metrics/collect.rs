//! What `/metrics` shows: the pipeline's counters read from the [`Registry`] at each scrape
//! (a `prometheus-client` [`Collector`]), so every counter a stage or source registers shows
//! without a list here, and the build info.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::metrics::MetricType;

use super::State;
use crate::pipeline::Registry;

/// Reads the pipeline's counters at each scrape.
#[derive(Debug)]
pub(super) struct Pipeline {
    pub state: Arc<State>,
}

/// Every metric name starts with this (`sysflow_stage_records_in_total`, …).
pub const PREFIX: &str = "sysflow";

/// The registry the endpoint encodes: the pipeline's counters and the build info.
pub(super) fn registry(state: Arc<State>) -> prometheus_client::registry::Registry {
    let mut r = prometheus_client::registry::Registry::with_prefix(PREFIX);
    let probes = if crate::source::ebpf::object::probes().is_some() {
        "embedded"
    } else {
        "absent"
    };
    r.register(
        "build",
        "The sensor's version and whether its eBPF probes are built in",
        Info::new(vec![
            ("version", env!("CARGO_PKG_VERSION")),
            ("probes", probes),
        ]),
    );
    r.register_collector(Box::new(Pipeline { state }));
    r
}

/// One metric family with the label `key` and a value per label value.
fn family(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    key: &str,
    values: &[(&str, u64)],
) -> std::fmt::Result {
    if values.is_empty() {
        return Ok(());
    }
    let mut m = enc.encode_descriptor(name, help.trim_end_matches('.'), None, kind)?;
    for (label, v) in values {
        let labels = [(key, *label)];
        value(kind, *v, m.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Encodes `v` as a counter or a gauge.
fn value(kind: MetricType, v: u64, m: MetricEncoder) -> std::fmt::Result {
    match kind {
        MetricType::Gauge => ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX)).encode(m),
        _ => ConstCounter::new(v).encode(m),
    }
}

impl Collector for Pipeline {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        let reg: &Registry = &self.state.registry;
        let stages = reg.stages();
        // Per-stage counters, one family per counter (`sysflow_stage_alerts_total{stage=…}`).
        if let Some(first) = stages.first() {
            for (i, c) in first.counters().iter().enumerate() {
                let values: Vec<(&str, u64)> = stages
                    .iter()
                    .map(|s| (s.label.as_str(), s.counters()[i].value.load(Relaxed)))
                    .collect();
                let name = format!("stage_{}", c.metric);
                family(
                    &mut enc,
                    &name,
                    c.help,
                    MetricType::Counter,
                    "stage",
                    &values,
                )?;
            }
        }
        // Backlogs of network exporters (`backlog.*`): only the stages that have one.
        let buffered: Vec<_> = stages
            .iter()
            .filter(|s| s.backlog.enabled.load(Relaxed))
            .collect();
        if let Some(first) = buffered.first() {
            for (i, (name, _)) in first.buffer_counters().iter().enumerate() {
                let values: Vec<(&str, u64)> = buffered
                    .iter()
                    .map(|s| (s.label.as_str(), s.buffer_counters()[i].1.load(Relaxed)))
                    .collect();
                let (kind, help) = backlog_help(name);
                family(
                    &mut enc,
                    &format!("stage_{name}"),
                    help,
                    kind,
                    "stage",
                    &values,
                )?;
            }
        }
        // Queue depths, in batches of up to `BATCH` records.
        let queues = reg.queues();
        let depth: Vec<(&str, u64)> = queues
            .iter()
            .map(|(l, d, _)| (l.as_str(), *d as u64))
            .collect();
        family(
            &mut enc,
            "queue_batches",
            "Batches waiting in the stage's input channel.",
            MetricType::Gauge,
            "stage",
            &depth,
        )?;
        let cap: Vec<(&str, u64)> = queues
            .iter()
            .map(|(l, _, c)| (l.as_str(), *c as u64))
            .collect();
        family(
            &mut enc,
            "queue_capacity_batches",
            "Batches the stage's input channel holds before its producer blocks.",
            MetricType::Gauge,
            "stage",
            &cap,
        )?;
        // The input: its connections (socket driver) and readiness.
        let input = self.state.input_name();
        family(
            &mut enc,
            "input_connections",
            "Collectors connected to the socket input now (0 for other inputs).",
            MetricType::Gauge,
            "input",
            &[(input, self.state.connections())],
        )?;
        family(
            &mut enc,
            "ready",
            "1 when the pipeline runs and its input is connected (what /readyz answers).",
            MetricType::Gauge,
            "input",
            &[(input, u64::from(self.state.readiness().is_ok()))],
        )?;
        // The source's own counters (the eBPF collector's), grouped by name.
        let samples = reg.source_samples();
        let mut names: Vec<&str> = Vec::new();
        for s in &samples {
            if !names.contains(&s.name) {
                names.push(s.name);
            }
        }
        for name in names {
            let of: Vec<_> = samples.iter().filter(|s| s.name == name).collect();
            let first = of[0];
            let kind = if first.gauge {
                MetricType::Gauge
            } else {
                MetricType::Counter
            };
            match first.label {
                None => value(
                    kind,
                    first.value,
                    enc.encode_descriptor(name, first.help.trim_end_matches('.'), None, kind)?,
                )?,
                Some((key, _)) => {
                    let values: Vec<(&str, u64)> = of
                        .iter()
                        .filter_map(|s| s.label.map(|l| (l.1, s.value)))
                        .collect();
                    family(&mut enc, name, first.help, kind, key, &values)?;
                }
            }
        }
        Ok(())
    }
}

/// Kind and help text of a backlog counter ([`crate::pipeline::StageStats::buffer_counters`]).
fn backlog_help(name: &str) -> (MetricType, &'static str) {
    match name {
        "backlog_records" => (
            MetricType::Gauge,
            "Records held that the server has not confirmed.",
        ),
        "backlog_bytes" => (MetricType::Gauge, "Bytes of the records held."),
        "backlog_disk_bytes" => (
            MetricType::Gauge,
            "Bytes of the disk buffer's segment files.",
        ),
        "persisted" => (MetricType::Counter, "Records written to the disk buffer."),
        "dropped_full" => (
            MetricType::Counter,
            "Records dropped because the backlog was full.",
        ),
        "dropped_shutdown" => (
            MetricType::Counter,
            "Records neither delivered nor persisted at the shutdown deadline.",
        ),
        "dropped_corrupt" => (
            MetricType::Counter,
            "Records lost to a damaged disk-buffer segment.",
        ),
        _ => (MetricType::Counter, "A backlog counter."),
    }
}
