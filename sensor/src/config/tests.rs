use super::*;

const NEW: &str = r#"{"pipeline":[
  {"processor":"sysflowreader","handler":"flattener","in":"sysflow sysflowchan","out":"flat flattenerchan"},
  {"processor":"policyengine","in":"flat flattenerchan","out":"evt eventchan","policies":"/p","mode":"enrich"},
  {"processor":"exporter","in":"evt eventchan","export":"syslog","format":"json",
   "syslog.proto":"udp","syslog.tag":"sf","syslog.host":"h","syslog.port":"5514"}]}"#;

fn env(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn exporter(p: &Pipeline) -> &ExporterConfig {
    let mut s = &p.root;
    loop {
        if let PluginConfig::Exporter(e) = &s.plugin {
            return e;
        }
        s = &s.children[0];
    }
}

#[test]
fn new_keys_parse() {
    let p = load_str(NEW, env(&[])).unwrap();
    let e = exporter(&p);
    assert_eq!(e.export, ExportKind::Syslog);
    assert_eq!(e.syslog_proto, SyslogProto::Udp);
    assert_eq!(e.syslog_port, 5514);
    assert_eq!(e.syslog_tag, "sf");
    let PluginConfig::Policy(pc) = &p.root.children[0].plugin else {
        panic!()
    };
    assert_eq!(pc.mode, PolicyMode::Enrich);
}

#[test]
fn old_keys_parse() {
    let old = r#"{"pipeline":[
      {"processor":"sysflowreader","handler":"flattener","in":"sysflow sysflowchan","out":"flat flattenerchan"},
      {"processor":"policyengine","in":"flat flattenerchan","out":"evt eventchan","policies":"/p","mode":"filter"},
      {"processor":"exporter","in":"evt eventchan","export":"syslog","type":"alert","format":"json","flat":"true",
       "proto":"tcp+tls","tag":"t","source":"me","host":"h2","port":"6514","buffer":"10"}]}"#;
    let p = load_str(old, env(&[])).unwrap();
    let e = exporter(&p);
    assert_eq!(e.syslog_proto, SyslogProto::Tls);
    assert_eq!(e.records, RecordKind::Alert);
    assert!(e.flat);
    assert_eq!(e.buffer, 10);
    assert_eq!(e.syslog_source.as_deref(), Some("me"));
    assert_eq!(e.syslog_host, "h2");
    assert_eq!(e.syslog_port, 6514);
}

#[test]
fn env_overrides_apply_to_named_plugin() {
    let p = load_str(
        NEW,
        env(&[
            ("EXPORTER_SYSLOG_HOST", "other"),
            ("EXPORTER_SYSLOG_PORT", "1514"),
            ("POLICYENGINE_MODE", "alert"),
            ("HOME", "/root"),
        ]),
    )
    .unwrap();
    assert_eq!(exporter(&p).syslog_host, "other");
    assert_eq!(exporter(&p).syslog_port, 1514);
    let PluginConfig::Policy(pc) = &p.root.children[0].plugin else {
        panic!()
    };
    assert_eq!(pc.mode, PolicyMode::Alert);
}

#[test]
fn bad_value_names_plugin_and_key() {
    let e = load_str(NEW, env(&[("EXPORTER_SYSLOG_PORT", "nope")]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("pipeline[2] (exporter)") && e.contains("syslog.port"),
        "{e}"
    );
    let e = load_str(NEW, env(&[("POLICYENGINE_MODE", "bogus")]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("policyengine") && e.contains("\"mode\""), "{e}");
}

#[test]
fn unknown_plugin_is_named() {
    let t = NEW.replace("\"policyengine\"", "\"myplugin\"");
    let e = load_str(&t, env(&[])).unwrap_err().to_string();
    assert!(e.contains("\"myplugin\" is not available"), "{e}");
}

#[test]
fn out_array_fans_out() {
    let t = r#"{"pipeline":[
      {"processor":"sysflowreader","in":"sysflow sysflowchan","out":["a flattenerchan","b flattenerchan"]},
      {"processor":"policyengine","in":"a flattenerchan","out":"e1 eventchan","policies":"/p"},
      {"processor":"exporter","in":"e1 eventchan"},
      {"processor":"exporter","in":"b flattenerchan","export":"null"}]}"#;
    let p = load_str(t, env(&[])).unwrap();
    assert_eq!(p.root.children.len(), 2);
    assert_eq!(p.root.children[0].children.len(), 1);
}

