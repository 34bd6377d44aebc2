//! The Kafka exporter and driver against a real Kafka-protocol broker (tansu, in memory, on a
//! loopback port started here), read back and checked by an independent client (Python
//! confluent-kafka, librdkafka 2.x): every record of a real trace arrives once and in order
//! per key, in JSON and as the SysFlow stream; a broker killed and restarted mid-stream loses
//! nothing the sensor accepted (or it counts the loss); with a disk buffer (`disk`), a frozen
//! broker and a `kill -9` lose nothing accepted; two consumers in one group over a
//! partitioned topic, fed by two producer sensors and rebalanced mid-stream, raise the
//! alerts one `sensor run` raises over the same traces.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use sysflow_model::avro::datum::{decode_datum, encode_datum};
use sysflow_model::tables::Flattener;
use sysflow_model::SysFlow;

use testkit::kafka::{create_topic, peers, Broker, Msg, Reader};
use testkit::run::*;
use testkit::shared_dir;

use super::sensor;

mod disk;

/// The Kafka tests run one at a time: each starts a broker, sensors and Python clients, and
/// on two cores their timing (reconnection after the restart above all) suffers when all
/// four share them.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Writes a pipeline: a flattener straight into a Kafka exporter with these extra keys.
fn producer_cfg(dir: &Path, name: &str, bootstrap: &str, topic: &str, keys: &str) -> PathBuf {
    let p = dir.join(format!("{name}.json"));
    std::fs::write(
        &p,
        format!(
            r#"{{"pipeline":[
  {{"processor":"sysflowreader","in":"sysflow sysflowchan","out":"flat flattenerchan"}},
  {{"processor":"exporter","in":"flat flattenerchan","export":"kafka","kafka.topic":"{topic}",
    "kafka.config":{{"bootstrap.servers":"{bootstrap}"}}{keys}}}]}}"#
        ),
    )
    .unwrap();
    p
}

/// A counter of a stage from the exit lines of the log (`label` part of the stage name).
fn counter(log: &str, label: &str, name: &str) -> u64 {
    let line = log
        .lines()
        .find(|l| l.contains("counters (exit)") && l.contains(label))
        .unwrap_or_else(|| panic!("no exit counters of {label} in:\n{log}"));
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {line}"))
}

/// Runs `sensor run` to the end; returns its log.
fn run_to_end(args: &[&str], cfg: Option<&Path>, input: &Path) -> String {
    let mut cmd = sensor();
    cmd.args(["run", "--log", "info"]).args(args);
    if let Some(c) = cfg {
        cmd.arg("--config").arg(c);
    }
    let o = cmd.arg(input).output().unwrap();
    let log = stderr(&o);
    assert!(o.status.success(), "sensor run failed:\n{log}");
    log
}

/// The datums of a trace's events and flows (what the flattener passes on), in order.
fn event_datums(recs: &[SysFlow]) -> Vec<Vec<u8>> {
    recs.iter()
        .filter(|r| r.record_type().is_event_or_flow())
        .map(|r| {
            let mut b = Vec::new();
            encode_datum(r, &mut b);
            b
        })
        .collect()
}

fn decoded_events(msgs: &[Msg]) -> Vec<Vec<u8>> {
    msgs.iter()
        .filter(|m| {
            decode_datum(&m.value)
                .expect("a SysFlow datum")
                .record_type()
                .is_event_or_flow()
        })
        .map(|m| m.value.clone())
        .collect()
}

