//! Soak: a stream of records through `socket → policy engine (enrich) → file exporter`, with an
//! exporter that is slow on purpose — its file is a FIFO that this test drains at a limited
//! rate. Asserts that
//!
//! - every record comes out exactly once and in order (each event carries its sequence number
//!   in its timestamp);
//! - backpressure reaches the socket: the collector's `send` would block (it sends with
//!   `MSG_DONTWAIT` and has to wait for `POLLOUT`) for most of the run, and it never runs
//!   ahead of what the exporter has written by more than the pipeline's bounded capacity
//!   (three channels of 64 batches of 1024 records, the batches each stage and the policy
//!   workers hold, the FIFO's buffer and the socket's queue);
//! - memory stays bounded: the daemon's `VmRSS`, sampled every 50 ms, plateaus — over the
//!   steady state (from when the collector's lead reaches 90 % of its maximum until it has sent
//!   everything), its maximum over the second half is at most 16 MiB above the first half's.
//!
//! The reader first reads nothing until the collector is blocked (the exporter stalled), then
//! drains at its rate limit. CI size: 300 k records read at 20 k lines/s (~16 s; the debug
//! daemon alone does ~25-45 k/s here). The pipeline holds at most ~207 k records in full
//! batches, but the socket driver hands a batch on after every read round, so under
//! backpressure its batches are partial and the lead stays lower (~50 k in debug).
//! `cargo xtask soak --records N [--rate R]` runs this same test in release
//! (`SENSOR_SOAK_RECORDS`, `SENSOR_SOAK_RATE`; rate 0 = read as fast as possible, and then
//! only the order, the bound on the lead and the figures are checked).

use std::ffi::CString;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use sysflow_model::avro::datum::encode_datum;
use testkit::reliability::{rss_hwm_kib, rss_kib};
use testkit::traces;

use super::sensor;

/// `traces::event(i)` has timestamp `TS0 + i`.
const TS0: i64 = 1_600_000_000_000_000_000 + 100;
/// `defaults::BATCH` and `defaults::CHANNEL_BATCHES` of the sensor (config/defaults.rs).
const BATCH: u64 = 1024;
const CHANNEL_BATCHES: u64 = 64;
/// Channels on the way: driver → flattener → policy engine → exporter.
const CHANNELS: u64 = 3;
/// Policy workers the test configures (`concurrency`).
const POLICY_WORKERS: u64 = 2;
/// Batches the stages hold outside the channels: the driver's batch being sent, the
/// flattener's input and output batches, the policy stage's `2 × workers` batches in flight
/// plus the one it is passing on (run/policy_stage.rs), the exporter's batch.
const IN_HAND_BATCHES: u64 = 1 + 2 + (2 * POLICY_WORKERS + 1) + 1;
/// Messages a connected SOCK_SEQPACKET socket queues (`net.unix.max_dgram_qlen`, 512 by
/// default; the sender's buffer usually stops it earlier), with margin.
const SOCKET_QUEUE: u64 = 1024;
/// Linux pipe (FIFO) capacity by default.
const PIPE_BYTES: u64 = 64 * 1024;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).expect("path without NUL");
    // SAFETY: valid C string.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(rc, 0, "mkfifo: {}", std::io::Error::last_os_error());
}

/// A SOCK_SEQPACKET client that counts how often and how long its socket was full.
struct Client {
    fd: OwnedFd,
    /// Sends that found the socket full.
    stalls: u64,
    /// Time spent waiting for the socket to take a message.
    blocked: Duration,
}

