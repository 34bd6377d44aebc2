//! Kafka publish and consume rates with the broker (tansu, memory storage) on this machine:
//! `cargo bench -p sensor --bench kafka` (BENCH_RECORDS, default 1,000,000).
//!
//! - publish: `sensor run` reads a trace file and exports every record to Kafka, in the
//!   `sysflow` encoding (what central pipelines consume) and as JSON; the time runs until the
//!   process has exited, i.e. until the broker acknowledged every message (best of 2).
//! - consume: one `sensor run --input kafka` member reads the `sysflow` topic through the
//!   flattener and the runtimeintegrity rules (alert mode) into a `null` exporter; the time
//!   runs from its partitions being assigned until the policy stage has seen every event.
//!
//! Needs tansu, confluent-kafka (to create topics) and `../shared`; prints SKIPPED without.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sysflow_model::avro::{Codec, Reader, Writer};
use sysflow_model::SysFlow;
use testkit::kafka::{create_topic, peers, Broker};

const SENSOR: &str = env!("CARGO_BIN_EXE_sensor");

/// CPU time (user + system) of waited-for children so far.
fn children_cpu() -> Duration {
    // SAFETY: getrusage fills the struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// A counter of the stage whose label contains `label`, from a counters line.
fn counter(line: &str, label: &str, name: &str) -> Option<u64> {
    if !line.contains(label) {
        return None;
    }
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{name}=")))?
        .parse()
        .ok()
}

/// The records of two real traces, header first, replicated (entities included, so every
/// event joins) to `n` records.
fn write_trace(traces: &Path, n: usize, out: &Path) {
    let mut header = None;
    let mut body = Vec::new();
    for name in ["k8s_small.sf", "1621959914.sf"] {
        let f = std::fs::File::open(traces.join(name)).expect("open trace");
        for r in Reader::new(std::io::BufReader::new(f)).expect("trace") {
            match r.expect("record") {
                SysFlow::Header(h) => {
                    header.get_or_insert(h);
                }
                rec => body.push(rec),
            }
        }
    }
    let f = std::fs::File::create(out).expect("create trace");
    let mut w = Writer::new(std::io::BufWriter::new(f), Codec::Deflate).expect("writer");
    w.write(&SysFlow::Header(header.expect("a header")))
        .expect("write");
    for r in body.iter().cycle().take(n - 1) {
        w.write(r).expect("write");
    }
    w.finish().expect("finish");
}

/// A producer pipeline; with `disk`, through the disk buffer (`backlog.path`, brokers up:
/// records pass through its memory part and wait for their delivery reports).
fn producer_cfg(
    dir: &Path,
    bootstrap: &str,
    topic: &str,
    encoding: &str,
    disk: bool,
) -> std::path::PathBuf {
    let p = dir.join(format!("{topic}.json"));
    let backlog = if disk {
        format!(
            r#","backlog.path":"{}""#,
            dir.join(format!("buf-{topic}")).display()
        )
    } else {
        String::new()
    };
    std::fs::write(
        &p,
        format!(
            r#"{{"pipeline":[
  {{"processor":"sysflowreader","in":"sysflow sysflowchan","out":"flat flattenerchan"}},
  {{"processor":"exporter","in":"flat flattenerchan","export":"kafka","kafka.topic":"{topic}",
    "kafka.encoding":"{encoding}","kafka.config":{{"bootstrap.servers":"{bootstrap}"}}{backlog}}}]}}"#
        ),
    )
    .expect("write cfg");
    p
}

