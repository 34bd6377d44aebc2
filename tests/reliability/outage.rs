//! A syslog server that goes away: a real rsyslogd on loopback (`testkit::rsyslog`) is stopped
//! while a collector streams a real trace (`k8s_small.sf`, copied over and over, each event
//! numbered in its timestamp by `testkit::run::numbered_events`) through
//! `sensor run --input socket` in enrich mode to the syslog exporter. What arrives at rsyslog
//! is compared with what was sent, record by record:
//!
//! - memory backlog (`backlog.maxbytes` 4 MiB, dropping the oldest): the daemon's resident
//!   memory stays within the limit plus a fixed overhead while ten times the limit streams
//!   through; what is delivered after the outage is exactly the newest records whose messages
//!   (as rsyslog received them) fit in the limit, and the drops counted are the rest;
//! - disk buffer: after rsyslog comes back every record arrives, in order, once;
//! - disk buffer and `kill -9` while rsyslog is down: after a restart of both, every record
//!   the daemon had accepted (persisted) before the kill arrives, in order;
//! - damaged segments (a flipped byte, a cut segment, a cut last record): reported, counted,
//!   the rest delivered in order, no panic.

use std::os::fd::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sysflow_model::SysFlow;
use testkit::reliability::rss_kib;
use testkit::rsyslog::{check_line, free_port, have_rsyslog, Rsyslog};
use testkit::run::{counter, numbered_events, records, Client, Daemon};

use super::sensor;

/// Event `k` of the stream carries timestamp `TS0 + k` (19 digits for every `k`, so the
/// messages of two copies of a record have the same length).
const TS0: i64 = 1_700_000_000_000_000_000;
const EXPORTER: &str = "pipeline[2] (exporter)";
const MIB: u64 = 1 << 20;

/// The trace, and how many of its records are events (exported one message each).
struct Stream {
    recs: Vec<SysFlow>,
    events: usize,
}

impl Stream {
    fn load() -> Option<Stream> {
        let shared = testkit::shared_dir()?;
        let recs = records(&shared.join("traces/k8s_small.sf"));
        let (_, events) = numbered_events(&recs, 0);
        Some(Stream { recs, events })
    }

    /// Copy `c` of the trace: its events are numbered from `c × events`.
    fn copy(&self, c: usize) -> Vec<SysFlow> {
        numbered_events(&self.recs, TS0 + (c * self.events) as i64).0
    }

    /// Event numbers of copies `from..to`.
    fn numbers(&self, from: usize, to: usize) -> Vec<i64> {
        ((from * self.events) as i64..(to * self.events) as i64).collect()
    }
}

/// The pipeline: socket → flattener → policy engine (enrich, no rules: every record) →
/// syslog over TCP with the given `backlog.*` keys.
/// Resident memory beside the backlog that does not grow with it: the pipeline's channels,
/// the encoding threads' batches in flight (two per thread, about 3 MB of JSON each) and
/// their entity fragment caches, allocator slack.
const OVERHEAD_KIB: u64 = 32 * 1024;

fn config(dir: &Path, port: u16, backlog: &[(&str, String)]) -> PathBuf {
    let extra: String = backlog
        .iter()
        .map(|(k, v)| format!(",\"{k}\":\"{v}\""))
        .collect();
    let cfg = dir.join("pipeline.json");
    std::fs::write(
        &cfg,
        format!(
            r#"{{"pipeline":[
  {{"processor":"sysflowreader","handler":"flattener","in":"sysflow sysflowchan","out":"flat flattenerchan"}},
  {{"processor":"policyengine","in":"flat flattenerchan","out":"evt eventchan","mode":"enrich"}},
  {{"processor":"exporter","in":"evt eventchan","export":"syslog","format":"json","syslog.proto":"tcp","syslog.host":"127.0.0.1","syslog.port":"{port}"{extra}}}]}}"#
        ),
    )
    .unwrap();
    cfg
}

/// The daemon, once it listens (and so handles SIGUSR1: before, the signal would kill it).
fn daemon(cfg: &Path, sock: &Path) -> Daemon {
    let mut c = sensor();
    c.args(["run", "--log", "info", "--input", "socket", "--config"])
        .arg(cfg)
        .arg(sock);
    let mut d = Daemon::spawn(c);
    d.wait_log("listening on");
    d
}