#[test]
fn kafka_json_records_arrive_once_and_in_order_per_container() {
    let Some((tansu, py)) = peers() else { return };
    let _serial = one_at_a_time();
    let Some(shared) = shared_dir() else { return };
    let trace = shared.join("traces/k8s_small.sf");
    let tmp = tempfile::tempdir().unwrap();
    let broker = Broker::start(&tansu, tmp.path());
    create_topic(&py, &broker.bootstrap(), "json", 3);

    // What the same pipeline writes to a file: the reference documents, in order.
    let file_cfg = tmp.path().join("file.json");
    let out = tmp.path().join("out.jsonl");
    std::fs::write(
        &file_cfg,
        format!(
            r#"{{"pipeline":[{{"processor":"sysflowreader","in":"sysflow sysflowchan","out":"flat flattenerchan"}},
  {{"processor":"exporter","in":"flat flattenerchan","export":"file","file.path":"{}"}}]}}"#,
            out.display()
        ),
    )
    .unwrap();
    run_to_end(&[], Some(&file_cfg), &trace);
    let reference: Vec<String> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert!(reference.len() > 1000);

    let reader = Reader::start(&py, &broker.bootstrap(), "json", tmp.path());
    let cfg = producer_cfg(
        tmp.path(),
        "kafka",
        &broker.bootstrap(),
        "json",
        r#","kafka.key":"container","kafka.node":"n1""#,
    );
    let log = run_to_end(&[], Some(&cfg), &trace);
    assert_eq!(counter(&log, "(exporter)", "out"), reference.len() as u64);
    assert_eq!(counter(&log, "(exporter)", "export_errors"), 0);
    assert_eq!(counter(&log, "(exporter)", "dropped"), 0);

    let mut reader = reader;
    reader.until(Duration::from_secs(60), |g| g.len() >= reference.len());
    let got = reader.finish();
    assert_eq!(got.len(), reference.len(), "every record once");

    // The key of a reference document, worked out from its container.
    let key_of = |doc: &str| -> Vec<u8> {
        let v: serde_json::Value = serde_json::from_str(doc).unwrap();
        match v["container"]["id"].as_str() {
            Some(id) if !id.is_empty() => format!("n1/{id}").into_bytes(),
            _ => b"n1".to_vec(),
        }
    };
    let mut want: HashMap<Vec<u8>, Vec<&str>> = HashMap::new();
    for d in &reference {
        want.entry(key_of(d)).or_default().push(d);
    }
    assert!(want.len() > 2, "the trace spans several containers");
    let mut by_key: HashMap<Vec<u8>, Vec<&Msg>> = HashMap::new();
    for m in &got {
        by_key.entry(m.key.clone()).or_default().push(m);
    }
    assert_eq!(
        by_key.keys().collect::<std::collections::BTreeSet<_>>(),
        want.keys().collect()
    );
    for (k, msgs) in &mut by_key {
        let parts: std::collections::BTreeSet<i32> = msgs.iter().map(|m| m.partition).collect();
        assert_eq!(parts.len(), 1, "one key, one partition");
        msgs.sort_by_key(|m| m.offset);
        let docs: Vec<&str> = msgs
            .iter()
            .map(|m| std::str::from_utf8(&m.value).unwrap())
            .collect();
        assert_eq!(docs, want[k], "order of key {}", String::from_utf8_lossy(k));
    }
}

#[test]
fn kafka_sysflow_stream_carries_every_record_and_its_entities_in_order() {
    let Some((tansu, py)) = peers() else { return };
    let _serial = one_at_a_time();
    let Some(shared) = shared_dir() else { return };
    let trace = shared.join("traces/1621959914.sf");
    let recs = records(&trace);
    let tmp = tempfile::tempdir().unwrap();
    let broker = Broker::start(&tansu, tmp.path());
    create_topic(&py, &broker.bootstrap(), "sf", 2);
    let mut reader = Reader::start(&py, &broker.bootstrap(), "sf", tmp.path());
    let cfg = producer_cfg(
        tmp.path(),
        "kafka",
        &broker.bootstrap(),
        "sf",
        r#","kafka.encoding":"sysflow","kafka.node":"n1""#,
    );
    let log = run_to_end(&[], Some(&cfg), &trace);
    let want = event_datums(&recs);
    assert_eq!(counter(&log, "(exporter)", "out"), want.len() as u64);
    reader.until(Duration::from_secs(60), |g| {
        decoded_events(g).len() >= want.len()
    });
    let mut got = reader.finish();
    assert!(got.iter().all(|m| m.key == b"n1"));
    got.sort_by_key(|m| m.offset);
    assert_eq!(
        decoded_events(&got),
        want,
        "every event and flow, once, in order"
    );

    // The stream carries what the joins need: flattening it misses no more entities
    // than flattening the trace itself.
    let stats = |recs: Vec<SysFlow>| {
        let mut f = Flattener::default();
        for r in recs {
            f.push(r);
        }
        *f.stats()
    };
    let direct = stats(recs);
    let streamed = stats(
        got.iter()
            .map(|m| decode_datum(&m.value).unwrap())
            .collect(),
    );
    assert_eq!(streamed.flattened, direct.flattened);
    assert_eq!(streamed.missing_processes, direct.missing_processes);
    assert_eq!(streamed.missing_parents, direct.missing_parents);
    assert_eq!(streamed.missing_files, direct.missing_files);
}

