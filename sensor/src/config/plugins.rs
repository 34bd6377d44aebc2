//! Typed configuration of each plugin and driver; defaults are in [`super::defaults`].

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::defaults;
use super::kafka::{self, KafkaExport, KafkaSource};
use super::keys::Keys;
use super::ConfigError;
use crate::source::ebpf::{classes, filter::comm_keys};

/// `sysflowreader` (handler `flattener`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReaderConfig {
    /// `filter.enabled`: the flattener's time-decay duplicate filter (reference §4.3).
    pub filter_enabled: bool,
    /// `filter.maxage`, in seconds as the original parses it.
    pub filter_maxage: Duration,
}

/// What the policy engine forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PolicyMode {
    /// Only records that match at least one rule.
    Alert,
    /// Every record no filter drops, matched ones carrying their rules.
    Enrich,
    /// Every record no filter drops, without rule matches (older key generation).
    Filter,
}

/// `language` of the policy engine: which rule language its files are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PolicyLanguage {
    /// Each file by its shape: Falco's dialect (a YAML list) or Sigma (a rule mapping).
    Auto,
    Falco,
    Sigma,
}

/// `policyengine`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyConfig {
    /// `policies`: a rule file or a directory of them; `None` = the built-in rules in alert
    /// mode, no rule evaluation at all (bypass) in enrich/filter mode.
    pub policies: Option<PathBuf>,
    /// `language`: `falco`, `sigma`, or absent/`auto` (each file by its shape).
    pub language: PolicyLanguage,
    /// `config`: sf-processor's Sigma field-mapping file (extends the built-in mapping).
    pub sigma_config: Option<PathBuf>,
    pub mode: PolicyMode,
    /// `monitor: local`: watch `policies` and reload on change.
    pub monitor: bool,
    /// `monitor.interval`: accepted and not used: reloads here are driven by file events and
    /// apply as soon as the files settle (the original polls and swaps at most this often).
    pub monitor_interval: Duration,
    /// `concurrency`: policy evaluation workers (never more than the available cores are
    /// started). Output keeps input order whatever the number
    /// output keeps input order (the original's workers reorder records).
    pub concurrency: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ExportKind {
    Terminal,
    File,
    Syslog,
    Kafka,
    Null,
}

/// `type`: which records an exporter writes (older key generation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RecordKind {
    /// Only records with at least one matched rule.
    Alert,
    /// Everything that reaches the exporter.
    Telemetry,
}

/// The exporter's `format`: how each record is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ExportFormat {
    /// sf-processor's JSON (nested, or flat with `flat: true`).
    Json,
    /// Elastic Common Schema.
    Ecs,
    /// Falco's JSON alert (one per matched rule; alerts only).
    Falco,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SyslogProto {
    Udp,
    Tcp,
    Tls,
}

/// `backlog.whenfull`: what a full backlog does with the next record (Vector's `when_full`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum WhenFull {
    /// Drop the oldest records not yet handed to the server (in memory; on disk, the oldest
    /// whole segment not being delivered).
    DropOldest,
    /// Drop the arriving record.
    DropNewest,
    /// Wait for room: the exporter stops taking records, its channel fills, and the pipeline
    /// slows down back to the source.
    Block,
}

/// The backlog of a network transport (`export: syslog`): records wait here until the server
/// has taken them. Bounded in bytes; with `backlog.path`, what cannot be delivered goes to a
/// disk buffer that survives a restart (docs/run.md, "Delivery guarantees").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BacklogConfig {
    /// `backlog.maxbytes`: bytes of records held in memory.
    pub max_bytes: u64,
    /// `backlog.whenfull`: `drop_oldest`, `drop_newest` or `block`.
    pub when_full: WhenFull,
    /// `backlog.path`: the disk buffer's directory (one per exporter); none = memory only.
    pub path: Option<PathBuf>,
    /// `backlog.disk.maxbytes`: bytes of records the disk buffer holds.
    pub disk_max_bytes: u64,
}