impl Client {
    fn connect(path: &Path) -> Client {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            // SAFETY: plain socket calls on a fresh fd.
            let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0) };
            assert!(fd >= 0);
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
            addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
            for (d, s) in addr.sun_path.iter_mut().zip(path.as_os_str().as_bytes()) {
                *d = *s as libc::c_char;
            }
            let rc = unsafe {
                libc::connect(
                    fd.as_raw_fd(),
                    (&addr as *const libc::sockaddr_un).cast(),
                    std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
                )
            };
            if rc == 0 {
                return Client {
                    fd,
                    stalls: 0,
                    blocked: Duration::ZERO,
                };
            }
            assert!(
                Instant::now() < deadline,
                "cannot connect to {}",
                path.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends one message; when the socket is full, waits for room (bounded by `deadline`).
    fn send(&mut self, msg: &[u8], deadline: Instant) -> Result<(), String> {
        loop {
            // SAFETY: valid fd and buffer.
            let n = unsafe {
                libc::send(
                    self.fd.as_raw_fd(),
                    msg.as_ptr().cast(),
                    msg.len(),
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            };
            if n == msg.len() as isize {
                return Ok(());
            }
            let e = std::io::Error::last_os_error();
            if n >= 0 || e.kind() != std::io::ErrorKind::WouldBlock {
                return Err(format!("send returned {n}: {e}"));
            }
            self.stalls += 1;
            let t = Instant::now();
            if t > deadline {
                return Err("socket full past the deadline".into());
            }
            let mut p = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLOUT,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            unsafe { libc::poll(&mut p, 1, 1000) };
            self.blocked += t.elapsed();
        }
    }
}

/// What the slow reader saw.
struct ReadOutcome {
    lines: u64,
    /// Records the collector got in before its `send` blocked, with nothing read yet.
    stalled_lead: u64,
    min_line: u64,
    /// When the last expected line arrived.
    done_at: Instant,
}

/// Waits, reading nothing, until the collector has sent nothing for half a second — it is
/// blocked, the pipeline full — or has sent everything. Returns how far it got.
fn stall_until_full(sent: &AtomicU64, want: u64, deadline: Instant) -> Result<u64, String> {
    let mut last = u64::MAX;
    let mut quiet = 0;
    loop {
        let now = sent.load(Relaxed);
        if now == want {
            return Ok(now);
        }
        quiet = if now == last && now > 0 { quiet + 1 } else { 0 };
        if quiet >= 5 {
            return Ok(now);
        }
        if Instant::now() > deadline {
            return Err(format!("the collector never blocked (sent {now})"));
        }
        last = now;
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The deliberately slow exporter's reader: first reads nothing until the pipeline is full,
/// then drains the FIFO at no more than `rate` lines/s (0: as fast as it can), checking that
/// line `k` is event `k`. Stops after `want` lines.
fn slow_reader(
    fifo: &mut File,
    want: u64,
    rate: u64,
    (sent, received): (&AtomicU64, &AtomicU64),
    deadline: Instant,
) -> Result<ReadOutcome, String> {
    let stalled_lead = stall_until_full(sent, want, deadline)?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut partial: Vec<u8> = Vec::new();
    let mut lines = 0u64;
    let mut min_line = u64::MAX;
    let start = Instant::now();
    while lines < want {
        if Instant::now() > deadline {
            return Err(format!("only {lines} of {want} records came out in time"));
        }
        let mut p = libc::pollfd {
            fd: fifo.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut p, 1, 200) } <= 0 {
            continue;
        }
        let n = fifo.read(&mut buf).map_err(|e| format!("read fifo: {e}"))?;
        let mut rest = &buf[..n];
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            let line: &[u8] = if partial.is_empty() {
                &rest[..nl]
            } else {
                partial.extend_from_slice(&rest[..nl]);
                &partial
            };
            check_line(line, lines)?;
            min_line = min_line.min(line.len() as u64 + 1);
            lines += 1;
            partial.clear();
            rest = &rest[nl + 1..];
        }
        partial.extend_from_slice(rest);
        received.store(lines, Relaxed);
        // The deliberately slow exporter: hold the reading rate to `rate` lines/s.
        if rate > 0 {
            let due = Duration::from_secs_f64(lines as f64 / rate as f64);
            if let Some(ahead) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(ahead);
            }
        }
    }
    Ok(ReadOutcome {
        lines,
        stalled_lead,
        min_line,
        done_at: Instant::now(),
    })
}

/// Line `k` must be the JSON of event `k`: its `"ts":` value is `TS0 + k`.
fn check_line(line: &[u8], k: u64) -> Result<(), String> {
    let show = || String::from_utf8_lossy(&line[..line.len().min(300)]).into_owned();
    let key = b"\"ts\":";
    let at = line
        .windows(key.len())
        .position(|w| w == key)
        .ok_or_else(|| format!("line {k} has no \"ts\": {}", show()))?;
    let digits: &[u8] = &line[at + key.len()..];
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    let ts: i64 = std::str::from_utf8(&digits[..end])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("line {k}: bad ts: {}", show()))?;
    if ts != TS0 + k as i64 {
        return Err(format!(
            "line {k} is event {} (expected event {k}): lost, duplicated or reordered",
            ts - TS0
        ));
    }
    Ok(())
}

