//! `sensor run` end to end, with the real binary:
//!
//! 1. records/s from a 1 M-record trace file through the flattener and the runtimeintegrity
//!    rules to the file exporter, in `alert` mode (what a deployment runs) and in `enrich`
//!    mode (every record JSON-encoded and written: the exporter's worst case), with the
//!    default `concurrency` and `encoders`, with `encoders: 1` and with both at 1; with
//!    `BENCH_BASELINE=/path/to/sensor` (another build, e.g. main before a change) the same
//!    runs of that binary alternate with ours, round by round (it gets no `encoders` key);
//! 2. the sustained socket ingest rate: a SOCK_SEQPACKET client sends 1 M bare datums as
//!    fast as the daemon takes them, into a `null` exporter;
//! 3. the syslog exporter over TCP (enrich mode, every record) into a sink in this process
//!    that counts lines: with the memory backlog and with a disk buffer configured, the
//!    server up (alternating, best of three: the disk buffer must not slow this path); then
//!    the server down (everything goes to disk) and the disk buffer delivered after a
//!    restart.
//!
//! The trace is built with our writer by replicating the records of the real traces
//! (`k8s_small.sf`, `1621959914.sf`), entity records included in every replica so OIDs stay
//! joinable. Timings include process start-up and rule compilation (a few ms).
//!
//! Run: `cargo bench -p sensor --bench pipeline` (`BENCH_RECORDS` changes the record count,
//! `BENCH_EXPORT=FILE` the exporter's output file, default in the temporary directory
//! (`/dev/null` or a tmpfs file takes the disk out of the measurement),
//! `BENCH_KEEP_TRACE=FILE` keeps a copy of the trace, e.g. for `perf record`, `BENCH_ONLY=file`,
//! `socket` or `syslog` runs one part). Besides wall
//! time, the daemon's CPU time (user + system, from `getrusage`) is shown: on a loaded
//! machine records per CPU-second is the steadier figure.
//! Needs `../shared` beside the repository (or `$SYSFLOW_SHARED`); skipped otherwise.

use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sysflow_model::avro::{datum, Codec, Reader, Writer};
use sysflow_model::SysFlow;

/// `../shared` (`testkit` prints SKIPPED when it is absent).
fn shared() -> Option<PathBuf> {
    testkit::shared_dir()
}

/// The real traces' header and body records.
fn source_records(dir: &Path) -> (SysFlow, Vec<SysFlow>) {
    let mut header = None;
    let mut body = Vec::new();
    for name in ["k8s_small.sf", "1621959914.sf"] {
        let f = std::fs::File::open(dir.join(name)).expect("open trace");
        for r in Reader::new(BufReader::new(f)).expect("trace header") {
            match r.expect("record") {
                SysFlow::Header(h) => {
                    header.get_or_insert(h);
                }
                rec => body.push(rec),
            }
        }
    }
    (SysFlow::Header(header.expect("a header")), body)
}

/// Header, then the body replicated until `target` records.
fn replicated<'a>(
    header: &'a SysFlow,
    body: &'a [SysFlow],
    target: usize,
) -> impl Iterator<Item = SysFlow> + 'a {
    std::iter::once(header.clone()).chain(body.iter().cloned().cycle().take(target - 1))
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// One configuration of the file bench.
struct Case {
    mode: &'static str,
    concurrency: Option<usize>,
    encoders: Option<usize>,
}

