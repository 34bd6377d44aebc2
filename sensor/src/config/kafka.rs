//! The Kafka keys of the exporter (`export: kafka`) and of the `kafka` driver, as
//! sf-processor names them: `kafka.config` (librdkafka properties, `bootstrap.servers` among
//! them), `kafka.topic` (exporter), `kafka.topics` (driver), `kafka.encoding`; and ours:
//! `kafka.key`, `kafka.node`, `kafka.epoch` (exporter) and `kafka.replay` (driver).

use std::time::Duration;

use serde::Serialize;

use super::defaults;
use super::keys::Keys;
use super::{BacklogConfig, ConfigError};

/// librdkafka properties in the order given. Printed (`sensor run --check`) with the values
/// of secrets (`*password*`, `*secret*`, `*.key.pem`, …) hidden.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KafkaProps(pub Vec<(String, String)>);

impl KafkaProps {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Sets `key` unless it is already set.
    pub fn set_default(&mut self, key: &str, value: &str) {
        if self.get(key).is_none() {
            self.0.push((key.to_string(), value.to_string()));
        }
    }

    /// Sets `key`, replacing any value.
    pub fn set(&mut self, key: &str, value: &str) {
        self.0.retain(|(k, _)| k != key);
        self.0.push((key.to_string(), value.to_string()));
    }
}

fn is_secret(key: &str) -> bool {
    ["password", "secret", "key.pem", "token"]
        .iter()
        .any(|s| key.contains(s))
}

impl Serialize for KafkaProps {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            let v = if is_secret(k) { "***" } else { v.as_str() };
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// `kafka.encoding`: what each message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum KafkaEncoding {
    /// The document `format` gives (JSON, flat JSON or ECS), one per record.
    Json,
    /// A bare v5 SysFlow datum per message, as on the collector's socket: the records and
    /// the entities they reference, for `sensor run --input kafka` to read.
    Sysflow,
}

/// `kafka.key`: the message key, which decides the partition (and so the order kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum KafkaKey {
    /// The node name (`kafka.node`): a host's records stay in order in one partition.
    Node,
    /// `node/container-id` (the node name alone outside containers): one container's
    /// records stay in order; a host's spread over partitions.
    Container,
    /// No key (sf-processor's behaviour): the client spreads messages over partitions and
    /// no order is kept. Not with the `sysflow` encoding.
    None,
}

/// The exporter's Kafka settings (`export: kafka`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KafkaExport {
    /// `kafka.config` with our defaults filled in ([`defaults::KAFKA_PRODUCER`]).
    pub props: KafkaProps,
    pub topic: String,
    pub encoding: KafkaEncoding,
    pub key: KafkaKey,
    /// `kafka.node`: the node name in message keys; `None` = the host name.
    pub node: Option<String>,
    /// `kafka.epoch` (`sysflow` encoding): each key's stream starts over (a header, then the
    /// entities again as records need them) at least this often, so that a consumer that
    /// takes a partition over needs to read back only this far.
    pub epoch: Duration,
}

/// The `kafka` driver's settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KafkaSource {
    /// `kafka.config` with our defaults ([`defaults::KAFKA_CONSUMER`]); offsets are always
    /// committed by the driver (`enable.auto.commit` is forced off).
    pub props: KafkaProps,
    /// `kafka.topics`.
    pub topics: Vec<String>,
    /// `kafka.replay`: how far back (by message time) a consumer that is assigned a
    /// partition reads to rebuild the entity tables of the records after its committed
    /// offset. Must exceed the producers' `kafka.epoch` plus their `message.timeout.ms`.
    pub replay: Duration,
}

fn seconds(k: &Keys<'_>, key: &'static str, default: Duration) -> Result<Duration, ConfigError> {
    let s: u64 = k.parse(key, &[], "a number of seconds", default.as_secs())?;
    if s == 0 {
        return Err(k.bad(key, "expected a positive number of seconds"));
    }
    Ok(Duration::from_secs(s))
}

/// `kafka.config` with the defaults under it.
fn props(k: &Keys<'_>, defaults: &[(&str, &str)]) -> Result<KafkaProps, ConfigError> {
    let mut p = KafkaProps(k.props("kafka.config")?.unwrap_or_default());
    for (key, v) in defaults {
        p.set_default(key, v);
    }
    Ok(p)
}

/// librdkafka's bound on the bytes it queues: the Kafka exporter's `backlog.maxbytes`.
const QUEUE_KBYTES: &str = "queue.buffering.max.kbytes";