#[test]
fn slow_exporter_backpressure_reaches_the_socket_and_memory_stays_flat() {
    // Timed: the other tests of this binary wait (they hold `isolate::shared`).
    let _cpus = testkit::isolate::exclusive();
    let records = env_u64("SENSOR_SOAK_RECORDS", 300_000);
    let rate = env_u64("SENSOR_SOAK_RATE", 20_000);
    // A hang fails the test rather than the CI job: allow for 20 k records/s at the least.
    let floor = if rate == 0 { 20_000 } else { rate.min(20_000) };
    let budget = Duration::from_secs(60) + Duration::from_secs(records / floor);
    let deadline = Instant::now() + budget;

    let tmp = tempfile::tempdir().expect("tempdir");
    let rules = tmp.path().join("r.yaml");
    std::fs::write(
        &rules,
        "- rule: exec\n  desc: exec\n  condition: sf.type = PE and sf.opflags = EXEC\n  priority: low\n",
    )
    .expect("rules");
    let fifo_path = tmp.path().join("out.fifo");
    mkfifo(&fifo_path);
    // Read-write, so that opening never blocks on either side (Linux) and the reader never
    // sees end-of-file while the daemon starts up.
    let mut fifo = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(&fifo_path)
        .expect("open fifo");
    let cfg = tmp.path().join("p.json");
    std::fs::write(
        &cfg,
        format!(
            r#"{{"pipeline":[
  {{"processor":"sysflowreader","handler":"flattener","in":"sysflow sysflowchan","out":"flat flattenerchan"}},
  {{"processor":"policyengine","in":"flat flattenerchan","out":"evt eventchan","policies":"{}","mode":"enrich","concurrency":"{}"}},
  {{"processor":"exporter","in":"evt eventchan","export":"file","file.path":"{}"}}]}}"#,
            rules.display(),
            POLICY_WORKERS,
            fifo_path.display()
        ),
    )
    .expect("config");
    let sock = tmp.path().join("sysflow.sock");
    let log_path = tmp.path().join("daemon.log");
    let mut child = sensor()
        .args(["run", "--log", "info", "--input", "socket", "--config"])
        .arg(&cfg)
        .arg(&sock)
        .stdout(Stdio::null())
        .stderr(File::create(&log_path).expect("log file"))
        .spawn()
        .expect("spawn sensor run");
    let pid = child.id();

    let sent = AtomicU64::new(0);
    let received = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let started = Instant::now();
    // (seconds since start, VmRSS KiB, collector's lead, collector still sending)
    let mut rss: Vec<(f64, u64, u64, bool)> = Vec::new();
    let mut max_lead = 0u64;
    let (client_res, reader_res) = std::thread::scope(|s| {
        let client = s.spawn(|| {
            let mut c = Client::connect(&sock);
            let mut msg = Vec::with_capacity(512);
            for r in traces::entities() {
                msg.clear();
                encode_datum(&r, &mut msg);
                c.send(&msg, deadline)?;
            }
            let t0 = Instant::now();
            for i in 0..records {
                msg.clear();
                encode_datum(&traces::event(i as i64), &mut msg);
                c.send(&msg, deadline)?;
                sent.store(i + 1, Relaxed);
            }
            Ok::<_, String>((c, t0, t0.elapsed()))
        });
        let reader = s.spawn(|| {
            let r = slow_reader(&mut fifo, records, rate, (&sent, &received), deadline);
            done.store(true, Relaxed);
            r
        });
        while !done.load(Relaxed) && Instant::now() < deadline {
            // Read `received` first: `sent` only grows, so the lead is never underestimated.
            let got = received.load(Relaxed);
            let now_sent = sent.load(Relaxed);
            let lead = now_sent.saturating_sub(got);
            max_lead = max_lead.max(lead);
            let sending = now_sent < records;
            rss.push((started.elapsed().as_secs_f64(), rss_kib(pid), lead, sending));
            std::thread::sleep(Duration::from_millis(50));
        }
        (
            client.join().expect("client thread"),
            reader.join().expect("reader thread"),
        )
    });
    let peak_kib = rss_hwm_kib(pid);

    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let status = child.wait().expect("wait");
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let (client, t0, send_time) = client_res.unwrap_or_else(|e| panic!("client: {e}\n{log}"));
    let out = reader_res.unwrap_or_else(|e| panic!("exporter output: {e}\n{log}"));
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(!log.contains("panicked"), "{log}");

    // Nothing beyond the last record: no duplicate at the end.
    let mut extra = [0u8; 1];
    // SAFETY: flags of our own descriptor.
    unsafe {
        let fl = libc::fcntl(fifo.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(fifo.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
    let n = fifo.read(&mut extra).unwrap_or(0);
    assert_eq!(n, 0, "the exporter wrote more than {records} records");
    assert_eq!(out.lines, records);

    let elapsed = out.done_at.duration_since(t0).as_secs_f64();
    let per_sec = records as f64 / elapsed;
    let capacity = (CHANNELS * CHANNEL_BATCHES + IN_HAND_BATCHES) * BATCH
        + PIPE_BYTES / out.min_line
        + SOCKET_QUEUE;
    println!(
        "soak: {records} records in {elapsed:.1} s = {per_sec:.0} records/s (reader limit {rate}/s); \
         peak RSS (VmHWM) {peak_kib} KiB; exporter stalled: the collector blocked after {} records; \
         max lead of the collector {max_lead} records \
         (bound {capacity}); socket full {} times, {:.1} s of {:.1} s sending",
        out.stalled_lead,
        client.stalls,
        client.blocked.as_secs_f64(),
        send_time.as_secs_f64()
    );

    // Backpressure reaches the socket and bounds what is in flight.
    // More records than the pipeline can hold: with nothing read, the collector must block.
    if records > capacity {
        assert!(
            out.stalled_lead < records,
            "the collector sent all {records} records while nothing was read"
        );
    }
    assert!(
        max_lead.max(out.stalled_lead) <= capacity,
        "the collector ran {max_lead} records ahead of the exporter; the pipeline holds at most {capacity}"
    );
    // Without a reading limit the collector may be the slowest part; nothing to assert then.
    if rate > 0 {
        assert!(
            client.blocked.as_secs_f64() >= 0.5 * send_time.as_secs_f64(),
            "the collector waited for the socket only {:.1} s of {:.1} s: the slow exporter did not hold it back",
            client.blocked.as_secs_f64(),
            send_time.as_secs_f64()
        );
    }

    // Memory plateaus. The pipeline fills in two steps: with the exporter stalled, its
    // batches are tiny (a few records per socket read) and a few thousand records fill it;
    // while it drains at the slow rate, they are replaced by batches of what the socket queue
    // held, and the records in flight (and RSS) grow for some seconds. From the moment the
    // collector's lead reaches 90 % of its maximum until it has sent everything, the second
    // half of that span may add no more than a few MiB to the first.
    let from = rss
        .iter()
        .position(|s| s.2 * 10 >= max_lead * 9)
        .unwrap_or(0);
    let to = rss.iter().rposition(|s| s.3).unwrap_or(rss.len() - 1);
    let steady = &rss[from..=to.max(from)];
    assert!(
        steady.len() >= 20,
        "too short a steady state to judge memory: {} samples of 50 ms",
        steady.len()
    );
    let (a, b) = steady.split_at(steady.len() / 2);
    let first = a.iter().map(|s| s.1).max().unwrap_or(0);
    let second = b.iter().map(|s| s.1).max().unwrap_or(0);
    let quarters: Vec<String> = (1..=8)
        .map(|q| {
            let (t, kib, lead, _) = rss[q * (rss.len() - 1) / 8];
            format!("{t:.0} s: {kib} KiB, lead {lead}")
        })
        .collect();
    println!("soak: VmRSS at {}", quarters.join(", "));
    println!(
        "soak: steady state {:.1}-{:.1} s: VmRSS max {first} KiB over its first half, {second} KiB over its second",
        steady[0].0,
        steady[steady.len() - 1].0
    );
    // Without a reading limit nothing is steady: whichever side is slower changes from moment
    // to moment, the lead swings between a few thousand records and the bound, and RSS with
    // it; the peak is still printed above.
    assert!(
        rate == 0 || second <= first + 16 * 1024,
        "daemon RSS kept growing: max {first} KiB in the first half of the steady state, {second} KiB in the second"
    );
}