fn pipeline_json(policies: &Path, c: &Case, out: &Path) -> String {
    let conc = c
        .concurrency
        .map_or(String::new(), |c| format!(r#","concurrency":"{c}""#));
    let enc = c
        .encoders
        .map_or(String::new(), |c| format!(r#","encoders":"{c}""#));
    format!(
        r#"{{"pipeline":[
  {{"processor":"sysflowreader","handler":"flattener","in":"sysflow sysflowchan","out":"flat flattenerchan"}},
  {{"processor":"policyengine","in":"flat flattenerchan","out":"evt eventchan","policies":"{}","mode":"{}"{conc}}},
  {{"processor":"exporter","in":"evt eventchan","export":"file","format":"json","file.path":"{}","file.truncate":"true"{enc}}}]}}"#,
        policies.display(),
        c.mode,
        out.display()
    )
}

/// CPU time (user + system) used by waited-for children so far.
fn children_cpu() -> Duration {
    // SAFETY: getrusage fills the struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Runs a binary once; returns the wall time, CPU time and the exporter's written count.
fn run_file(bin: &Path, cfg: &Path, trace: &Path) -> (Duration, Duration, u64) {
    let (t, cpu, err) = run_logged(bin, cfg, trace);
    (t.elapsed(), cpu, exporter_out(&err))
}

/// Runs `bin` on `trace` with `cfg` until it exits; returns when it started, its CPU time
/// and its log.
fn run_logged(bin: &Path, cfg: &Path, trace: &Path) -> (Instant, Duration, String) {
    let cpu0 = children_cpu();
    let t = Instant::now();
    let o = Command::new(bin)
        .args(["run", "--log", "info", "--config"])
        .arg(cfg)
        .arg(trace)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run sensor");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "sensor run failed:\n{err}");
    (t, children_cpu() - cpu0, err)
}

/// `out=` of the exporter's exit counters.
fn exporter_out(log: &str) -> u64 {
    log.lines()
        .filter(|l| l.contains("counters (exit)") && l.contains("exporter"))
        .filter_map(|l| l.split(" out=").nth(1))
        .filter_map(|s| s.split_whitespace().next()?.parse().ok())
        .next()
        .unwrap_or(0)
}

fn file_bench(shared: &Path, trace: &Path, n: usize, tmp: &Path) {
    let policies = shared.join("policies/runtimeintegrity");
    if !policies.is_dir() {
        println!("SKIPPED: {} not found", policies.display());
        return;
    }
    let out = std::env::var_os("BENCH_EXPORT")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.join("export.json"));
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_sensor"));
    let baseline = std::env::var_os("BENCH_BASELINE").map(PathBuf::from);
    let case = |mode, concurrency, encoders| Case {
        mode,
        concurrency,
        encoders,
    };
    let cases = [
        case("alert", None, None),
        case("alert", Some(1), None),
        case("enrich", None, None),
        case("enrich", None, Some(1)),
        case("enrich", Some(1), Some(1)),
    ];
    // (binary, case index) → best wall, best CPU, records written, bytes.
    let mut runs: Vec<(PathBuf, usize, Duration, Duration, u64, u64)> = Vec::new();
    println!(
        "file bench: output {}, load average {}",
        out.display(),
        testkit::run::load_average()
    );
    for _round in 0..3 {
        for (ci, c) in cases.iter().enumerate() {
            for bin in std::iter::once(&ours).chain(baseline.as_ref()) {
                if bin != &ours && c.encoders.is_some() {
                    continue;
                }
                let cfg = tmp.join("pipeline.json");
                std::fs::write(&cfg, pipeline_json(&policies, c, &out)).expect("write cfg");
                let (d, cpu, w) = run_file(bin, &cfg, trace);
                let bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
                match runs.iter_mut().find(|r| &r.0 == bin && r.1 == ci) {
                    Some(r) => {
                        r.2 = r.2.min(d);
                        r.3 = r.3.min(cpu);
                    }
                    None => runs.push((bin.clone(), ci, d, cpu, w, bytes)),
                }
            }
        }
    }
    // Only a file the bench made: `BENCH_EXPORT=/dev/null` must survive it.
    if std::fs::symlink_metadata(&out).is_ok_and(|m| m.is_file()) {
        let _ = std::fs::remove_file(&out);
    }
    for (bin, ci, best, best_cpu, written, bytes) in &runs {
        let c = &cases[*ci];
        let who = if bin == &ours { "ours    " } else { "baseline" };
        let opt = |o: Option<usize>| o.map_or("default".to_string(), |c| c.to_string());
        println!(
            "{who} file → runtimeintegrity ({:6}, concurrency {:>7}, encoders {:>7}) → file: {:>10.0} records/s ({:.3} s; {:.3} s CPU = {:.0} records/CPU-s; {written} records exported, {:.1} MB)",
            c.mode,
            opt(c.concurrency),
            opt(c.encoders),
            rate(n, *best),
            best.as_secs_f64(),
            best_cpu.as_secs_f64(),
            rate(n, *best_cpu),
            *bytes as f64 / 1e6
        );
    }
    println!("load average after: {}", testkit::run::load_average());
}

/// A collector-side SOCK_SEQPACKET connection.
struct Client(OwnedFd);

impl Client {
    fn connect(path: &Path) -> Client {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            // SAFETY: plain socket calls on a fresh fd that is owned right away.
            let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0) };
            assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
            addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
            for (d, s) in addr
                .sun_path
                .iter_mut()
                .zip(path.as_os_str().as_encoded_bytes())
            {
                *d = *s as libc::c_char;
            }
            // SAFETY: addr is a valid sockaddr_un.
            let rc = unsafe {
                libc::connect(
                    fd.as_raw_fd(),
                    (&addr as *const libc::sockaddr_un).cast(),
                    std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
                )
            };
            if rc == 0 {
                return Client(fd);
            }
            assert!(
                Instant::now() < deadline,
                "cannot connect to {}",
                path.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn send(&self, msg: &[u8]) {
        // SAFETY: msg is valid for its length.
        let n = unsafe { libc::send(self.0.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
        assert_eq!(
            n,
            msg.len() as isize,
            "send: {}",
            std::io::Error::last_os_error()
        );
    }
}

fn socket_bench(header: &SysFlow, body: &[SysFlow], n: usize, tmp: &Path) {
    // Pre-encoded, so the client measures the daemon and not its own encoder.
    let mut msgs: Vec<Vec<u8>> = Vec::new();
    for r in std::iter::once(header).chain(body.iter()) {
        let mut b = Vec::new();
        datum::encode_datum(r, &mut b);
        msgs.push(b);
    }
    let cfg = tmp.join("socket.json");
    std::fs::write(
        &cfg,
        r#"{"pipeline":[
  {"processor":"sysflowreader","handler":"flattener","in":"sysflow sysflowchan","out":"flat flattenerchan"},
  {"processor":"exporter","in":"flat flattenerchan","export":"null","format":"json"}]}"#,
    )
    .expect("write cfg");
    let sock = tmp.join("sysflow.sock");
    let cpu0 = children_cpu();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sensor"))
        .args(["run", "--log", "info", "--input", "socket", "--config"])
        .arg(&cfg)
        .arg(&sock)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sensor");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let err = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let c = Client::connect(&sock);
    let t = Instant::now();
    c.send(&msgs[0]);
    for m in msgs[1..].iter().cycle().take(n - 1) {
        c.send(m);
    }
    let sent = t.elapsed();
    drop(c);
    // Ingest ends when the driver has read the last message and seen the disconnect.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut log = Vec::new();
    let done = loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(l) => {
                let hit = l.contains("collector disconnected");
                log.push(l);
                if hit {
                    break t.elapsed();
                }
            }
            Err(_) if Instant::now() > deadline => {
                panic!("no disconnect seen:\n{}", log.join("\n"))
            }
            Err(_) => {}
        }
    };
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let st = child.wait().expect("wait");
    let cpu = children_cpu() - cpu0;
    let _ = reader.join();
    log.extend(rx.try_iter());
    assert!(st.success(), "sensor failed:\n{}", log.join("\n"));
    let driver_in = log
        .iter()
        .filter(|l| l.contains("counters (exit)") && l.contains("driver"))
        .filter_map(|l| {
            l.split(" in=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .next()
        .unwrap_or(0);
    assert_eq!(driver_in, n as u64, "records lost:\n{}", log.join("\n"));
    println!(
        "socket (SEQPACKET, 1 datum/message) → flattener → null: {:>10.0} records/s ({:.3} s; daemon {:.3} s CPU; client done after {:.3} s)",
        rate(n, done),
        done.as_secs_f64(),
        cpu.as_secs_f64(),
        sent.as_secs_f64()
    );
}

fn main() {
    let Some(shared) = shared() else {
        println!("SKIPPED: ../shared not found");
        return;
    };
    let n: usize = std::env::var("BENCH_RECORDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let (header, body) = source_records(&shared.join("traces"));
    let tmp = tempfile::tempdir().expect("tempdir");
    let trace = tmp.path().join("bench.sf");
    {
        let f = std::fs::File::create(&trace).expect("create trace");
        let mut w = Writer::new(std::io::BufWriter::new(f), Codec::Deflate).expect("writer");
        for r in replicated(&header, &body, n) {
            w.write(&r).expect("write");
        }
        w.finish().expect("finish");
    }
    if let Some(keep) = std::env::var_os("BENCH_KEEP_TRACE") {
        std::fs::copy(&trace, &keep).expect("copy trace");
    }
    println!(
        "machine: {} cores, {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_model()
    );
    println!(
        "trace: {n} records, {:.1} MB (deflate), from k8s_small.sf + 1621959914.sf",
        std::fs::metadata(&trace).map_or(0, |m| m.len()) as f64 / 1e6
    );
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    if only.is_empty() || only == "file" {
        file_bench(&shared, &trace, n, tmp.path());
    }
    if only.is_empty() || only == "socket" {
        socket_bench(&header, &body, n, tmp.path());
    }
    if only.is_empty() || only == "syslog" {
        syslog_bench(&trace, n, tmp.path());
    }
}

/// A syslog server that reads and counts lines (what the sensor sends: one per record).
struct LineSink {
    port: u16,
    lines: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl LineSink {
    fn start() -> LineSink {
        use std::io::Read;
        use std::sync::atomic::Ordering::Relaxed;
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind sink");
        let port = l.local_addr().expect("sink addr").port();
        let lines = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let count = lines.clone();
        std::thread::spawn(move || {
            for conn in l.incoming().map_while(Result::ok) {
                let count = count.clone();
                std::thread::spawn(move || {
                    let mut conn = conn;
                    let mut buf = vec![0u8; 1 << 20];
                    while let Ok(n) = conn.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        let nl = buf[..n].iter().filter(|&&b| b == b'\n').count();
                        count.fetch_add(nl as u64, Relaxed);
                    }
                });
            }
        });
        LineSink { port, lines }
    }

    fn count(&self) -> u64 {
        self.lines.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Waits (300 s at most) until `n` lines arrived since `from`.
    fn wait(&self, from: u64, n: u64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(300);
        while self.count() < from + n {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }
}

fn syslog_json(port: u16, disk: Option<&Path>) -> String {
    let disk = disk.map_or(String::new(), |d| {
        format!(r#","backlog.path":"{}""#, d.display())
    });
    format!(
        r#"{{"pipeline":[
  {{"processor":"sysflowreader","handler":"flattener","in":"sysflow sysflowchan","out":"flat flattenerchan"}},
  {{"processor":"policyengine","in":"flat flattenerchan","out":"evt eventchan","mode":"enrich"}},
  {{"processor":"exporter","in":"evt eventchan","export":"syslog","format":"json","syslog.proto":"tcp","syslog.host":"127.0.0.1","syslog.port":"{port}"{disk}}}]}}"#
    )
}

/// `counter=` of the exporter's exit counters.
fn exporter_counter(log: &str, name: &str) -> u64 {
    log.lines()
        .filter(|l| l.contains("counters (exit)") && l.contains("exporter"))
        .filter_map(|l| l.split(&format!(" {name}=")).nth(1))
        .filter_map(|s| s.split_whitespace().next()?.parse().ok())
        .next()
        .unwrap_or(0)
}

fn syslog_bench(trace: &Path, n: usize, tmp: &Path) {
    let sink = LineSink::start();
    let cfg = tmp.join("syslog.json");
    let buf = tmp.join("backlog");
    // The server up: memory backlog vs disk buffer configured, alternating.
    let mut best = [(Duration::MAX, Duration::MAX); 2];
    let mut sent = 0;
    for _ in 0..3 {
        for (i, disk) in [None, Some(buf.as_path())].into_iter().enumerate() {
            std::fs::write(&cfg, syslog_json(sink.port, disk)).expect("write cfg");
            let from = sink.count();
            let (t, cpu, err) = run_logged(Path::new(env!("CARGO_BIN_EXE_sensor")), &cfg, trace);
            sent = exporter_counter(&err, "out");
            assert!(sink.wait(from, sent), "lines missing at the sink:\n{err}");
            // The server took everything: nothing went to disk.
            assert_eq!(exporter_counter(&err, "persisted"), 0, "{err}");
            best[i] = (best[i].0.min(t.elapsed()), best[i].1.min(cpu));
        }
    }
    for (i, what) in ["memory backlog", "disk buffer configured"]
        .iter()
        .enumerate()
    {
        println!(
            "file → enrich → syslog TCP, server up, {what:22}: {:>9.0} records/s ({:.3} s; {:.3} s CPU; {sent} records sent)",
            rate(n, best[i].0),
            best[i].0.as_secs_f64(),
            best[i].1.as_secs_f64()
        );
    }
    // The server down: everything goes to disk.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_port = dead.local_addr().expect("addr").port();
    drop(dead);
    std::fs::write(&cfg, syslog_json(dead_port, Some(&buf))).expect("write cfg");
    let (t, cpu, err) = run_logged(Path::new(env!("CARGO_BIN_EXE_sensor")), &cfg, trace);
    let d = t.elapsed();
    let persisted = exporter_counter(&err, "persisted");
    // What is left on disk: `backlog.disk.maxbytes` (1 GiB) may have dropped the oldest.
    let kept = exporter_counter(&err, "backlog_records");
    let disk_bytes = exporter_counter(&err, "backlog_disk_bytes");
    println!(
        "file → enrich → syslog TCP, server down, to the disk buffer: {:>9.0} records/s ({:.3} s; {:.3} s CPU; {persisted} records written, {kept} kept, {:.1} MB on disk)",
        rate(n, d),
        d.as_secs_f64(),
        cpu.as_secs_f64(),
        disk_bytes as f64 / 1e6
    );
    // Restarted with the server up and no input: the disk buffer is delivered.
    std::fs::write(&cfg, syslog_json(sink.port, Some(&buf))).expect("write cfg");
    let from = sink.count();
    let t = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sensor"))
        .args(["run", "--log", "warn", "--input", "socket", "--config"])
        .arg(&cfg)
        .arg(tmp.join("idle.sock"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sensor");
    let ok = sink.wait(from, kept);
    let d = t.elapsed();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    assert!(ok, "the disk buffer was not delivered");
    println!(
        "disk buffer delivered after a restart, server up:           {:>9.0} records/s ({:.3} s; {kept} records)",
        rate(kept as usize, d),
        d.as_secs_f64()
    );
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
