//! The Kafka exporter's disk buffer (`backlog.path`, JSON and `sysflow` encodings) against
//! the real broker: frozen (SIGSTOP: it keeps its topic, which tansu's memory storage would
//! lose in a restart) while a trace streams, and the sensor killed with SIGKILL while it is
//! frozen. Each exported record carries its own number as `ts` (`numbered_events`), so what
//! the independent reader gets says which records arrived, how often and in what order. The
//! `sysflow` stream is flattened per key as a consumer would: every record must come joined
//! with the same process, parent, file and container as flattening the trace itself gives.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sysflow_model::avro::datum::decode_datum;
use sysflow_model::flat::FlatRecord;
use sysflow_model::tables::Flattener;
use sysflow_model::SysFlow;
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

/// `kafka.encoding`: JSON documents, or the SysFlow stream (datums of headers, entities and
/// records).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Encoding {
    Json,
    Sysflow,
}

/// A producer pipeline (container keys, node `n1`) with its disk buffer in `dir/buf`; the
/// memory part is the default 64 MiB, so the trace fits in it and goes to disk only once
/// the sensor finds the broker gone.
fn buffered_cfg(dir: &Path, bootstrap: &str, topic: &str, enc: Encoding) -> (PathBuf, PathBuf) {
    let buf = dir.join("buf");
    let encoding = match enc {
        Encoding::Json => "json",
        Encoding::Sysflow => "sysflow",
    };
    let keys = format!(
        r#","kafka.key":"container","kafka.node":"n1","kafka.encoding":"{encoding}","backlog.path":"{}""#,
        buf.display()
    );
    (producer_cfg(dir, "kafka", bootstrap, topic, &keys), buf)
}

/// The timestamp of an exported record (its number, [`TS0`] on).
fn event_ts(r: &SysFlow) -> Option<i64> {
    match r {
        SysFlow::ProcessEvent(e) => Some(e.ts),
        SysFlow::FileFlow(e) => Some(e.ts),
        SysFlow::FileEvent(e) => Some(e.ts),
        SysFlow::NetworkFlow(e) => Some(e.ts),
        SysFlow::NetworkEvent(e) => Some(e.ts),
        SysFlow::ProcessFlow(e) => Some(e.ts),
        SysFlow::K8sEvent(e) => Some(e.ts),
        _ => None,
    }
}

/// What a record is joined with: its process, parent, file and container.
type Joined = (
    Option<sysflow_model::Process>,
    Option<sysflow_model::Process>,
    Option<sysflow_model::File>,
    Option<sysflow_model::Container>,
);

fn joined(f: &FlatRecord) -> Joined {
    (
        f.proc.as_deref().cloned(),
        f.pproc.as_deref().cloned(),
        f.file.as_deref().cloned(),
        f.container.as_deref().cloned(),
    )
}

/// Each record's joins when the (numbered) trace itself is flattened, by record number.
fn joins_of(recs: &[SysFlow]) -> HashMap<i64, Joined> {
    let mut f = Flattener::default();
    recs.iter()
        .filter_map(|r| f.push(r.clone()))
        .filter_map(|fr| Some((event_ts(&fr.rec)? - TS0, joined(&fr))))
        .collect()
}

/// The record numbers read back, per key in offset order. The `sysflow` stream of each key
/// is flattened with tables of its own, as `sensor run --input kafka` does, and each record
/// must come out joined as in `want` (no record without its entities).
fn numbers_by_key(
    got: &[Msg],
    enc: Encoding,
    want: &HashMap<i64, Joined>,
) -> HashMap<Vec<u8>, Vec<i64>> {
    let mut msgs: Vec<&Msg> = got.iter().collect();
    msgs.sort_by_key(|m| (m.partition, m.offset));
    let mut by_key: HashMap<Vec<u8>, Vec<i64>> = HashMap::new();
    let mut tables: HashMap<Vec<u8>, Flattener> = HashMap::new();
    for m in msgs {
        let ts = match enc {
            Encoding::Json => {
                let v: serde_json::Value =
                    serde_json::from_slice(&m.value).expect("a JSON document");
                v["ts"].as_i64().expect("a ts")
            }
            Encoding::Sysflow => {
                let r = decode_datum(&m.value).expect("a SysFlow datum");
                let t = tables.entry(m.key.clone()).or_default();
                let Some(f) = t.push(r) else { continue };
                let ts = event_ts(&f.rec).expect("a numbered record");
                assert_eq!(
                    Some(&joined(&f)),
                    want.get(&(ts - TS0)),
                    "record {} of key {} joined otherwise than in the trace",
                    ts - TS0,
                    String::from_utf8_lossy(&m.key)
                );
                ts
            }
        };
        by_key.entry(m.key.clone()).or_default().push(ts - TS0);
    }
    by_key
}