/// `exporter`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExporterConfig {
    pub export: ExportKind,
    pub records: RecordKind,
    pub format: ExportFormat,
    /// `flat: true`: one flat JSON object keyed by the full `sf.*` names.
    pub flat: bool,
    /// `buffer`: records per write; 0 = write each record at once. Batches flush after 1 s.
    pub buffer: usize,
    pub file_path: PathBuf,
    /// `file.truncate`: empty the file at startup (the original always deletes it; here the
    /// default is to append so that a restart never destroys earlier alerts).
    pub file_truncate: bool,
    pub syslog_proto: SyslogProto,
    pub syslog_tag: String,
    /// `syslog.source`: replaces the HOSTNAME field.
    pub syslog_source: Option<String>,
    pub syslog_host: String,
    pub syslog_port: u16,
    /// `syslog.ca`: PEM file of the CA(s) that sign the TLS server's certificate
    /// (default: the system bundle).
    pub syslog_ca: Option<PathBuf>,
    /// `syslog.insecure`: skip TLS certificate verification, as the original does.
    pub syslog_insecure: bool,
    /// `backlog.*`: how a network transport holds what its server has not taken yet.
    pub backlog: BacklogConfig,
    /// The `kafka.*` keys, with `export: kafka`.
    pub kafka: Option<KafkaExport>,
    /// `version`: the JSON `version` field.
    pub version: u32,
    /// `encoders`: threads encoding documents (batches in parallel, written in order);
    /// 1 encodes on the stage thread.
    pub encoders: usize,
}

/// One plugin of the pipeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum PluginConfig {
    Reader(ReaderConfig),
    Policy(PolicyConfig),
    Exporter(Box<ExporterConfig>),
}

/// Where records come from: a driver entry's `driver`, and `sensor run --input`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
pub enum DriverKind {
    /// A trace file or a directory of them (read once, in name order).
    File,
    /// A Unix SOCK_SEQPACKET socket a collector connects to.
    Socket,
    /// The sensor's own eBPF probes (sf-collector's job, done in-process).
    Ebpf,
    /// SysFlow datums from Kafka topics, as one member of a consumer group.
    Kafka,
}

/// One entry of the optional `drivers` array.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriverConfig {
    pub driver: DriverKind,
    pub path: Option<PathBuf>,
    /// `owner` (socket driver): `UID[:GID]` given to the socket file.
    pub owner: Option<SocketOwner>,
    /// `mode` (socket driver): octal mode of the socket file.
    pub mode: Option<u32>,
    /// `filereadmode` (ebpf driver, sf-collector's FILE_READ_MODE): 2 = suppress read-only
    /// file flows under system directories, 1 = all read-only flows, 0 = none.
    pub file_read_mode: Option<u8>,
    /// `ringsize` (ebpf driver): bytes per ring buffer, a power of two.
    pub ring_size: Option<u32>,
    /// `cpusperring` (ebpf driver): CPUs sharing one ring buffer.
    pub cpus_per_ring: Option<u32>,
    /// `excludecomms` (ebpf driver): comma-separated process names (comm, at most 15 bytes,
    /// at most 64) whose file and network I/O the probes skip in the kernel.
    pub exclude_comms: Vec<String>,
    /// `events` (ebpf driver): comma-separated syscall event classes reported besides the
    /// process life cycle (`setuid`, `file`, `net`, `all`, `none`), or `auto`; `None` = all.
    pub events: Option<EventsSetting>,
    /// The `kafka.*` keys of a kafka driver.
    pub kafka: Option<KafkaSource>,
}

/// The ebpf driver's `events` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EventsSetting {
    /// These classes (`sensor_ebpf_common::classes` bits).
    Classes(u32),
    /// What the pipeline's rules can use: only alert-mode policy stages narrow it.
    Auto,
}

/// Owner of the socket file, `UID[:GID]` (numeric ids); without a GID the group is left as
/// created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SocketOwner {
    pub uid: u32,
    pub gid: Option<u32>,
}

impl std::str::FromStr for SocketOwner {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("expected UID or UID:GID (numeric ids), got {s:?}");
        let (u, g) = match s.trim().split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (s.trim(), None),
        };
        let uid = u.parse().map_err(|_| bad())?;
        let gid = g.map(|g| g.parse().map_err(|_| bad())).transpose()?;
        Ok(SocketOwner { uid, gid })
    }
}