/// `sensor run --input socket` publishing to Kafka, fed by the test as a collector.
struct SocketProducer {
    child: Child,
    client: Client,
}

impl SocketProducer {
    fn start(cfg: &Path, sock: &Path) -> SocketProducer {
        let child = sensor()
            .args(["run", "--log", "info", "--input", "socket", "--config"])
            .arg(cfg)
            .arg(sock)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let client = Client::connect(sock);
        SocketProducer { child, client }
    }

    /// SIGTERM; the exit status and log.
    fn stop(self) -> (i32, String) {
        drop(self.client);
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let o = self.child.wait_with_output().unwrap();
        (o.status.code().unwrap_or(-1), stderr(&o))
    }
}

/// What a broker outage did: the trace's events, every message read back (in offset
/// order), and the producer's log.
struct Outage {
    recs: Vec<SysFlow>,
    want: Vec<Vec<u8>>,
    got: Vec<Msg>,
    log: String,
}

impl Outage {
    /// Events that never arrived, and events that arrived more than once.
    fn missing_and_duplicates(&self) -> (i64, i64) {
        let mut count: HashMap<&[u8], i64> = HashMap::new();
        for d in &self.want {
            *count.entry(d).or_default() += 1;
        }
        let got = decoded_events(&self.got);
        for d in &got {
            *count.entry(d).or_default() -= 1;
        }
        let missing = count.values().filter(|n| **n > 0).sum();
        let duplicates = -count.values().filter(|n| **n < 0).sum::<i64>();
        (missing, duplicates)
    }

    fn exporter(&self, name: &str) -> u64 {
        counter(&self.log, "(exporter)", name)
    }
}

/// A producer sensor (`sysflow` encoding, node `n1`, and `keys`) fed a real trace: the first
/// half is read back, then the broker is frozen (SIGSTOP: it answers nothing but keeps its
/// topic, unlike a restart of tansu's memory storage, which would also race the sensor's
/// reconnection against the topic's re-creation) while the second half is sent (from a
/// thread: a blocking backlog holds the sender back), for `down`; once it runs again, the
/// reader takes what arrives until every event has or nothing more comes for 5 s.
fn outage(keys: &str, down: Duration) -> Option<Outage> {
    let (tansu, py) = peers()?;
    let _serial = one_at_a_time();
    let shared = shared_dir()?;
    let recs = records(&shared.join("traces/1621959914.sf"));
    let half = recs.len() / 2;
    let tmp = tempfile::tempdir().unwrap();
    let broker = Broker::start(&tansu, tmp.path());
    create_topic(&py, &broker.bootstrap(), "sf", 1);
    let mut reader = Reader::start(&py, &broker.bootstrap(), "sf", tmp.path());
    let keys = format!(r#","kafka.encoding":"sysflow","kafka.node":"n1"{keys}"#);
    let cfg = producer_cfg(tmp.path(), "kafka", &broker.bootstrap(), "sf", &keys);
    let p = SocketProducer::start(&cfg, &tmp.path().join("sf.sock"));
    let first = event_datums(&recs[..half]).len();
    p.client.send_all(&recs[..half]);
    assert!(
        reader.until(Duration::from_secs(60), |g| decoded_events(g).len()
            >= first),
        "first half not read back"
    );
    broker.pause();
    let want = event_datums(&recs);
    std::thread::scope(|s| {
        let sender = s.spawn(|| p.client.send_all(&recs[half..]));
        std::thread::sleep(down);
        broker.resume();
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let n = reader.got.len();
            let grew = reader.until(Duration::from_secs(5), |g| {
                g.len() > n || decoded_events(g).len() >= want.len()
            });
            let all = decoded_events(&reader.got).len() >= want.len();
            if all || !grew || Instant::now() >= deadline {
                break;
            }
        }
        sender.join().unwrap();
    });
    let (status, log) = p.stop();
    assert_eq!(status, 0, "{log}");
    let mut got = reader.finish();
    got.sort_by_key(|m| m.offset);
    Some(Outage {
        recs,
        want,
        got,
        log,
    })
}

