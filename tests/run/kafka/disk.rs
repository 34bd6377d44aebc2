//! The Kafka exporter's disk buffer (`backlog.path`, JSON encoding) against the real broker:
//! frozen (SIGSTOP: it keeps its topic, which tansu's memory storage would lose in a
//! restart) while a trace streams, and the sensor killed with SIGKILL while it is frozen.
//! Each exported record carries its own number as `ts` (`numbered_events`), so what the
//! independent reader gets says which records arrived, how often and in what order.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use testkit::kafka::{create_topic, peers, Broker, Msg, Reader};
use testkit::run::*;
use testkit::shared_dir;

use super::{one_at_a_time, producer_cfg};
use crate::sensor;

const TS0: i64 = 1_700_000_000_000_000_000;
const EXPORTER: &str = "pipeline[1] (exporter)";

/// The trace with its events numbered from [`TS0`], and how many events it has.
fn numbered_trace(shared: &Path) -> (Vec<sysflow_model::SysFlow>, usize) {
    numbered_events(&records(&shared.join("traces/k8s_small.sf")), TS0)
}

fn daemon(cfg: &Path, sock: &Path) -> Daemon {
    Daemon::socket(sensor(), cfg, sock)
}

/// A producer pipeline (container keys, node `n1`) with its disk buffer in `dir/buf`; the
/// memory part is the default 64 MiB, so the trace fits in it and goes to disk only once
/// the sensor finds the broker gone.
fn buffered_cfg(dir: &Path, bootstrap: &str, topic: &str) -> (PathBuf, PathBuf) {
    let buf = dir.join("buf");
    let keys = format!(
        r#","kafka.key":"container","kafka.node":"n1","backlog.path":"{}""#,
        buf.display()
    );
    (producer_cfg(dir, "kafka", bootstrap, topic, &keys), buf)
}

/// The record numbers read back, per key in offset order.
fn numbers_by_key(got: &[Msg]) -> HashMap<Vec<u8>, Vec<i64>> {
    let mut msgs: Vec<&Msg> = got.iter().collect();
    msgs.sort_by_key(|m| (m.partition, m.offset));
    let mut by_key: HashMap<Vec<u8>, Vec<i64>> = HashMap::new();
    for m in msgs {
        let v: serde_json::Value = serde_json::from_slice(&m.value).expect("a JSON document");
        let ts = v["ts"].as_i64().expect("a ts");
        by_key.entry(m.key.clone()).or_default().push(ts - TS0);
    }
    by_key
}