/// An octal file mode such as `0600` (at most `0777`).
pub fn parse_mode(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s.trim().trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| format!("expected an octal file mode such as 0600, got {s:?}"))
}

/// Plugin names of the original that this build does not have, with what to use instead.
const MISSING_PLUGINS: &[(&str, &str)] = &[(
    "sysflowprocessor",
    "use \"sysflowreader\" with handler \"flattener\"",
)];

pub(super) fn parse_plugin(k: &Keys<'_>, processor: &str) -> Result<PluginConfig, ConfigError> {
    let cfg = match processor {
        "sysflowreader" => PluginConfig::Reader(parse_reader(k)?),
        "policyengine" => PluginConfig::Policy(parse_policy(k)?),
        "exporter" => PluginConfig::Exporter(Box::new(parse_exporter(k)?)),
        other => {
            let hint = MISSING_PLUGINS
                .iter()
                .find(|(n, _)| *n == other)
                .map(|(_, h)| format!(" ({h})"))
                .unwrap_or_default();
            return Err(k.bad(
                "processor",
                format!(
                    "plugin {other:?} is not available in sysflow-sensor{hint}; available: sysflowreader, policyengine, exporter"
                ),
            ));
        }
    };
    k.warn_unused();
    Ok(cfg)
}

fn parse_reader(k: &Keys<'_>) -> Result<ReaderConfig, ConfigError> {
    let d = ReaderConfig::default();
    match k.str("handler", &[])? {
        None => {}
        Some((_, h)) if h.trim().eq_ignore_ascii_case("flattener") => {}
        Some((key, h)) => {
            return Err(k.bad(
                key,
                format!("handler {h:?} is not available; the only handler is \"flattener\""),
            ))
        }
    }
    let secs: u64 = k.parse(
        "filter.maxage",
        &[],
        "a number of seconds",
        d.filter_maxage.as_secs(),
    )?;
    Ok(ReaderConfig {
        filter_enabled: k.flag("filter.enabled", d.filter_enabled)?,
        filter_maxage: Duration::from_secs(secs),
    })
}

fn parse_policy(k: &Keys<'_>) -> Result<PolicyConfig, ConfigError> {
    let d = PolicyConfig::default();
    let language = k.choice(
        "language",
        &[],
        &[
            ("falco", PolicyLanguage::Falco),
            ("sigma", PolicyLanguage::Sigma),
            ("auto", PolicyLanguage::Auto),
        ],
        d.language,
    )?;
    let path = |key| -> Result<Option<PathBuf>, ConfigError> {
        Ok(k.str(key, &[])?
            .map(|(_, p)| PathBuf::from(p.trim()))
            .filter(|p| !p.as_os_str().is_empty()))
    };
    let policies = path("policies")?;
    let sigma_config = path("config")?;
    if language == PolicyLanguage::Falco && sigma_config.is_some() {
        tracing::warn!(
            "{}: \"config\" (a Sigma field mapping) is not used with \"language\": \"falco\"",
            k.label
        );
    }
    let mode = k.choice(
        "mode",
        &[],
        &[
            ("alert", PolicyMode::Alert),
            ("enrich", PolicyMode::Enrich),
            ("filter", PolicyMode::Filter),
        ],
        d.mode,
    )?;
    let monitor = k.choice(
        "monitor",
        &[],
        &[("none", false), ("local", true)],
        d.monitor,
    )?;
    let interval: u64 = k.parse(
        "monitor.interval",
        &[],
        "a number of seconds",
        d.monitor_interval.as_secs(),
    )?;
    let concurrency: usize = k.parse("concurrency", &[], "a positive integer", d.concurrency)?;
    if concurrency == 0 {
        return Err(k.bad("concurrency", "expected a positive integer, got 0"));
    }
    // Accepted without effect: actions are compiled in.
    let _ = k.str("actiondir", &[])?;
    if monitor && policies.is_none() {
        return Err(k.bad("monitor", "\"local\" needs a \"policies\" path to watch"));
    }
    Ok(PolicyConfig {
        policies,
        language,
        sigma_config,
        mode,
        monitor,
        monitor_interval: Duration::from_secs(interval),
        concurrency,
    })
}