/// Publishes the trace to a new topic; returns wall time, CPU time, records exported
/// (confirmed by the brokers).
fn publish(
    py: &Path,
    dir: &Path,
    bootstrap: &str,
    topic: &str,
    enc: &str,
    disk: bool,
    trace: &Path,
) -> (Duration, Duration, u64) {
    create_topic(py, bootstrap, topic, 4);
    let cfg = producer_cfg(dir, bootstrap, topic, enc, disk);
    let cpu0 = children_cpu();
    let t = Instant::now();
    let o = Command::new(SENSOR)
        .args(["run", "--log", "info", "--config"])
        .arg(&cfg)
        .arg(trace)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("sensor run");
    let d = t.elapsed();
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{log}");
    let line = log
        .lines()
        .find(|l| l.contains("counters (exit)") && l.contains("(exporter)"))
        .expect("exit counters");
    let out = counter(line, "(exporter)", "out").expect("out");
    let lost = counter(line, "(exporter)", "dropped").unwrap_or(0)
        + counter(line, "(exporter)", "export_errors").unwrap_or(0);
    if disk {
        // The file is read faster than the disk buffer's chunks are confirmed: what was not
        // delivered within the close deadline stays on disk (or, past its limit, dropped).
        println!(
            "  {enc} through the disk buffer, {:.2} s: {line}",
            d.as_secs_f64()
        );
    } else {
        assert_eq!(lost, 0, "records lost while publishing:\n{line}");
    }
    (d, children_cpu() - cpu0, out)
}

/// One consumer through the rules into `null`: wall time from assignment until the policy
/// stage has seen `events`, and the consumer's CPU time over its whole run.
fn consume(
    dir: &Path,
    policies: &Path,
    bootstrap: &str,
    topic: &str,
    events: u64,
    props: &str,
) -> (Duration, Duration) {
    let cfg = dir.join("consumer.json");
    std::fs::write(
        &cfg,
        format!(
            r#"{{"drivers":[{{"driver":"kafka","kafka.config":{{{props}}}}}],
  "pipeline":[
  {{"processor":"sysflowreader","in":"sysflow sysflowchan","out":"flat flattenerchan"}},
  {{"processor":"policyengine","in":"flat flattenerchan","out":"evt eventchan","policies":"{}","mode":"alert"}},
  {{"processor":"exporter","in":"evt eventchan","export":"null"}}]}}"#,
            policies.display()
        ),
    )
    .expect("write cfg");
    let cpu0 = children_cpu();
    let mut child = Command::new(SENSOR)
        .args(["run", "--log", "info", "--input", "kafka", "--config"])
        .arg(&cfg)
        .arg(format!("{bootstrap}/{topic}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("consumer");
    let pid = child.id() as i32;
    let err = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut start = None;
    let mut done = None;
    while done.is_none() && Instant::now() < deadline {
        // SIGUSR1 only once the handlers are installed (its default action ends the process).
        if start.is_some() {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(pid, libc::SIGUSR1) };
        }
        std::thread::sleep(Duration::from_millis(100));
        if let Ok(Some(st)) = child.try_wait() {
            panic!("the consumer exited early: {st}");
        }
        for l in rx.try_iter() {
            if start.is_none() && l.contains("partitions assigned") {
                start = Some(Instant::now());
            }
            if counter(&l, "(policyengine)", "in").is_some_and(|n| n >= events) {
                done = Some(Instant::now());
            }
        }
    }
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let _ = child.wait();
    let (Some(s), Some(e)) = (start, done) else {
        panic!("the consumer did not process {events} events in time");
    };
    (e - s, children_cpu() - cpu0)
}

/// The same topic read by confluent-kafka alone (messages counted, nothing decoded): what
/// the broker serves one consumer, for comparison.
fn python_baseline(py: &Path, bootstrap: &str, topic: &str) {
    const COUNT: &str = r#"
import sys, time
from confluent_kafka import Consumer
c = Consumer({'bootstrap.servers': sys.argv[1], 'group.id': 'baseline', 'auto.offset.reset': 'earliest'})
c.subscribe([sys.argv[2]])
n = 0; t0 = None; last = time.time()
while time.time() - last < 3:
    ms = c.consume(10000, 0.5)
    if ms:
        if t0 is None: t0 = time.time()
        n += len(ms); last = time.time()
print(n, last - (t0 or last))
"#;
    let o = Command::new(py)
        .args(["-c", COUNT, bootstrap, topic])
        .output()
        .expect("python");
    let out = String::from_utf8_lossy(&o.stdout);
    let mut f = out.split_whitespace();
    let (n, secs): (f64, f64) = (
        f.next().and_then(|x| x.parse().ok()).unwrap_or(0.0),
        f.next().and_then(|x| x.parse().ok()).unwrap_or(0.0),
    );
    println!(
        "confluent-kafka reading the same topic: {n:.0} messages in {secs:.2} s = {:.0} messages/s",
        n / secs.max(1e-9)
    );
}