/// Checks that every record `0..n` arrived (with the joins of `want`, for the `sysflow`
/// stream) and that each key's records arrived in order (a record sent again after an
/// outage may come twice: its first arrival counts); returns the number of duplicates.
fn assert_all_in_order(
    got: &[Msg],
    n: usize,
    enc: Encoding,
    want: &HashMap<i64, Joined>,
    log: &str,
) -> usize {
    let by_key = numbers_by_key(got, enc, want);
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

/// A consumer that starts reading where the broker froze, with empty tables (as a group
/// member that takes a partition over and reads back only that far), skips each key's
/// messages up to its first header; from there it must join every record as the trace
/// does, and with the records read before the freeze it must see all of them: the stream
/// started over after the gap, with every entity its records need.
fn assert_late_consumer_joins_all(got: &[Msg], f: &Expect) {
    let after = |m: &Msg| m.offset >= f.frozen_at.get(&m.partition).copied().unwrap_or(0);
    let number = |m: &Msg| {
        let r = decode_datum(&m.value).expect("a SysFlow datum");
        event_ts(&r).map(|ts| ts - TS0)
    };
    let mut seen: BTreeSet<i64> = got
        .iter()
        .filter(|m| !after(m))
        .filter_map(number)
        .collect();
    let mut msgs: Vec<&Msg> = got.iter().filter(|m| after(m)).collect();
    msgs.sort_by_key(|m| (m.partition, m.offset));
    let mut tables: HashMap<&[u8], Flattener> = HashMap::new();
    let mut skipped = 0;
    for m in msgs {
        let r = decode_datum(&m.value).expect("a SysFlow datum");
        let key = &m.key[..];
        if !tables.contains_key(key) {
            if !matches!(r, SysFlow::Header(_)) {
                skipped += 1;
                continue;
            }
            tables.insert(key, Flattener::default());
        }
        let Some(t) = tables.get_mut(key) else {
            continue;
        };
        let Some(fr) = t.push(r) else { continue };
        let x = event_ts(&fr.rec).expect("a numbered record") - TS0;
        assert_eq!(
            Some(&joined(&fr)),
            f.want.get(&x),
            "record {x} of key {} joined otherwise from the freeze on",
            String::from_utf8_lossy(key)
        );
        seen.insert(x);
    }
    let missing: Vec<i64> = (0..f.n as i64).filter(|x| !seen.contains(x)).collect();
    assert!(
        missing.is_empty(),
        "a consumer reading from the freeze on misses {} records (first {:?}; {skipped} messages before a header)",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    eprintln!("late consumer: {skipped} messages before the first header of their key");
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

/// Distinct records read back (a record sent twice is the same message; the `sysflow`
/// stream's headers and entities are not records).
fn distinct(got: &[Msg], enc: Encoding) -> usize {
    got.iter()
        .filter(|m| {
            enc == Encoding::Json
                || decode_datum(&m.value)
                    .ok()
                    .as_ref()
                    .and_then(event_ts)
                    .is_some()
        })
        .map(|m| &m.value[..])
        .collect::<HashSet<_>>()
        .len()
}

/// What the reader must get.
struct Expect {
    /// Records the trace exports.
    n: usize,
    enc: Encoding,
    /// Each record's joins in the trace.
    want: HashMap<i64, Joined>,
    /// Per partition, the first offset written after the broker was frozen.
    frozen_at: HashMap<i32, i64>,
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
    expect: Expect,
    /// The exporter's counters once everything was accepted.
    counters: String,
}

fn frozen(topic: &str, enc: Encoding) -> Option<Frozen> {
    let (tansu, py) = peers()?;
    let shared = shared_dir()?;
    let (recs, n) = numbered_trace(&shared);
    let want = joins_of(&recs);
    assert_eq!(want.len(), n);
    let half = recs.len() / 2;
    let tmp = tempfile::tempdir().unwrap();
    let broker = Broker::start(&tansu, tmp.path());
    create_topic(&py, &broker.bootstrap(), topic, 3);
    let mut reader = Reader::start(&py, &broker.bootstrap(), topic, tmp.path());
    let (cfg, buf) = buffered_cfg(tmp.path(), &broker.bootstrap(), topic, enc);
    let mut d = daemon(&cfg, &tmp.path().join("s.sock"));
    let client = Client::connect(&tmp.path().join("s.sock"));
    client.send_all(&recs[..half]);
    let first = numbered_events(&recs[..half], 0).1;
    assert!(
        reader.until(Duration::from_secs(60), |g| distinct(g, enc) >= first),
        "first half not read back"
    );
    // Everything sent so far has been read: later offsets come after the freeze.
    let mut frozen_at = HashMap::new();
    for m in &reader.got {
        let w = frozen_at.entry(m.partition).or_insert(0);
        *w = (*w).max(m.offset + 1);
    }
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
        expect: Expect {
            n,
            enc,
            want,
            frozen_at,
        },
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
    f: &Expect,
    what: &str,
) -> String {
    let n = f.n;
    broker.resume();
    let complete = reader.until(Duration::from_secs(120), |g| distinct(g, f.enc) >= n);
    let (st, log) = d.end(libc::SIGTERM);
    assert!(st.success(), "{log}");
    let got = reader.finish();
    assert!(complete, "not all read back ({} of {n}):\n{log}", got.len());
    let dups = assert_all_in_order(&got, n, f.enc, &f.want, &log);
    if f.enc == Encoding::Sysflow {
        assert_late_consumer_joins_all(&got, f);
    }
    eprintln!(
        "{what}: {} messages read back, {dups} duplicates",
        got.len()
    );
    assert!(log.contains("shutdown: every record delivered"), "{log}");
    log
}

/// The broker frozen while the second half streams, then running again: every record
/// arrives, in order per key, counted once in `out`, and the segments are gone.
fn frozen_broker(topic: &str, enc: Encoding) {
    let _serial = one_at_a_time();
    // The temporary directory holds the disk buffer: it must outlive the sensor.
    let Some(Frozen {
        tmp: _tmp,
        broker,
        reader,
        d,
        buf,
        expect,
        counters,
        ..
    }) = frozen(topic, enc)
    else {
        return;
    };
    let n = expect.n;
    eprintln!("frozen broker ({enc:?}): {n} records: {counters}");
    // Longer frozen than the sensor's reconnection back-off (5 s at most).
    std::thread::sleep(Duration::from_secs(6));
    let log = resume_and_read_all(&broker, reader, d, &expect, "frozen broker");
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

/// The sensor killed with SIGKILL while the broker is frozen, started again on the same
/// directory: every record accepted before the kill arrives, in order per key.
fn kill_9(topic: &str, enc: Encoding) {
    let _serial = one_at_a_time();
    let Some(Frozen {
        tmp,
        broker,
        reader,
        d,
        client,
        cfg,
        expect,
        counters,
        ..
    }) = frozen(topic, enc)
    else {
        return;
    };
    let (st, _) = d.end(libc::SIGKILL);
    assert_eq!(st.signal(), Some(libc::SIGKILL));
    drop(client);
    let (out, persisted) = (counter(&counters, "out"), counter(&counters, "persisted"));
    eprintln!("kill -9 ({enc:?}): {out} delivered before the freeze, {persisted} on disk");

    // Started again on the same directory, the broker back: the disk buffer goes out.
    let mut d = daemon(&cfg, &tmp.path().join("s2.sock"));
    let from_disk = d.wait_log("from an earlier run to deliver");
    eprintln!("kill -9: {from_disk}");
    resume_and_read_all(&broker, reader, d, &expect, "kill -9");
}

#[test]
fn kafka_disk_buffer_delivers_every_record_in_order_after_a_frozen_broker() {
    frozen_broker("kd", Encoding::Json);
}

#[test]
fn kafka_disk_buffer_keeps_every_accepted_record_across_kill_9() {
    kill_9("kk", Encoding::Json);
}

/// The `sysflow` stream through the disk buffer: each record read back is joined, per key,
/// with the entities it had at the source, although the stream resumed after a gap.
#[test]
fn kafka_sysflow_disk_buffer_delivers_every_record_with_its_entities_after_a_frozen_broker() {
    frozen_broker("sd", Encoding::Sysflow);
}

#[test]
fn kafka_sysflow_disk_buffer_keeps_every_record_and_its_entities_across_kill_9() {
    kill_9("sk", Encoding::Sysflow);
}