/// Keys the exporter reads only for other transports, or for formats this build does not have.
const FOREIGN_PREFIXES: &[&str] = &["es.", "findings.", "kafka.", "vault.", "otel."];

fn parse_exporter(k: &Keys<'_>) -> Result<ExporterConfig, ConfigError> {
    let d = ExporterConfig::default();
    let export = match k.str("export", &[])? {
        None => d.export,
        Some((key, v)) => match v.trim().to_ascii_lowercase().as_str() {
            "terminal" => ExportKind::Terminal,
            "file" => ExportKind::File,
            "syslog" => ExportKind::Syslog,
            "kafka" => ExportKind::Kafka,
            "null" => ExportKind::Null,
            "es" | "findings" => {
                return Err(k.bad(
                    key,
                    format!("export {v:?} is not available in sysflow-sensor (available: terminal, file, syslog, kafka, null)"),
                ))
            }
            _ => return Err(k.bad(key, format!("expected one of terminal, file, syslog, kafka, null, got {v:?}"))),
        },
    };
    let format = match k.str("format", &[])? {
        None => d.format,
        Some((key, v)) => match v.trim().to_ascii_lowercase().as_str() {
            "json" => ExportFormat::Json,
            "ecs" => ExportFormat::Ecs,
            "falco" => ExportFormat::Falco,
            "otel" | "occurrence" => {
                return Err(k.bad(
                    key,
                    format!(
                    "format {v:?} is not available in sysflow-sensor (available: json, ecs, falco)"
                ),
                ))
            }
            _ => return Err(k.bad(key, format!("expected one of json, ecs, falco, got {v:?}"))),
        },
    };
    let records = k.choice(
        "type",
        &[],
        &[
            ("alert", RecordKind::Alert),
            ("telemetry", RecordKind::Telemetry),
        ],
        d.records,
    )?;
    let syslog_proto = k.choice(
        "syslog.proto",
        &["proto"],
        &[
            ("udp", SyslogProto::Udp),
            ("tcp", SyslogProto::Tcp),
            ("tls", SyslogProto::Tls),
            ("tcp+tls", SyslogProto::Tls),
        ],
        d.syslog_proto,
    )?;
    let string = |key: &'static str, alias: &'static str| -> Result<Option<String>, ConfigError> {
        let aliases: &[&str] = if alias.is_empty() {
            &[]
        } else {
            std::slice::from_ref(&alias)
        };
        Ok(k.str(key, aliases)?.map(|(_, v)| v.trim().to_string()))
    };
    let mut backlog = parse_backlog(k, export)?;
    let kafka = match export {
        ExportKind::Kafka => Some(kafka::parse_export(k, &mut backlog)?),
        _ => None,
    };
    let cfg = ExporterConfig {
        export,
        records,
        format,
        flat: k.flag("flat", d.flat)?,
        buffer: k.parse("buffer", &[], "a number of records", d.buffer)?,
        file_path: string("file.path", "path")?
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .unwrap_or(d.file_path),
        file_truncate: k.flag("file.truncate", d.file_truncate)?,
        syslog_proto,
        syslog_tag: string("syslog.tag", "tag")?.unwrap_or(d.syslog_tag),
        syslog_source: string("syslog.source", "source")?.filter(|s| !s.is_empty()),
        syslog_host: string("syslog.host", "host")?
            .filter(|s| !s.is_empty())
            .unwrap_or(d.syslog_host),
        syslog_port: k.parse(
            "syslog.port",
            &["port"],
            "a port number (1-65535)",
            d.syslog_port,
        )?,
        syslog_ca: string("syslog.ca", "")?
            .filter(|s| !s.is_empty())
            .map(PathBuf::from),
        syslog_insecure: k.flag("syslog.insecure", d.syslog_insecure)?,
        backlog,
        kafka,
        version: k.parse("version", &[], "an integer", d.version)?,
        encoders: k.parse("encoders", &[], "a positive integer", d.encoders)?,
    };
    if cfg.encoders == 0 {
        return Err(k.bad("encoders", "expected a positive integer, got 0"));
    }
    if cfg.syslog_port == 0 {
        return Err(k.bad("syslog.port", "expected a port number (1-65535), got 0"));
    }
    if cfg.syslog_tag.contains(' ') || cfg.syslog_tag.len() > 32 {
        return Err(k.bad(
            "syslog.tag",
            "a syslog MSGID is at most 32 printable characters without spaces",
        ));
    }
    // Injected by the original's build manifest or meaningful only to other transports.
    for key in [
        "jsonschemaversion",
        "ecsversion",
        "buildnumber",
        "cluster.id",
    ] {
        let _ = k.str(key, &[]);
    }
    if export == ExportKind::Kafka {
        // Misspelt kafka.* keys are reported when Kafka is the transport.
        let others: Vec<&str> = FOREIGN_PREFIXES
            .iter()
            .copied()
            .filter(|p| *p != "kafka.")
            .collect();
        k.mark_prefixes(&others);
    } else {
        k.mark_prefixes(FOREIGN_PREFIXES);
    }
    Ok(cfg)
}