fn main() {
    let Some((tansu, py)) = peers() else { return };
    let Some(shared) = testkit::shared_dir() else {
        return;
    };
    let policies = shared.join("policies/runtimeintegrity");
    let n: usize = std::env::var("BENCH_RECORDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let tmp = tempfile::tempdir().expect("tempdir");
    let trace = tmp.path().join("bench.sf");
    write_trace(&shared.join("traces"), n, &trace);
    let broker = Broker::start(&tansu, tmp.path());
    let bs = broker.bootstrap();
    println!(
        "trace: {n} records (k8s_small.sf + 1621959914.sf replicated); tansu {bs}, 4 partitions"
    );

    let mut events = 0;
    // `BENCH_ONLY=publish`: the publishing rows only.
    let only_publish = std::env::var("BENCH_ONLY").is_ok_and(|v| v == "publish");
    for (enc, disk) in [
        ("sysflow", false),
        ("json", false),
        ("sysflow", true),
        ("json", true),
    ] {
        let mut best = (Duration::MAX, Duration::MAX, Duration::MAX);
        for run in 0..2 {
            let b0 = broker.cpu();
            let topic = format!("{enc}{}{run}", if disk { "-disk" } else { "" });
            let (d, cpu, out) = publish(&py, tmp.path(), &bs, &topic, enc, disk, &trace);
            if disk {
                println!(
                    "  delivered {out} events in {:.2} s = {:.0} events/s, {:.2} s CPU",
                    d.as_secs_f64(),
                    out as f64 / d.as_secs_f64(),
                    cpu.as_secs_f64()
                );
                continue;
            }
            best = (
                best.0.min(d),
                best.1.min(cpu),
                best.2.min(broker.cpu() - b0),
            );
            events = out;
        }
        if disk {
            continue;
        }
        println!(
            "publish {enc:7}: {:>9.0} records/s ({:.2} s wall, {:.2} s CPU = {:.0} records/CPU-s; {events} events exported; broker {:.2} s CPU)",
            n as f64 / best.0.as_secs_f64(),
            best.0.as_secs_f64(),
            best.1.as_secs_f64(),
            n as f64 / best.1.as_secs_f64(),
            best.2.as_secs_f64(),
        );
    }
    if only_publish {
        return;
    }
    // librdkafka's defaults, then a shorter fetch wait: tansu answers a fetch only when
    // fetch.wait.max.ms (500 ms) has run out, with at most max.partition.fetch.bytes (1 MiB)
    // per partition, where Kafka answers as soon as data is there.
    for (group, props) in [
        ("g-default", String::new()),
        ("g-fetch", r#""fetch.wait.max.ms":"10""#.to_string()),
    ] {
        let props = if props.is_empty() {
            format!(r#""group.id":"{group}""#)
        } else {
            format!(r#""group.id":"{group}",{props}"#)
        };
        let b0 = broker.cpu();
        let (d, cpu) = consume(tmp.path(), &policies, &bs, "sysflow0", events, &props);
        println!(
        "consume sysflow ({props}) → runtimeintegrity (alert) → null: {:>9.0} records/s = {:.0} events/s ({events} events in {:.2} s; consumer CPU {:.2} s over its whole run = {:.0} records/CPU-s; broker {:.2} s CPU)",
        n as f64 / d.as_secs_f64(),
        events as f64 / d.as_secs_f64(),
        d.as_secs_f64(),
        cpu.as_secs_f64(),
        n as f64 / cpu.as_secs_f64(),
        (broker.cpu() - b0).as_secs_f64(),
    );
    }
    python_baseline(&py, &bs, "sysflow0");
}