#[test]
fn kafka_broker_restarted_mid_stream_loses_nothing_accepted() {
    let Some((tansu, py)) = peers() else { return };
    let _serial = one_at_a_time();
    let Some(shared) = shared_dir() else { return };
    let recs = records(&shared.join("traces/1621959914.sf"));
    let half = recs.len() / 2;
    let tmp = tempfile::tempdir().unwrap();
    let mut broker = Broker::start(&tansu, tmp.path());
    create_topic(&py, &broker.bootstrap(), "sf", 1);
    let mut reader = Reader::start(&py, &broker.bootstrap(), "sf", tmp.path());
    let cfg = producer_cfg(
        tmp.path(),
        "kafka",
        &broker.bootstrap(),
        "sf",
        r#","kafka.encoding":"sysflow","kafka.node":"n1""#,
    );
    let p = SocketProducer::start(&cfg, &tmp.path().join("sf.sock"));
    let first = event_datums(&recs[..half]);
    p.client.send_all(&recs[..half]);
    // The first half is read back before the broker (and every message it holds) goes.
    assert!(
        reader.until(Duration::from_secs(60), |g| decoded_events(g).len()
            >= first.len()),
        "first half not read back"
    );
    broker.stop();
    let mut got = decoded_events(&reader.finish());
    // The sensor accepts the second half while the broker is away.
    p.client.send_all(&recs[half..]);
    std::thread::sleep(Duration::from_secs(2));
    // The broker comes back empty: a new reader reads what arrives from then on.
    broker.restart();
    create_topic(&py, &broker.bootstrap(), "sf", 1);
    let mut reader = Reader::start(&py, &broker.bootstrap(), "sf", tmp.path());
    let want = event_datums(&recs);
    let rest = want.len() - got.len();
    let complete = reader.until(Duration::from_secs(90), |g| decoded_events(g).len() >= rest);
    let (status, log) = p.stop();
    assert_eq!(status, 0, "{log}");
    got.extend(decoded_events(&reader.finish()));

    let mut count: HashMap<&[u8], i64> = HashMap::new();
    for d in &want {
        *count.entry(d).or_default() += 1;
    }
    for d in &got {
        *count.entry(d).or_default() -= 1;
    }
    let missing: i64 = count.values().filter(|n| **n > 0).sum();
    let duplicates: i64 = -count.values().filter(|n| **n < 0).sum::<i64>();
    let lost =
        counter(&log, "(exporter)", "dropped") + counter(&log, "(exporter)", "export_errors");
    println!(
        "broker restart: {} events sent, {} read back, {missing} missing, {duplicates} duplicated, {lost} counted as lost, retried={}",
        want.len(),
        got.len(),
        counter(&log, "(exporter)", "retried")
    );
    if missing > 0 {
        println!("{log}\n--- broker:\n{}", broker.log());
    }
    assert!(
        missing as u64 <= lost,
        "{missing} records lost but only {lost} counted:\n{log}"
    );
    assert!(
        complete || lost > 0,
        "nothing counted and not all read back"
    );
    assert_eq!(
        counter(&log, "(exporter)", "out") + lost,
        want.len() as u64,
        "every record delivered or counted as lost"
    );
}