/// Waits (bounded) until the exporter has taken `n` records (`in=`); returns its counters.
fn exporter_took(d: &mut Daemon, n: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    // What the backlog says, to see it settle: the exporter may still be handing the last
    // batch to the transport when `in` reaches `n`.
    let state = |c: &str| {
        [
            "backlog_records",
            "backlog_bytes",
            "persisted",
            "dropped",
            "out",
        ]
        .map(|k| counter(c, k))
    };
    let mut last = None;
    loop {
        let c = d.counters(EXPORTER);
        if counter(&c, "in") >= n as u64 {
            let now = state(&c);
            if last == Some(now) {
                return c;
            }
            last = Some(now);
        }
        assert!(Instant::now() < deadline, "exporter stuck: {c}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The event numbers of messages as rsyslog received them.
fn numbers_of(lines: &[String]) -> Vec<i64> {
    lines
        .iter()
        .map(|l| check_line(l)["ts"].as_i64().expect("a ts") - TS0)
        .collect()
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    v.sort();
    v
}

/// The first record number of a segment, from its name.
fn first_of(seg: &Path) -> i64 {
    let name = seg.file_name().unwrap().to_str().unwrap();
    name[..20].parse().unwrap()
}

/// A daemon streaming to rsyslog that then goes away: rsyslog up, copy 0 of the trace sent
/// and delivered, rsyslog stopped.
struct Outage {
    tmp: tempfile::TempDir,
    s: Stream,
    rs: Rsyslog,
    d: Daemon,
    client: Client,
    /// The disk buffer's directory (`backlog.path` = `"BUF"` in the keys given).
    buf: PathBuf,
    cfg: PathBuf,
}

impl Outage {
    fn begin(backlog: &[(&str, &str)]) -> Option<Outage> {
        if !have_rsyslog() {
            return None;
        }
        let s = Stream::load()?;
        let tmp = tempfile::tempdir().unwrap();
        let port = free_port();
        let rs = Rsyslog::start(tmp.path(), "tcp", port);
        let buf = tmp.path().join("buffer");
        let keys: Vec<(&str, String)> = backlog
            .iter()
            .map(|&(k, v)| (k, v.replace("BUF", &buf.display().to_string())))
            .collect();
        let cfg = config(tmp.path(), port, &keys);
        let sock = tmp.path().join("s.sock");
        let d = daemon(&cfg, &sock);
        let client = Client::connect(&sock);
        let mut o = Outage {
            tmp,
            s,
            rs,
            d,
            client,
            buf,
            cfg,
        };
        o.send_paced(0, 0);
        o.rs.stop();
        Some(o)
    }

    /// Sends copy `c` with the server up, in slices that fit the smallest backlog, each
    /// received by rsyslog (which has `before` lines already) before the next: a server
    /// slower than the exporter would otherwise make it drop (`drop_oldest`) or spill.
    fn send_paced(&mut self, c: usize, before: usize) {
        let mut sent = 0;
        for slice in self.s.copy(c).chunks(1000) {
            self.client.send_all(slice);
            sent += numbered_events(slice, 0).1;
            let want = before + sent;
            let got = self.rs.raw_lines(want, Duration::from_secs(60)).len();
            assert_eq!(got, want, "copy {c} with the server up");
        }
        assert_eq!(sent, self.s.events, "events of a copy");
    }

    /// Server down: copies `1..=copies`, each taken by the exporter before the next is sent
    /// (so the pipeline's channels stay empty and memory shows the backlog). Returns the
    /// daemon's RSS before and its peak, in KiB.
    fn stream_down(&mut self, copies: usize) -> (u64, u64) {
        let pid = self.d.child.id();
        let base = rss_kib(pid);
        let mut peak = base;
        for c in 1..=copies {
            self.client.send_all(&self.s.copy(c));
            exporter_took(&mut self.d, (c + 1) * self.s.events);
            peak = peak.max(rss_kib(pid));
        }
        (base, peak)
    }

    /// Server back, and the daemon reconnected.
    fn server_back(&mut self) {
        self.rs.spawn();
        self.d.wait_log("reconnected to syslog");
    }
}

#[test]
fn memory_backlog_stays_bounded_and_drops_exactly_what_did_not_fit() {
    let _g = testkit::isolate::shared();
    let limit = 4 * MIB;
    let Some(mut o) = Outage::begin(&[
        ("backlog.maxbytes", "4MiB"),
        ("backlog.whenfull", "drop_oldest"),
    ]) else {
        return;
    };
    let n = o.s.events;
    // Message bytes of event k of a copy, as rsyslog received them (plus the newline).
    let size: Vec<u64> =
        o.rs.raw_lines(n, Duration::ZERO)
            .iter()
            .map(|l| l.len() as u64 + 1)
            .collect();
    let copies = 9;
    let (base, peak) = o.stream_down(copies);
    let streamed: u64 = size.iter().sum::<u64>() * copies as u64;
    let c = o.d.counters(EXPORTER);
    let held = counter(&c, "backlog_records") as usize;
    let dropped = counter(&c, "dropped_full") as usize;
    assert_eq!(held + dropped, copies * n, "{c}");
    assert_eq!(counter(&c, "dropped"), dropped as u64, "{c}");
    assert!(counter(&c, "backlog_bytes") <= limit, "{c}");
    assert!(streamed > 10 * limit, "{streamed} bytes streamed");
    let overhead_kib = OVERHEAD_KIB;
    eprintln!(
        "outage: {streamed} bytes streamed, {held} records held ({} bytes), {dropped} dropped; RSS {base} KiB before, peak {peak} KiB",
        counter(&c, "backlog_bytes")
    );
    assert!(
        peak <= base + limit / 1024 + overhead_kib,
        "RSS grew from {base} KiB to {peak} KiB with a {limit}-byte backlog"
    );

    // Server back: the held records, then copy 10.
    o.server_back();
    assert_eq!(
        o.rs.raw_lines(n + held, Duration::from_secs(60)).len(),
        n + held,
        "held records after the outage"
    );
    o.send_paced(copies + 1, n + held);
    let total = n + held + n;
    let lines = o.rs.lines_within(total, Duration::from_secs(120));
    let (st, log) = o.d.end(libc::SIGTERM);
    assert!(st.success(), "{log}");
    let s = &o.s;
    let mut want = s.numbers(0, 1);
    let outage = s.numbers(1, copies + 1);
    want.extend_from_slice(&outage[outage.len() - held..]);
    want.extend(s.numbers(copies + 1, copies + 2));
    let got = numbers_of(&lines);
    assert_eq!(lines.len(), total, "{log}");
    if let Some(i) = (0..want.len()).find(|&i| got[i] != want[i]) {
        panic!(
            "the newest held records, in order: first difference at line {i}: got {:?}, want {:?}",
            &got[i.saturating_sub(2)..(i + 3).min(got.len())],
            &want[i.saturating_sub(2)..(i + 3).min(want.len())]
        );
    }
    // The held records are exactly the newest that fit: their bytes as received are within
    // the limit (and equal the sensor's gauge), and one more would not have been.
    let kept: u64 = outage[outage.len() - held..]
        .iter()
        .map(|&k| size[k as usize % n])
        .sum();
    let next = size[(outage[outage.len() - held - 1] as usize) % n];
    assert_eq!(kept, counter(&c, "backlog_bytes"), "{c}");
    assert!(
        kept <= limit && kept + next > limit,
        "{kept} + {next} vs {limit}"
    );
    assert!(log.contains("backlog full"), "{log}");
}

#[test]
fn disk_buffer_delivers_every_record_in_order_after_the_outage() {
    let _g = testkit::isolate::shared();
    let Some(mut o) = Outage::begin(&[("backlog.maxbytes", "4MiB"), ("backlog.path", "BUF")])
    else {
        return;
    };
    let n = o.s.events;
    // Records of copy 0 the exporter wrote to disk while the server was up but slower than
    // the encoders (delivered since): not part of the outage.
    let before = counter(&exporter_took(&mut o.d, n), "persisted");
    // Server down: 8 copies (about 120 MB of messages) go to disk; memory stays put.
    let copies = 8;
    let (base, peak) = o.stream_down(copies);
    let c = o.d.counters(EXPORTER);
    assert_eq!(
        counter(&c, "persisted") - before,
        (copies * n) as u64,
        "{c}"
    );
    assert_eq!(counter(&c, "backlog_records"), (copies * n) as u64, "{c}");
    assert_eq!(counter(&c, "dropped"), 0, "{c}");
    eprintln!(
        "disk outage: {} records, {} bytes on disk; RSS {base} KiB before, peak {peak} KiB",
        copies * n,
        counter(&c, "backlog_disk_bytes")
    );
    assert!(
        peak <= base + 4 * 1024 + OVERHEAD_KIB,
        "RSS {base} → {peak} KiB"
    );
    o.server_back();
    o.client.send_all(&o.s.copy(copies + 1));
    let total = (copies + 2) * n;
    let lines = o.rs.lines_within(total, Duration::from_secs(180));
    let (st, log) = o.d.end(libc::SIGTERM);
    assert!(st.success(), "{log}");
    assert_eq!(lines.len(), total, "{log}");
    assert!(
        numbers_of(&lines) == o.s.numbers(0, copies + 2),
        "every record, in order, once"
    );
    assert!(log.contains("shutdown: every record delivered"), "{log}");
    assert!(
        segments(&o.buf).is_empty(),
        "delivered segments are removed"
    );
}

/// Sends copies of the trace until the socket breaks (the daemon was killed).
fn stream_until_broken(
    client: Client,
    s: &Stream,
    from_copy: usize,
) -> std::thread::JoinHandle<()> {
    let msgs: Vec<Vec<u8>> = (from_copy..from_copy + 8)
        .flat_map(|c| s.copy(c))
        .map(|r| {
            let mut b = Vec::new();
            sysflow_model::avro::datum::encode_datum(&r, &mut b);
            b
        })
        .collect();
    std::thread::spawn(move || {
        for m in msgs {
            // SAFETY: a valid socket and buffer; MSG_NOSIGNAL: a dead peer is an error.
            let n = unsafe {
                libc::send(
                    client.0.as_raw_fd(),
                    m.as_ptr().cast(),
                    m.len(),
                    libc::MSG_NOSIGNAL,
                )
            };
            if n < 0 {
                return;
            }
        }
    })
}

#[test]
fn disk_buffer_keeps_every_accepted_record_across_kill_9() {
    let _g = testkit::isolate::shared();
    let Some(mut o) = Outage::begin(&[("backlog.path", "BUF")]) else {
        return;
    };
    let n = o.s.events;
    // Server down: two copies accepted (on disk), then more streaming while the daemon is
    // killed.
    o.stream_down(2);
    let c = o.d.counters(EXPORTER);
    assert_eq!(counter(&c, "persisted"), (2 * n) as u64, "{c}");
    let Outage {
        tmp,
        s,
        mut rs,
        mut d,
        client,
        cfg,
        ..
    } = o;
    let sender = stream_until_broken(client, &s, 3);
    std::thread::sleep(Duration::from_millis(300));
    let c = d.counters(EXPORTER);
    let accepted = counter(&c, "persisted") as usize;
    let (st, _) = d.end(libc::SIGKILL);
    assert_eq!(st.signal(), Some(libc::SIGKILL));
    sender.join().unwrap();
    assert!(accepted >= 2 * n, "{c}");
    eprintln!("kill -9: {accepted} records accepted (persisted) while the server was down");

    // Both back: everything accepted arrives, in order, from where the outage began.
    rs.spawn();
    let sock2 = tmp.path().join("s2.sock");
    let mut d = daemon(&cfg, &sock2);
    let from_disk = d.wait_log("from an earlier run to deliver");
    let recovered: usize = from_disk
        .split(" records from an earlier run")
        .next()
        .and_then(|h| h.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{from_disk}"));
    assert!(
        recovered >= accepted,
        "{recovered} recovered, {accepted} accepted"
    );
    let lines = rs.lines_within(n + recovered, Duration::from_secs(180));
    let (st, log) = d.end(libc::SIGTERM);
    assert!(st.success(), "{log}");
    assert_eq!(lines.len(), n + recovered, "{log}");
    let want: Vec<i64> = s.numbers(0, 1 + 8 + 2)[..n + recovered].to_vec();
    assert!(numbers_of(&lines) == want, "everything accepted, in order");
    assert!(log.contains("shutdown: every record delivered"), "{log}");
}

#[test]
fn damaged_disk_segments_are_reported_and_the_rest_delivered() {
    let _g = testkit::isolate::shared();
    if !have_rsyslog() {
        return;
    }
    let Some(s) = Stream::load() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let buf = tmp.path().join("buffer");
    // 32 MiB of disk: 4 MiB segments, about 1,400 records each.
    let cfg = config(
        tmp.path(),
        port,
        &[
            ("backlog.path", buf.display().to_string()),
            ("backlog.disk.maxbytes", "32MiB".into()),
        ],
    );
    // No server at all: every record goes to disk; at shutdown they stay there.
    let sock = tmp.path().join("s.sock");
    let mut d = daemon(&cfg, &sock);
    let client = Client::connect(&sock);
    let n = s.events;
    client.send_all(&s.copy(0));
    client.send_all(&s.copy(1));
    let c = exporter_took(&mut d, 2 * n);
    assert_eq!(counter(&c, "persisted"), (2 * n) as u64, "{c}");
    drop(client);
    let (st, log) = d.end(libc::SIGTERM);
    assert!(st.success(), "{log}");
    assert!(
        log.contains(&format!(
            "shutdown: {} records kept in the disk buffer",
            2 * n
        )),
        "{log}"
    );

    let segs = segments(&buf);
    assert!(segs.len() >= 4, "{segs:?}");
    // A flipped byte in the middle of segment 1: one record lost.
    let mut data = std::fs::read(&segs[1]).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0x5a;
    std::fs::write(&segs[1], data).unwrap();
    // Segment 2 cut in half: the records of its second half lost.
    let len2 = std::fs::metadata(&segs[2]).unwrap().len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&segs[2])
        .unwrap();
    f.set_len(len2 / 2).unwrap();
    // The last record cut short, as by a crash during its write.
    let last = segs.last().unwrap();
    let len = std::fs::metadata(last).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(last).unwrap();
    f.set_len(len - 10).unwrap();

    let mut rs = Rsyslog::start(tmp.path(), "tcp", port);
    let mut d = daemon(&cfg, &tmp.path().join("s2.sock"));
    // Wait for the delivery to settle, then stop.
    let deadline = Instant::now() + Duration::from_secs(120);
    let c = loop {
        let c = d.counters(EXPORTER);
        if counter(&c, "backlog_records") == 0 || Instant::now() > deadline {
            break c;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let (st, log) = d.end(libc::SIGTERM);
    assert!(st.success(), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    let got = numbers_of(&rs.lines_within(0, Duration::ZERO));
    rs.stop();
    // What is missing: one record of segment 1, a tail run of segment 2, the last record.
    let all = s.numbers(0, 2);
    let missing: Vec<i64> = all.iter().copied().filter(|k| !got.contains(k)).collect();
    let in_seg = |k: i64, i: usize| {
        k >= first_of(&segs[i]) && segs.get(i + 1).is_none_or(|nx| k < first_of(nx))
    };
    let m1: Vec<i64> = missing.iter().copied().filter(|&k| in_seg(k, 1)).collect();
    let m2: Vec<i64> = missing.iter().copied().filter(|&k| in_seg(k, 2)).collect();
    assert_eq!(m1.len(), 1, "{missing:?}");
    assert!(!m2.is_empty(), "{missing:?}");
    assert_eq!(
        *m2.last().unwrap(),
        first_of(&segs[3]) - 1,
        "a run to the end of segment 2"
    );
    assert_eq!(m2.len() as i64, m2.last().unwrap() - m2[0] + 1, "one run");
    assert_eq!(missing.len(), 1 + m2.len() + 1, "{missing:?}");
    assert_eq!(
        *missing.last().unwrap(),
        (2 * n - 1) as i64,
        "the cut last record"
    );
    // Everything else arrived, in order, once.
    let want: Vec<i64> = all
        .iter()
        .copied()
        .filter(|k| !missing.contains(k))
        .collect();
    assert!(got == want, "the rest, in order");
    // Reported: the damage in segments 1 and 2 (counted), the cut at the end (on opening).
    assert_eq!(counter(&c, "dropped_corrupt"), (1 + m2.len()) as u64, "{c}");
    for seg in &segs[1..3] {
        let name = seg.file_name().unwrap().to_str().unwrap();
        assert!(
            log.contains(&format!("{name}: ")),
            "{name} reported:\n{log}"
        );
    }
    assert!(log.contains("after the last whole record cut off"), "{log}");
}

#[test]
fn shutdown_without_a_disk_buffer_counts_exactly_what_it_dropped() {
    let _g = testkit::isolate::shared();
    if !have_rsyslog() {
        return;
    }
    let Some(s) = Stream::load() else { return };
    let tmp = tempfile::tempdir().unwrap();
    // Nothing listens on the port: the run ends with everything undelivered.
    let cfg = config(tmp.path(), free_port(), &[]);
    let sock = tmp.path().join("s.sock");
    let mut d = daemon(&cfg, &sock);
    let client = Client::connect(&sock);
    client.send_all(&s.copy(0));
    exporter_took(&mut d, s.events);
    drop(client);
    let t = Instant::now();
    let (st, log) = d.end(libc::SIGTERM);
    assert!(st.success(), "{log}");
    // It waited for the server as long as the close deadline allows, then said so.
    assert!(t.elapsed() >= Duration::from_secs(9), "{:?}", t.elapsed());
    let n = s.events;
    assert!(
        log.contains(&format!("gave up at shutdown; {n} records")),
        "{log}"
    );
    let exit = log
        .lines()
        .find(|l| l.contains(&format!("counters (exit) {EXPORTER}:")))
        .unwrap();
    assert_eq!(counter(exit, "dropped_shutdown"), n as u64, "{exit}");
    assert_eq!(counter(exit, "dropped"), n as u64, "{exit}");
}