#[test]
fn two_readers_of_one_channel_rejected() {
    let t = r#"{"pipeline":[
      {"processor":"sysflowreader","in":"sysflow sysflowchan","out":"a flattenerchan"},
      {"processor":"exporter","in":"a flattenerchan"},
      {"processor":"exporter","in":"a flattenerchan"}]}"#;
    let e = load_str(t, env(&[])).unwrap_err().to_string();
    assert!(e.contains("already read"), "{e}");
}

fn with_driver(driver: &str) -> String {
    NEW.replacen(
        "{\"pipeline\":[",
        &format!("{{\"drivers\":[{driver}],\"pipeline\":["),
        1,
    )
}

#[test]
fn ebpf_driver_takes_the_collector_settings() {
    let p = load_str(
        &with_driver(
            r#"{"driver":"ebpf","filereadmode":"0","ringsize":"1048576","cpusperring":"1"}"#,
        ),
        env(&[]),
    )
    .unwrap();
    let d = p.driver.as_ref().unwrap();
    assert_eq!(d.driver, DriverKind::Ebpf);
    assert_eq!(
        (d.file_read_mode, d.ring_size, d.cpus_per_ring),
        (Some(0), Some(1 << 20), Some(1))
    );
    // Without settings the collector's defaults apply.
    let p = load_str(&with_driver(r#"{"driver":"ebpf"}"#), env(&[])).unwrap();
    let d = p.driver.as_ref().unwrap();
    assert_eq!(
        (d.file_read_mode, d.ring_size, d.cpus_per_ring),
        (None, None, None)
    );
}

#[test]
fn ebpf_driver_settings_are_checked() {
    for (entry, key, what) in [
        (
            r#"{"driver":"ebpf","filereadmode":"3"}"#,
            "filereadmode",
            "0, 1 or 2",
        ),
        (
            r#"{"driver":"ebpf","ringsize":"5000"}"#,
            "ringsize",
            "power of two",
        ),
        (
            r#"{"driver":"ebpf","cpusperring":"0"}"#,
            "cpusperring",
            ">= 1",
        ),
        (r#"{"driver":"ebpf","path":"/x"}"#, "path", "reads no path"),
        (
            r#"{"driver":"socket","ringsize":"4096"}"#,
            "ringsize",
            "only the ebpf driver",
        ),
        (r#"{"driver":"collector"}"#, "driver", "file, socket, ebpf"),
    ] {
        let e = load_str(&with_driver(entry), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains(key) && e.contains(what), "{entry}: {e}");
    }
}

#[test]
fn ebpf_driver_excludecomms_is_a_checked_list_of_names() {
    let p = load_str(
        &with_driver(r#"{"driver":"ebpf","excludecomms":"sfx-quiet, nginx,,exactly15bytes!"}"#),
        env(&[]),
    )
    .unwrap();
    let d = p.driver.as_ref().unwrap();
    assert_eq!(d.exclude_comms, ["sfx-quiet", "nginx", "exactly15bytes!"]);
    // Without the key nothing is excluded.
    let p = load_str(&with_driver(r#"{"driver":"ebpf"}"#), env(&[])).unwrap();
    assert!(p.driver.as_ref().unwrap().exclude_comms.is_empty());

    let too_many: Vec<String> = (0..65).map(|i| format!("n{i}")).collect();
    let too_many = format!(
        r#"{{"driver":"ebpf","excludecomms":"{}"}}"#,
        too_many.join(",")
    );
    for (entry, what) in [
        (
            // 16 bytes: the kernel keeps 15, so it could never match.
            r#"{"driver":"ebpf","excludecomms":"ok,sixteen-bytes-xx"}"#,
            "\"sixteen-bytes-xx\" is longer than 15 bytes",
        ),
        (too_many.as_str(), "65 process names"),
        (
            r#"{"driver":"socket","excludecomms":"nginx"}"#,
            "only the ebpf driver",
        ),
        (
            r#"{"driver":"file","excludecomms":"nginx"}"#,
            "only the ebpf driver",
        ),
    ] {
        let e = load_str(&with_driver(entry), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("excludecomms") && e.contains(what),
            "{entry}: {e}"
        );
    }
}

#[test]
fn ebpf_driver_events_selects_the_reported_classes() {
    use sensor_ebpf_common::classes::{FILE, NET};
    let p = load_str(
        &with_driver(r#"{"driver":"ebpf","events":"net, file"}"#),
        env(&[]),
    )
    .unwrap();
    let d = p.driver.as_ref().unwrap();
    assert_eq!(d.events, Some(super::EventsSetting::Classes(FILE | NET)));
    let p = load_str(
        &with_driver(r#"{"driver":"ebpf","events":"none"}"#),
        env(&[]),
    )
    .unwrap();
    assert_eq!(
        p.driver.as_ref().unwrap().events,
        Some(super::EventsSetting::Classes(0))
    );
    let p = load_str(
        &with_driver(r#"{"driver":"ebpf","events":"auto"}"#),
        env(&[]),
    )
    .unwrap();
    assert_eq!(
        p.driver.as_ref().unwrap().events,
        Some(super::EventsSetting::Auto)
    );
    // Without the key: the collector's default (every class; `source::live::options`).
    let p = load_str(&with_driver(r#"{"driver":"ebpf"}"#), env(&[])).unwrap();
    assert_eq!(p.driver.as_ref().unwrap().events, None);
    for (entry, what) in [
        (
            r#"{"driver":"ebpf","events":"file,procs"}"#,
            "unknown event class \"procs\"",
        ),
        (r#"{"driver":"ebpf","events":""}"#, "empty list"),
        (
            r#"{"driver":"socket","events":"file"}"#,
            "only the ebpf driver",
        ),
    ] {
        let e = load_str(&with_driver(entry), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("events") && e.contains(what), "{entry}: {e}");
    }
}

#[test]
fn policy_language_and_sigma_mapping_keys() {
    let with =
        |extra: &str| NEW.replace(r#""mode":"enrich""#, &format!(r#""mode":"enrich"{extra}"#));
    let policy = |p: &Pipeline| match &p.root.children[0].plugin {
        PluginConfig::Policy(pc) => pc.clone(),
        _ => panic!(),
    };
    let pc = policy(&load_str(NEW, env(&[])).unwrap());
    assert_eq!((pc.language, pc.sigma_config), (PolicyLanguage::Auto, None));
    // sf-processor's Sigma entry.
    let text = with(r#","language":"sigma","config":"/etc/sf/sigma/sysflow.yml""#);
    let pc = policy(&load_str(&text, env(&[])).unwrap());
    assert_eq!(pc.language, PolicyLanguage::Sigma);
    assert_eq!(
        pc.sigma_config.as_deref(),
        Some(std::path::Path::new("/etc/sf/sigma/sysflow.yml"))
    );
    let pc = policy(&load_str(NEW, env(&[("POLICYENGINE_LANGUAGE", "Falco")])).unwrap());
    assert_eq!(pc.language, PolicyLanguage::Falco);
    let err = load_str(&with(r#","language":"yara""#), env(&[]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("language") && err.contains("falco, sigma, auto"),
        "{err}"
    );
}

#[test]
fn backlog_keys_parse_with_defaults_sizes_and_env_overrides() {
    let p = load_str(NEW, env(&[])).unwrap();
    assert_eq!(exporter(&p).backlog, BacklogConfig::default());
    assert_eq!(exporter(&p).backlog.max_bytes, 64 << 20);
    let p = load_str(
        NEW,
        env(&[
            ("EXPORTER_BACKLOG_MAXBYTES", "4MiB"),
            ("EXPORTER_BACKLOG_WHENFULL", "block"),
            ("EXPORTER_BACKLOG_PATH", "/var/lib/sensor/backlog"),
            ("EXPORTER_BACKLOG_DISK_MAXBYTES", "2g"),
            ("EXPORTER_SYSLOG_BACKLOG", "5"),
        ]),
    )
    .unwrap();
    let b = &exporter(&p).backlog;
    assert_eq!(b.max_bytes, 4 << 20);
    assert_eq!(b.when_full, WhenFull::Block);
    assert_eq!(
        b.path.as_deref(),
        Some(std::path::Path::new("/var/lib/sensor/backlog"))
    );
    assert_eq!(b.disk_max_bytes, 2 << 30);
}

#[test]
fn backlog_errors_name_the_key() {
    for (k, v, want) in [
        ("EXPORTER_BACKLOG_MAXBYTES", "64MB", "64MiB"),
        ("EXPORTER_BACKLOG_MAXBYTES", "1024", "at least 65536 bytes"),
        ("EXPORTER_BACKLOG_MAXBYTES", "99999999999G", "64MiB"),
        (
            "EXPORTER_BACKLOG_WHENFULL",
            "drop",
            "drop_oldest, drop_newest, block",
        ),
        (
            "EXPORTER_BACKLOG_DISK_MAXBYTES",
            "1KiB",
            "at least 1048576 bytes",
        ),
    ] {
        let e = load_str(NEW, env(&[(k, v)])).unwrap_err().to_string();
        assert!(e.contains(want), "{k}={v}: {e}");
    }
    // Only network transports have a backlog.
    let file = NEW.replace(r#""export":"syslog""#, r#""export":"file""#);
    let e = load_str(&file, env(&[("EXPORTER_BACKLOG_PATH", "/b")]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("backlog.path") && e.contains("network"), "{e}");
}

fn kafka_exporter(keys: &str) -> Result<Pipeline, ConfigError> {
    let text = format!(
        r#"{{"pipeline":[
  {{"processor":"sysflowreader","in":"sysflow sysflowchan","out":"flat flattenerchan"}},
  {{"processor":"exporter","in":"flat flattenerchan","export":"kafka"{keys}}}]}}"#
    );
    load_str(&text, env(&[("EXPORTER_KAFKA_CONFIG_LINGER_MS", "50")]))
}

#[test]
fn kafka_exporter_keys_as_sf_processor_names_them() {
    let p = kafka_exporter(
        r#","kafka.topic":"sf","kafka.encoding":"sysflow","kafka.key":"container",
           "kafka.config":{"bootstrap.servers":"k1:9092,k2:9092","acks":1,"sasl.password":"pw"}"#,
    )
    .unwrap();
    let k = exporter(&p).kafka.as_ref().unwrap();
    assert_eq!(exporter(&p).export, ExportKind::Kafka);
    assert_eq!(k.topic, "sf");
    assert_eq!(k.encoding, KafkaEncoding::Sysflow);
    assert_eq!(k.key, KafkaKey::Container);
    assert_eq!(k.epoch, defaults::KAFKA_EPOCH);
    // Given values win over our defaults, numbers read as strings; the environment adds.
    assert_eq!(k.props.get("bootstrap.servers"), Some("k1:9092,k2:9092"));
    assert_eq!(k.props.get("acks"), Some("1"));
    assert_eq!(k.props.get("compression.type"), Some("lz4"));
    assert_eq!(k.props.get("linger.ms"), Some("50"));
    // `--check` shows the configuration without its secrets.
    let shown = serde_json::to_string(&p).unwrap();
    assert!(
        shown.contains("k1:9092") && !shown.contains("\"pw\""),
        "{shown}"
    );
}

#[test]
fn kafka_exporter_settings_are_checked() {
    for (keys, what) in [
        (r#","kafka.topic":"sf""#, "bootstrap.servers"),
        (
            r#","kafka.config":{"bootstrap.servers":"k:9092"}"#,
            "kafka.topic",
        ),
        (
            r#","kafka.topic":"t","kafka.encoding":"proto","kafka.config":{"bootstrap.servers":"k:9092"}"#,
            "otel",
        ),
        (
            r#","kafka.topic":"t","kafka.encoding":"sysflow","kafka.key":"none","kafka.config":{"bootstrap.servers":"k:9092"}"#,
            "keyed",
        ),
        (
            r#","kafka.topic":"t","kafka.config":"k:9092""#,
            "JSON object",
        ),
    ] {
        let e = kafka_exporter(keys).unwrap_err().to_string();
        assert!(e.contains(what), "{keys}: {e}");
    }
}

#[test]
fn kafka_exporter_backlog_is_librdkafkas_queue() {
    let brokers = r#","kafka.topic":"t","kafka.config":{"bootstrap.servers":"k:9092"}"#;
    // Defaults: 64 MiB = 65536 KiB of librdkafka's queue, and drop_newest.
    let p = kafka_exporter(brokers).unwrap();
    let (b, k) = (&exporter(&p).backlog, exporter(&p).kafka.as_ref().unwrap());
    assert_eq!(b.max_bytes, 64 << 20);
    assert_eq!(b.when_full, WhenFull::DropNewest);
    assert_eq!(k.props.get("queue.buffering.max.kbytes"), Some("65536"));
    // backlog.maxbytes becomes the queue's bound; block is accepted.
    let p = kafka_exporter(&format!(
        r#"{brokers},"backlog.maxbytes":"2MiB","backlog.whenfull":"block""#
    ))
    .unwrap();
    let (b, k) = (&exporter(&p).backlog, exporter(&p).kafka.as_ref().unwrap());
    assert_eq!(b.when_full, WhenFull::Block);
    assert_eq!(k.props.get("queue.buffering.max.kbytes"), Some("2048"));
    // The queue's bound given under kafka.config becomes the backlog's.
    let p = kafka_exporter(
        r#","kafka.topic":"t","kafka.config":{"bootstrap.servers":"k:9092","queue.buffering.max.kbytes":"1024"}"#,
    )
    .unwrap();
    assert_eq!(exporter(&p).backlog.max_bytes, 1 << 20);
    let e = kafka_exporter(&format!(r#"{brokers},"backlog.whenfull":"drop_oldest""#))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("backlog.whenfull") && e.contains("drop_newest or block"),
        "{e}"
    );
    // With either encoding, backlog.path is the disk buffer's directory.
    for encoding in ["json", "sysflow"] {
        let p = kafka_exporter(&format!(
            r#"{brokers},"kafka.encoding":"{encoding}","backlog.path":"/var/lib/sensor/kafka","backlog.disk.maxbytes":"2GiB""#
        ))
        .unwrap();
        let b = &exporter(&p).backlog;
        assert_eq!(
            b.path.as_deref(),
            Some(std::path::Path::new("/var/lib/sensor/kafka"))
        );
        assert_eq!(b.disk_max_bytes, 2 << 30);
    }
    let e = kafka_exporter(
        r#","kafka.topic":"t","backlog.maxbytes":"1MiB","kafka.config":{"bootstrap.servers":"k:9092","queue.buffering.max.kbytes":"1024"}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("only one"), "{e}");
}

#[test]
fn kafka_driver_entry_and_command_line_target() {
    let p = load_str(
        &with_driver(
            r#"{"driver":"kafka","kafka.topics":["a","b"],"kafka.replay":"120",
                "kafka.config":{"bootstrap.servers":"k:9092","group.id":"central","enable.auto.commit":"true"}}"#,
        ),
        env(&[]),
    )
    .unwrap();
    let d = p.driver.unwrap();
    assert_eq!(d.driver, DriverKind::Kafka);
    let k = d.kafka.unwrap();
    assert_eq!(k.topics, ["a", "b"]);
    assert_eq!(k.replay, std::time::Duration::from_secs(120));
    assert_eq!(k.props.get("group.id"), Some("central"));
    assert_eq!(
        k.props.get("enable.auto.commit"),
        Some("false"),
        "the driver commits"
    );
    // The command line's BROKERS/TOPIC wins; the group stays.
    let k = k.with_target(Some("h1:1,h2:2/sf")).unwrap();
    assert_eq!(k.props.get("bootstrap.servers"), Some("h1:1,h2:2"));
    assert_eq!(k.topics, ["sf"]);
    assert_eq!(k.props.get("group.id"), Some("central"));
    // Nothing anywhere: a clear error.
    let e = KafkaSource::default().with_target(None).unwrap_err();
    assert!(e.contains("no Kafka brokers"), "{e}");
    assert!(KafkaSource::default().with_target(Some("k:9092")).is_err());
}