/// Flattening what the consumer read misses no more processes,
/// parents or files than flattening the trace: no record arrived without its entities.
fn assert_entities_complete(o: &Outage) {
    let stats = |recs: &mut dyn Iterator<Item = SysFlow>| {
        let mut f = Flattener::default();
        for r in recs {
            f.push(r);
        }
        *f.stats()
    };
    let direct = stats(&mut o.recs.iter().cloned());
    let streamed = stats(&mut o.got.iter().map(|m| decode_datum(&m.value).unwrap()));
    assert!(
        streamed.missing_processes <= direct.missing_processes
            && streamed.missing_parents <= direct.missing_parents
            && streamed.missing_files <= direct.missing_files,
        "records arrived without their entities: {streamed:?} (the trace: {direct:?})"
    );
}

#[test]
fn kafka_full_backlog_drops_newest_and_counts_exactly_what_did_not_fit() {
    // 64 KiB of librdkafka's queue holds a few hundred messages of the second half; 5 s
    // down outlasts the 2 s the exporter waits for room before it drops.
    let keys = r#","backlog.maxbytes":"64KiB","backlog.whenfull":"drop_newest""#;
    let Some(o) = outage(keys, Duration::from_secs(5)) else {
        return;
    };
    let (missing, duplicates) = o.missing_and_duplicates();
    let (dropped, full) = (o.exporter("dropped"), o.exporter("dropped_full"));
    let errors = o.exporter("export_errors");
    println!(
        "drop_newest: {} events, {missing} missing, {duplicates} duplicated, dropped={dropped} (full {full}), export_errors={errors}",
        o.want.len()
    );
    assert!(full > 0, "the 64 KiB backlog never filled:\n{}", o.log);
    assert_eq!(dropped, full, "every drop was a full backlog");
    assert_eq!(
        missing as u64,
        dropped + errors,
        "exactly the records counted are missing:\n{}",
        o.log
    );
    assert_eq!(o.exporter("out") + dropped + errors, o.want.len() as u64);
    assert_entities_complete(&o);
}

#[test]
fn kafka_blocking_backlog_holds_the_source_back_and_loses_nothing() {
    let keys = r#","backlog.maxbytes":"64KiB","backlog.whenfull":"block""#;
    let Some(o) = outage(keys, Duration::from_secs(5)) else {
        return;
    };
    assert_eq!(o.exporter("dropped"), 0, "{}", o.log);
    let (missing, duplicates) = o.missing_and_duplicates();
    println!(
        "block: {} events, {missing} missing, {duplicates} duplicated",
        o.want.len()
    );
    assert_eq!(missing, 0, "every record arrives:\n{}", o.log);
    assert_eq!(o.exporter("out"), o.want.len() as u64);
    assert_entities_complete(&o);
}

/// A `sensor run --input kafka` consumer with the built-in rules; alerts arrive as lines.
struct Consumer {
    child: Child,
    lines: Receiver<(bool, String)>,
    alerts: Vec<String>,
    log: Vec<String>,
}

impl Consumer {
    fn start(bootstrap: &str, topic: &str) -> Consumer {
        let mut cmd = sensor();
        cmd.args(["run", "--log", "info", "--input", "kafka"])
            .arg(format!("{bootstrap}/{topic}"));
        let (child, lines) = spawn_lines(&mut cmd);
        Consumer {
            child,
            lines,
            alerts: Vec::new(),
            log: Vec::new(),
        }
    }

    fn take(&mut self) {
        for (out, l) in self.lines.try_iter() {
            if out {
                self.alerts.push(l);
            } else {
                self.log.push(l);
            }
        }
    }

    /// Waits until `n` log lines contain `what`.
    fn wait_log(&mut self, what: &str, n: usize, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            self.take();
            if self.log.iter().filter(|l| l.contains(what)).count() >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    fn stop(mut self) -> (Vec<String>, String) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let st = self.child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        self.take();
        let log = self.log.join("\n");
        assert!(st.success(), "consumer failed:\n{log}");
        (self.alerts, log)
    }
}