/// The `backlog.*` keys; an error where the transport has no backlog. `export: kafka` has
/// the memory bound, the when-full policy (`drop_oldest` is not possible: without a disk
/// buffer librdkafka's queue holds the records) and the disk buffer, for every encoding.
fn parse_backlog(k: &Keys<'_>, export: ExportKind) -> Result<BacklogConfig, ConfigError> {
    let kafka = export == ExportKind::Kafka;
    let d = BacklogConfig {
        when_full: if kafka {
            defaults::KAFKA_BACKLOG_WHEN_FULL
        } else {
            defaults::BACKLOG_WHEN_FULL
        },
        ..BacklogConfig::default()
    };
    if let Some((key, _)) = k.str("syslog.backlog", &[])? {
        tracing::warn!(
            "{}: key {key:?} (a record count) is replaced by \"backlog.maxbytes\" (bytes); ignored",
            k.label
        );
    }
    let size = |key: &'static str, min: u64, default: u64| -> Result<u64, ConfigError> {
        match k.str(key, &[])? {
            None => Ok(default),
            Some((key, v)) => match parse_size(v) {
                Ok(n) if n >= min => Ok(n),
                Ok(_) => Err(k.bad(key, format!("expected at least {min} bytes, got {v:?}"))),
                Err(e) => Err(k.bad(key, e)),
            },
        }
    };
    let cfg = BacklogConfig {
        max_bytes: size("backlog.maxbytes", defaults::BACKLOG_MIN_BYTES, d.max_bytes)?,
        when_full: k.choice(
            "backlog.whenfull",
            &[],
            &[
                ("drop_oldest", WhenFull::DropOldest),
                ("drop_newest", WhenFull::DropNewest),
                ("block", WhenFull::Block),
            ],
            d.when_full,
        )?,
        path: k
            .str("backlog.path", &[])?
            .map(|(_, p)| PathBuf::from(p.trim()))
            .filter(|p| !p.as_os_str().is_empty()),
        disk_max_bytes: size(
            "backlog.disk.maxbytes",
            defaults::BACKLOG_DISK_MIN_BYTES,
            d.disk_max_bytes,
        )?,
    };
    if kafka {
        if cfg.when_full == WhenFull::DropOldest {
            return Err(k.bad(
                "backlog.whenfull",
                "export: kafka cannot drop its oldest record (librdkafka's queue holds them); use drop_newest or block",
            ));
        }
        return Ok(cfg);
    }
    if cfg != d && export != ExportKind::Syslog {
        let key = [
            "backlog.maxbytes",
            "backlog.whenfull",
            "backlog.path",
            "backlog.disk.maxbytes",
        ]
        .into_iter()
        .find(|key| matches!(k.str(key, &[]), Ok(Some(_))))
        .unwrap_or("backlog.maxbytes");
        return Err(k.bad(
            key,
            "only network transports (export: syslog, kafka) have a backlog",
        ));
    }
    Ok(cfg)
}

/// A size in bytes: a whole number, optionally followed by `KiB`, `MiB` or `GiB` (also
/// `K`, `M`, `G`; powers of 1024), e.g. `64MiB`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        _ => {
            return Err(format!(
                "expected a size such as 67108864 or 64MiB, got {s:?}"
            ))
        }
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("expected a size such as 67108864 or 64MiB, got {s:?}"))
}