/// Checks that every record `0..n` arrived and that each key's records arrived in order
/// (a record sent again after an outage may come twice: its first arrival counts); returns
/// the number of duplicates.
fn assert_all_in_order(got: &[Msg], n: usize, log: &str) -> usize {
    let by_key = numbers_by_key(got);
    assert!(by_key.len() > 2, "the trace spans several containers");
    let mut seen = BTreeSet::new();
    let mut duplicates = 0;
    for (k, nums) in &by_key {
        let mut first = Vec::new();
        for &x in nums {
            if seen.insert(x) {
                first.push(x);
            } else {
                duplicates += 1;
            }
        }
        assert!(
            first.windows(2).all(|w| w[0] < w[1]),
            "key {} out of order: {first:?}",
            String::from_utf8_lossy(k)
        );
    }
    let missing: Vec<i64> = (0..n as i64).filter(|x| !seen.contains(x)).collect();
    assert!(
        missing.is_empty(),
        "{} of {n} records missing (first {:?}):\n{log}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    assert_eq!(seen.len(), n, "only the trace's records");
    duplicates
}

/// Waits (bounded) until the exporter's counters satisfy `done`; returns the last line.
fn wait_counters(d: &mut Daemon, max: Duration, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + max;
    loop {
        let c = d.counters(EXPORTER);
        if done(&c) || Instant::now() >= deadline {
            return c;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Every one of the `n` records is delivered or held on disk (none in memory, none still on
/// its way to the backlog).
fn all_accepted(c: &str, n: usize) -> bool {
    counter(c, "out") + counter(c, "backlog_records") == n as u64
        && counter(c, "backlog_bytes") == counter(c, "backlog_disk_bytes")
}

/// Distinct messages read back (a record sent twice is the same document).
fn distinct(got: &[Msg]) -> usize {
    got.iter()
        .map(|m| &m.value[..])
        .collect::<HashSet<_>>()
        .len()
}

/// A producer sensor with a disk buffer, fed a trace: the first half is read back, then the
/// broker is frozen while the second half streams, until every record is delivered (the
/// first half) or on disk.
struct Frozen {
    tmp: tempfile::TempDir,
    broker: Broker,
    reader: Reader,
    d: Daemon,
    client: Client,
    cfg: PathBuf,
    buf: PathBuf,
    /// Records the trace exports.
    n: usize,
    /// The exporter's counters once everything was accepted.
    counters: String,
}

fn frozen(topic: &str) -> Option<Frozen> {
    let (tansu, py) = peers()?;
    let shared = shared_dir()?;
    let (recs, n) = numbered_trace(&shared);
    let half = recs.len() / 2;
    let tmp = tempfile::tempdir().unwrap();
    let broker = Broker::start(&tansu, tmp.path());
    create_topic(&py, &broker.bootstrap(), topic, 3);
    let mut reader = Reader::start(&py, &broker.bootstrap(), topic, tmp.path());
    let (cfg, buf) = buffered_cfg(tmp.path(), &broker.bootstrap(), topic);
    let mut d = daemon(&cfg, &tmp.path().join("s.sock"));
    let client = Client::connect(&tmp.path().join("s.sock"));
    client.send_all(&recs[..half]);
    let first = numbered_events(&recs[..half], 0).1;
    assert!(
        reader.until(Duration::from_secs(60), |g| g.len() >= first),
        "first half not read back"
    );
    // Frozen while the second half streams: the sensor finds the broker gone and keeps
    // what it accepted on disk.
    broker.pause();
    client.send_all(&recs[half..]);
    let counters = wait_counters(&mut d, Duration::from_secs(60), |c| all_accepted(c, n));
    assert!(all_accepted(&counters, n), "not all on disk: {counters}");
    assert!(counter(&counters, "persisted") > 0, "{counters}");
    d.wait_log("no delivery report for 5 s");
    Some(Frozen {
        tmp,
        broker,
        reader,
        d,
        client,
        cfg,
        buf,
        n,
        counters,
    })
}

/// Lets the broker run again, reads until every record of `n` has arrived (120 s at most),
/// stops the sensor, and checks that all arrived, in order per key, and that the sensor
/// says so; returns its log.
fn resume_and_read_all(
    broker: &Broker,
    mut reader: Reader,
    d: Daemon,
    n: usize,
    what: &str,
) -> String {
    broker.resume();
    let complete = reader.until(Duration::from_secs(120), |g| distinct(g) >= n);
    let (st, log) = d.end(libc::SIGTERM);
    assert!(st.success(), "{log}");
    let got = reader.finish();
    assert!(complete, "not all read back ({} of {n}):\n{log}", got.len());
    let dups = assert_all_in_order(&got, n, &log);
    eprintln!(
        "{what}: {} messages read back, {dups} duplicates",
        got.len()
    );
    assert!(log.contains("shutdown: every record delivered"), "{log}");
    log
}

#[test]
fn kafka_disk_buffer_delivers_every_record_in_order_after_a_frozen_broker() {
    let _serial = one_at_a_time();
    // The temporary directory holds the disk buffer: it must outlive the sensor.
    let Some(Frozen {
        tmp: _tmp,
        broker,
        reader,
        d,
        buf,
        n,
        counters,
        ..
    }) = frozen("kd")
    else {
        return;
    };
    eprintln!("frozen broker: {n} records: {counters}");
    // Longer frozen than the sensor's reconnection back-off (5 s at most).
    std::thread::sleep(Duration::from_secs(6));
    let log = resume_and_read_all(&broker, reader, d, n, "frozen broker");
    let exit = log
        .lines()
        .find(|l| l.contains("counters (exit)") && l.contains("(exporter)"))
        .unwrap_or_else(|| panic!("no exit counters:\n{log}"));
    assert_eq!(counter(exit, "out"), n as u64, "every record counted once");
    assert_eq!(counter(exit, "dropped"), 0, "{exit}");
    let segments = std::fs::read_dir(&buf)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .count();
    assert_eq!(segments, 0, "delivered segments are removed");
}

#[test]
fn kafka_disk_buffer_keeps_every_accepted_record_across_kill_9() {
    let _serial = one_at_a_time();
    let Some(Frozen {
        tmp,
        broker,
        reader,
        d,
        client,
        cfg,
        n,
        counters,
        ..
    }) = frozen("kk")
    else {
        return;
    };
    let (st, _) = d.end(libc::SIGKILL);
    assert_eq!(st.signal(), Some(libc::SIGKILL));
    drop(client);
    let (out, persisted) = (counter(&counters, "out"), counter(&counters, "persisted"));
    eprintln!("kill -9: {out} delivered before the freeze, {persisted} on disk");

    // Started again on the same directory, the broker back: the disk buffer goes out.
    let mut d = daemon(&cfg, &tmp.path().join("s2.sock"));
    let from_disk = d.wait_log("from an earlier run to deliver");
    eprintln!("kill -9: {from_disk}");
    resume_and_read_all(&broker, reader, d, n, "kill -9");
}
