//! Every default of the pipeline configuration, in one place.

use std::time::Duration;

use super::kafka::{KafkaProps, KafkaSource};
use super::plugins::*;

/// Default `file.path` of the file exporter.
pub const FILE_PATH: &str = "./export.out";
/// Default syslog tag (MSGID).
pub const SYSLOG_TAG: &str = "sysflow";
pub const SYSLOG_HOST: &str = "localhost";
pub const SYSLOG_PORT: u16 = 514;
/// `backlog.maxbytes`: bytes of records a network exporter holds in memory while its server
/// is slow or unreachable (small enough for an agent on every host).
pub const BACKLOG_MAX_BYTES: u64 = 64 << 20;
/// Smallest `backlog.maxbytes`.
pub const BACKLOG_MIN_BYTES: u64 = 64 << 10;
/// `backlog.disk.maxbytes`: bytes of records the disk buffer (`backlog.path`) holds.
pub const BACKLOG_DISK_MAX_BYTES: u64 = 1 << 30;
/// Smallest `backlog.disk.maxbytes`.
pub const BACKLOG_DISK_MIN_BYTES: u64 = 1 << 20;
/// `backlog.whenfull`: drop the oldest, so that the freshest alerts get through.
pub const BACKLOG_WHEN_FULL: WhenFull = WhenFull::DropOldest;
/// `backlog.whenfull` of `export: kafka`: librdkafka's queue cannot give up its oldest
/// message, so the arriving one goes.
pub const KAFKA_BACKLOG_WHEN_FULL: WhenFull = WhenFull::DropNewest;
/// How long a network exporter keeps delivering at shutdown before it persists the rest to
/// its disk buffer or counts it as dropped.
pub const BACKLOG_CLOSE_DEADLINE: Duration = Duration::from_secs(10);
/// Exporter batches flush at least this often.
pub const BUFFER_FLUSH: Duration = Duration::from_secs(1);
/// Flattener time-decay filter window (`filter.maxage`, seconds as the original parses it).
pub const FILTER_MAXAGE: Duration = Duration::from_secs(24 * 3600);
/// `monitor.interval`.
pub const MONITOR_INTERVAL: Duration = Duration::from_secs(30);
/// Most policy workers `concurrency` defaults to (the original's default is 5 whatever the
/// machine).
pub const CONCURRENCY_MAX: usize = 8;

/// Default `concurrency`: the available cores, at most [`CONCURRENCY_MAX`].
pub fn concurrency() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(CONCURRENCY_MAX)
}
/// The JSON `version` field (the original injects its JSON schema version, 5).
pub const JSON_VERSION: u32 = 5;

/// Records per batch passed between stages.
pub const BATCH: usize = 1024;
/// Batches a channel between two stages holds before the producer blocks (backpressure).
pub const CHANNEL_BATCHES: usize = 64;
/// The socket driver's default path, used when `sensor run --input socket` gets no PATH.
pub const SOCKET_PATH: &str = "/sock/sysflow.sock";
/// Mode of the socket file the socket driver creates.
pub const SOCKET_MODE: u32 = 0o600;

/// librdkafka properties the Kafka exporter sets unless `kafka.config` does: sf-processor's
/// `acks: all` (its `client.id` names its OTel exporter; ours the sensor); one request in
/// flight per broker, which keeps each partition in order when librdkafka retries
/// (idempotence would too, without the duplicates a retry can make, but an idempotent
/// producer stalls for good when a broker comes back having lost its producer state, as
/// tansu's memory storage does; `docs/fleet.md`); lz4 batches; a backlog of at most
/// 100,000 messages while the brokers are away (its bytes, `queue.buffering.max.kbytes`,
/// come from `backlog.maxbytes`; librdkafka's own default is 1 GiB); statistics every
/// second, for the `retried` counter and the backlog's byte gauge.
pub const KAFKA_PRODUCER: &[(&str, &str)] = &[
    ("client.id", "sysflow-sensor"),
    ("acks", "all"),
    ("max.in.flight.requests.per.connection", "1"),
    ("compression.type", "lz4"),
    ("linger.ms", "5"),
    ("queue.buffering.max.messages", "100000"),
    ("statistics.interval.ms", "1000"),
];
/// librdkafka properties the `kafka` driver sets unless `kafka.config` does (as
/// sf-processor's driver: a group, and a new group starts at the oldest message).
pub const KAFKA_CONSUMER: &[(&str, &str)] = &[
    ("group.id", "sysflow-sensor"),
    ("client.id", "sysflow-sensor"),
    ("auto.offset.reset", "earliest"),
];
/// `kafka.epoch`: a `sysflow`-encoded stream starts over at least this often.
pub const KAFKA_EPOCH: Duration = Duration::from_secs(60);
/// `kafka.replay`: how far back a consumer reads to rebuild a partition's entity tables;
/// above [`KAFKA_EPOCH`] plus librdkafka's default `message.timeout.ms` (5 min).
pub const KAFKA_REPLAY: Duration = Duration::from_secs(600);

impl Default for KafkaSource {
    fn default() -> Self {
        let mut props = KafkaProps::default();
        for (key, v) in KAFKA_CONSUMER {
            props.set_default(key, v);
        }
        props.set("enable.auto.commit", "false");
        KafkaSource {
            props,
            topics: Vec::new(),
            replay: KAFKA_REPLAY,
        }
    }
}

impl Default for ReaderConfig {
    fn default() -> Self {
        ReaderConfig {
            filter_enabled: false,
            filter_maxage: FILTER_MAXAGE,
        }
    }
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            policies: None,
            language: PolicyLanguage::Auto,
            sigma_config: None,
            mode: PolicyMode::Alert,
            monitor: false,
            monitor_interval: MONITOR_INTERVAL,
            concurrency: concurrency(),
        }
    }
}

impl Default for BacklogConfig {
    fn default() -> Self {
        BacklogConfig {
            max_bytes: BACKLOG_MAX_BYTES,
            when_full: BACKLOG_WHEN_FULL,
            path: None,
            disk_max_bytes: BACKLOG_DISK_MAX_BYTES,
        }
    }
}

impl Default for ExporterConfig {
    fn default() -> Self {
        ExporterConfig {
            export: ExportKind::Terminal,
            records: RecordKind::Telemetry,
            format: ExportFormat::Json,
            flat: false,
            buffer: 0,
            file_path: FILE_PATH.into(),
            file_truncate: false,
            syslog_proto: SyslogProto::Tcp,
            syslog_tag: SYSLOG_TAG.into(),
            syslog_source: None,
            syslog_host: SYSLOG_HOST.into(),
            syslog_port: SYSLOG_PORT,
            syslog_ca: None,
            syslog_insecure: false,
            backlog: BacklogConfig::default(),
            kafka: None,
            version: JSON_VERSION,
            encoders: concurrency(),
        }
    }
}