/// The exporter's Kafka keys (only read with `export: kafka`). `backlog.maxbytes` becomes
/// librdkafka's `queue.buffering.max.kbytes`; one given under `kafka.config` instead becomes
/// the backlog's bound (both given is an error), so the two always agree.
pub(super) fn parse_export(
    k: &Keys<'_>,
    backlog: &mut BacklogConfig,
) -> Result<KafkaExport, ConfigError> {
    let mut props = props(k, defaults::KAFKA_PRODUCER)?;
    match props.get(QUEUE_KBYTES).map(|v| v.trim().parse::<u64>()) {
        Some(_) if k.str("backlog.maxbytes", &[])?.is_some() => {
            return Err(k.bad(
                "backlog.maxbytes",
                "kafka.config also sets \"queue.buffering.max.kbytes\"; give only one of them",
            ))
        }
        Some(Ok(kb)) if kb > 0 => backlog.max_bytes = kb.saturating_mul(1024),
        Some(_) => {
            return Err(k.bad(
                "kafka.config",
                "\"queue.buffering.max.kbytes\" must be a positive whole number",
            ))
        }
        None => props.set(QUEUE_KBYTES, &(backlog.max_bytes / 1024).to_string()),
    }
    if props.get("bootstrap.servers").is_none_or(str::is_empty) {
        return Err(k.bad(
            "kafka.config",
            "no \"bootstrap.servers\": give the brokers as host:port[,host:port]",
        ));
    }
    let topic = match k.str("kafka.topic", &[])? {
        Some((_, t)) if !t.trim().is_empty() => t.trim().to_string(),
        _ => return Err(k.bad("kafka.topic", "no topic given")),
    };
    let encoding = match k.str("kafka.encoding", &[])? {
        None => KafkaEncoding::Json,
        Some((key, v)) => match v.trim().to_ascii_lowercase().as_str() {
            "json" => KafkaEncoding::Json,
            "sysflow" | "avro" => KafkaEncoding::Sysflow,
            "proto" => {
                return Err(k.bad(
                    key,
                    "\"proto\" is the OpenTelemetry encoding of sf-processor's otel format, which sysflow-sensor does not have; use json or sysflow",
                ))
            }
            _ => return Err(k.bad(key, format!("expected json or sysflow, got {v:?}"))),
        },
    };
    let key = k.choice(
        "kafka.key",
        &[],
        &[
            ("node", KafkaKey::Node),
            ("host", KafkaKey::Node),
            ("container", KafkaKey::Container),
            ("none", KafkaKey::None),
        ],
        KafkaKey::Node,
    )?;
    if key == KafkaKey::None && encoding == KafkaEncoding::Sysflow {
        return Err(k.bad(
            "kafka.key",
            "the sysflow encoding needs keyed messages (node or container): a stream's entities must reach its consumer before its records",
        ));
    }
    let node = k
        .str("kafka.node", &[])?
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty());
    Ok(KafkaExport {
        props,
        topic,
        encoding,
        key,
        node,
        epoch: seconds(k, "kafka.epoch", defaults::KAFKA_EPOCH)?,
    })
}

/// The `kafka` driver's keys. `bootstrap.servers` and the topics may also come from the
/// command line, so their absence is checked when the driver starts.
pub(super) fn parse_source(k: &Keys<'_>) -> Result<KafkaSource, ConfigError> {
    let mut props = props(k, defaults::KAFKA_CONSUMER)?;
    if props.get("enable.auto.commit") == Some("true") {
        tracing::warn!(
            "{}: ignoring enable.auto.commit: the driver commits offsets once the exporters have taken the records",
            k.label
        );
    }
    props.set("enable.auto.commit", "false");
    if let Some((key, e)) = k.str("kafka.encoding", &[])? {
        if !matches!(e.trim(), "sysflow" | "avro") {
            return Err(k.bad(
                key,
                format!("the kafka driver reads the sysflow encoding only, got {e:?}"),
            ));
        }
    }
    Ok(KafkaSource {
        props,
        topics: k.list("kafka.topics")?.unwrap_or_default(),
        replay: seconds(k, "kafka.replay", defaults::KAFKA_REPLAY)?,
    })
}

impl KafkaSource {
    /// Applies `sensor run --input kafka BROKERS/TOPIC[,TOPIC]` over the entry's settings
    /// (`None` = the entry's as they are), and checks that brokers and topics are known.
    pub fn with_target(mut self, target: Option<&str>) -> Result<KafkaSource, String> {
        if let Some(t) = target {
            let t = t.strip_prefix("kafka://").unwrap_or(t);
            let Some((brokers, topics)) = t.split_once('/') else {
                return Err(format!(
                    "expected BROKERS/TOPIC (host:port[,host:port]/topic[,topic]), got {t:?}"
                ));
            };
            if !brokers.is_empty() {
                self.props.set("bootstrap.servers", brokers);
            }
            let topics: Vec<String> = topics
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            if !topics.is_empty() {
                self.topics = topics;
            }
        }
        if self
            .props
            .get("bootstrap.servers")
            .is_none_or(str::is_empty)
        {
            return Err(
                "no Kafka brokers: give them as sensor run --input kafka host:port/topic, or in the kafka driver's kafka.config (bootstrap.servers)".into(),
            );
        }
        if self.topics.is_empty() {
            return Err("no Kafka topic: give it as sensor run --input kafka host:port/topic, or in the kafka driver's kafka.topics".into());
        }
        Ok(self)
    }
}

impl KafkaProps {
    /// A librdkafka client configuration with these properties.
    pub fn client_config(&self) -> rdkafka::ClientConfig {
        let mut c = rdkafka::ClientConfig::new();
        for (k, v) in &self.0 {
            c.set(k, v);
        }
        // librdkafka's own log lines reach ours (at most debug: `RUST_LOG=debug` shows them).
        c.set_log_level(rdkafka::config::RDKafkaLogLevel::Info);
        c
    }
}

/// Passes a librdkafka log line on to `tracing` (what `ClientContext::log` does for the
/// exporter and the driver). Only the gravest stay errors; the rest, connection failures
/// included, are debug: librdkafka repeats them on every reconnection attempt, and the
/// exporter and the driver log once per outage what it means for the records.
pub fn librdkafka_log(label: &str, level: rdkafka::config::RDKafkaLogLevel, fac: &str, msg: &str) {
    use rdkafka::config::RDKafkaLogLevel as L;
    match level {
        L::Emerg | L::Alert | L::Critical => tracing::error!("{label}: librdkafka {fac}: {msg}"),
        _ => tracing::debug!("{label}: librdkafka {fac}: {msg}"),
    }
}