/// Waits until the consumers' alerts stop growing for `quiet` (or reach `n`).
fn settle(cs: &mut [&mut Consumer], n: usize, quiet: Duration, max: Duration) -> usize {
    let start = Instant::now();
    let mut last = (usize::MAX, Instant::now());
    loop {
        cs.iter_mut().for_each(|c| c.take());
        let total: usize = cs.iter().map(|c| c.alerts.len()).sum();
        if total != last.0 {
            last = (total, Instant::now());
        }
        if total >= n || last.1.elapsed() >= quiet || start.elapsed() >= max {
            return total;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn kafka_consumer_group_raises_the_alerts_of_one_run() {
    let Some((tansu, py)) = peers() else { return };
    let _serial = one_at_a_time();
    let Some(shared) = shared_dir() else { return };
    let traces = shared.join("traces");
    let tmp = tempfile::tempdir().unwrap();
    // Producer B publishes these files; producer A is fed play.1544763289.sf by the test,
    // half before and half after the group changes.
    let b_dir = tmp.path().join("b");
    std::fs::create_dir(&b_dir).unwrap();
    for t in [
        "k8s_small.sf",
        "nodejs.1544763289.sf",
        "play.1548965896.sf",
        "shellshock.sf",
    ] {
        std::fs::copy(traces.join(t), b_dir.join(t)).unwrap();
    }
    let a_trace = traces.join("play.1544763289.sf");

    // The reference: one `sensor run` over the same traces.
    let mut want = Vec::new();
    for input in [&b_dir, &a_trace] {
        let o = sensor()
            .args(["run", "--log", "error"])
            .arg(input)
            .output()
            .unwrap();
        assert!(o.status.success());
        want.extend(stdout(&o).lines().map(String::from));
    }
    want.sort();
    assert!(want.len() > 300, "the traces raise alerts");

    let broker = Broker::start(&tansu, tmp.path());
    let bs = broker.bootstrap();
    create_topic(&py, &bs, "fleet", 4);
    let mut c1 = Consumer::start(&bs, "fleet");
    assert!(
        c1.wait_log("partitions assigned", 1, Duration::from_secs(60)),
        "c1 never joined"
    );

    let cfg_a = producer_cfg(
        tmp.path(),
        "a",
        &bs,
        "fleet",
        r#","kafka.encoding":"sysflow","kafka.node":"node-a""#,
    );
    let cfg_b = producer_cfg(
        tmp.path(),
        "b",
        &bs,
        "fleet",
        r#","kafka.encoding":"sysflow","kafka.node":"node-b""#,
    );
    let a = SocketProducer::start(&cfg_a, &tmp.path().join("a.sock"));
    let recs = records(&a_trace);
    let half = recs.len() / 2;
    a.client.send_all(&recs[..half]);
    run_to_end(&[], Some(&cfg_b), &b_dir);

    // A second member joins while the streams are open: the partitions are shared out.
    let mut c2 = Consumer::start(&bs, "fleet");
    assert!(
        c2.wait_log("partitions assigned", 1, Duration::from_secs(60)),
        "c2 never joined"
    );
    settle(
        &mut [&mut c1, &mut c2],
        want.len(),
        Duration::from_secs(3),
        Duration::from_secs(60),
    );
    // The first member leaves mid-stream: the second takes its partitions over from the
    // committed offsets and must rebuild node-a's tables to join the second half.
    c2.take();
    let assigned = c2
        .log
        .iter()
        .filter(|l| l.contains("partitions assigned"))
        .count();
    let (alerts1, log1) = c1.stop();
    assert!(c2.wait_log("partitions assigned", assigned + 1, Duration::from_secs(60)));
    a.client.send_all(&recs[half..]);
    let (st, alog) = a.stop();
    assert_eq!(st, 0, "{alog}");
    settle(
        &mut [&mut c2],
        want.len() - alerts1.len(),
        Duration::from_secs(5),
        Duration::from_secs(90),
    );
    let (alerts2, log2) = c2.stop();

    let mut got: Vec<String> = alerts1.iter().chain(&alerts2).cloned().collect();
    got.sort();
    println!(
        "group: {} alerts expected; member 1 raised {}, member 2 {}; read back: {}",
        want.len(),
        alerts1.len(),
        alerts2.len(),
        log2.lines().filter(|l| l.contains("reading back")).count()
    );
    assert_eq!(got.len(), want.len(), "alert count\n{log1}\n---\n{log2}");
    assert_eq!(got, want, "the alerts of one run");
}