pub(super) fn parse_driver(k: &Keys<'_>, driver: &str) -> Result<DriverConfig, ConfigError> {
    let kind = match driver {
        "file" => DriverKind::File,
        "socket" => DriverKind::Socket,
        "ebpf" => DriverKind::Ebpf,
        "kafka" => DriverKind::Kafka,
        other => {
            return Err(k.bad(
                "driver",
                format!(
                    "driver {other:?} is not available in sysflow-sensor (available: file, socket, ebpf, kafka)"
                ),
            ))
        }
    };
    let kafka = match kind {
        DriverKind::Kafka => Some(kafka::parse_source(k)?),
        _ => None,
    };
    let path = k.str("path", &[])?.map(|(_, p)| PathBuf::from(p.trim()));
    let owner = match k.str("owner", &[])? {
        Some((key, v)) => Some(v.parse().map_err(|e: String| k.bad(key, e))?),
        None => None,
    };
    let mode = match k.str("mode", &[])? {
        Some((key, v)) => Some(parse_mode(v).map_err(|e| k.bad(key, e))?),
        None => None,
    };
    if kind != DriverKind::Socket {
        if let Some(key) = [("owner", owner.is_some()), ("mode", mode.is_some())]
            .iter()
            .find_map(|(n, set)| set.then_some(*n))
        {
            return Err(k.bad(key, "only the socket driver creates a file"));
        }
    }
    // A number that must pass `ok`, else an error saying what was expected.
    let checked = |key: &'static str, alias: &'static str, ok: fn(u32) -> bool, what: &str| {
        k.str(key, &[alias])?
            .map(|(key, v)| {
                v.trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| ok(*n))
                    .ok_or_else(|| k.bad(key, format!("expected {what}, got {v:?}")))
            })
            .transpose()
    };
    let file_read_mode =
        checked("filereadmode", "file.read.mode", |m| m <= 2, "0, 1 or 2")?.map(|m| m as u8);
    let ring_size = checked(
        "ringsize",
        "ring.size",
        |n| n.is_power_of_two() && n >= 4096,
        "a power of two of at least 4096 bytes",
    )?;
    let cpus_per_ring = checked(
        "cpusperring",
        "cpus.per.ring",
        |n| n >= 1,
        "a whole number >= 1",
    )?;
    let exclude_comms = match k.str("excludecomms", &["exclude.comms"])? {
        Some((key, v)) => {
            let names: Vec<String> = v
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(String::from)
                .collect();
            comm_keys(&names).map_err(|e| k.bad(key, e.to_string()))?;
            Some(names)
        }
        None => None,
    };
    let events = match k.str("events", &[])? {
        Some((_, v)) if v.trim() == "auto" => Some(EventsSetting::Auto),
        Some((key, v)) => Some(EventsSetting::Classes(
            classes::parse(v).map_err(|e| k.bad(key, e))?,
        )),
        None => None,
    };
    if kind != DriverKind::Ebpf {
        if let Some(key) = [
            ("events", events.is_some()),
            ("filereadmode", file_read_mode.is_some()),
            ("ringsize", ring_size.is_some()),
            ("cpusperring", cpus_per_ring.is_some()),
            ("excludecomms", exclude_comms.is_some()),
        ]
        .iter()
        .find_map(|(n, set)| set.then_some(*n))
        {
            return Err(k.bad(key, "only the ebpf driver has this setting"));
        }
    } else if path.is_some() {
        return Err(k.bad("path", "the ebpf driver watches the host and reads no path"));
    }
    if kind == DriverKind::Kafka && path.is_some() {
        return Err(k.bad(
            "path",
            "the kafka driver reads kafka.config's bootstrap.servers and kafka.topics",
        ));
    }
    k.warn_unused();
    Ok(DriverConfig {
        driver: kind,
        path,
        owner,
        mode,
        file_read_mode,
        ring_size,
        cpus_per_ring,
        exclude_comms: exclude_comms.unwrap_or_default(),
        events,
        kafka,
    })
}
