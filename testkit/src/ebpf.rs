//! The eBPF tests' harness: start/stop `sensor record`, read the traces, check
//! self-containment, small workloads; what a test does when the probes cannot start here.

use std::{
    collections::HashSet,
    fs,
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Mutex,
    time::Duration,
};

use sysflow_model::{avro::Reader, Foid, Oid, SysFlow};

/// One sensor at a time: they would otherwise record each other's output files (and each
/// other's load on a small machine).
static SERIAL: Mutex<()> = Mutex::new(());

/// A running `sensor record` (see [`start`]).
pub struct Recording {
    pub child: Child,
    pub dir: PathBuf,
    pub stderr: BufReader<std::process::ChildStderr>,
    /// The sensor's `sensor: recording to … (N probes attached, …)` line.
    pub banner: String,
}

/// The calling thread's id.
pub fn tid() -> i64 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as i64 }
}

/// This process's id.
pub fn pid() -> i64 {
    std::process::id() as i64
}

/// CPUs the kernel may ever bring online (`/sys/devices/system/cpu/possible`, e.g. `0-3`),
/// which is what the collector sizes its rings for.
pub fn possible_cpus() -> usize {
    fs::read_to_string("/sys/devices/system/cpu/possible")
        .ok()
        .and_then(|s| {
            let last = s.trim().rsplit([',', '-']).next()?.to_string();
            last.parse::<usize>().ok()
        })
        .map_or(1, |n| n + 1)
}

/// Start `sensor record` (the binary at `sensor`) writing to a fresh directory named after
/// `name`, with `extra` arguments; `None` (after printing why) when eBPF is not available here.
pub fn start(sensor: &Path, name: &str, extra: &[&str]) -> Option<Recording> {
    start_with_env(sensor, name, extra, &[])
}

/// [`start`] with `env` added to the sensor's environment (e.g. `DOCKER_HOST`).
// The child is waited for on every path (here when it fails, in `stop` otherwise).
#[allow(clippy::zombie_processes)]
pub fn start_with_env(
    sensor: &Path,
    name: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Option<Recording> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: {name}: loading eBPF probes needs root");
        return None;
    }
    let dir = std::env::temp_dir().join(format!("sensor-ebpf-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("temp dir");
    let mut child = Command::new(sensor)
        .arg("record")
        .arg("-w")
        .arg(dir.join("trace.sf"))
        .args(extra)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sensor");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap_or(0) == 0 {
            let _ = child.wait();
            start_failed(name, &seen);
            return None;
        }
        if line.starts_with("sensor: recording to") {
            return Some(Recording {
                child,
                dir,
                stderr,
                banner: line,
            });
        }
        seen.push_str(&line);
    }
}

impl Recording {
    /// Stop the sensor; return the records of every trace file (sorted by name) and the
    /// sensor's summary line.
    pub fn stop(self) -> (Vec<(PathBuf, Vec<SysFlow>)>, String) {
        let (files, stderr) = self.stop_full();
        let summary = stderr
            .lines()
            .find(|l| l.starts_with("sensor: events="))
            .unwrap_or("")
            .to_string();
        (files, summary)
    }

    /// [`Recording::stop`], then check that every trace file is self-contained
    /// ([`assert_self_contained`]); the records of all files in order.
    pub fn stop_checked(self) -> Vec<SysFlow> {
        let (files, _) = self.stop();
        for (_, r) in &files {
            assert_self_contained(r);
        }
        all(files)
    }

    /// [`Recording::stop`] returning everything the sensor wrote to stderr after it started.
    pub fn stop_full(mut self) -> (Vec<(PathBuf, Vec<SysFlow>)>, String) {
        // Let the probes' last events reach the ring before the sensor drains it.
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let mut rest = String::new();
        let _ = self.stderr.read_to_string(&mut rest);
        let status = self.child.wait().expect("wait sensor");
        assert!(status.success(), "sensor failed: {rest}");
        let mut files: Vec<PathBuf> = fs::read_dir(&self.dir)
            .expect("dir")
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        let out = files
            .into_iter()
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("trace.sf"))
            })
            .map(|p| {
                let recs = Reader::new(fs::File::open(&p).expect("open trace"))
                    .expect("trace header")
                    .collect::<Result<Vec<_>, _>>()
                    .expect("trace records");
                (p, recs)
            })
            .collect();
        (out, rest)
    }
}

impl Drop for Recording {
    /// A test that panics before [`Recording::stop`] must not leave its sensor running
    /// (attached to every syscall of the host, writing a trace, for ever).
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Every event/flow's process and files were written earlier in the same file.
pub fn assert_self_contained(recs: &[SysFlow]) {
    assert!(matches!(recs.first(), Some(SysFlow::Header(h)) if h.version == 5));
    let mut procs: HashSet<Oid> = HashSet::new();
    let mut files: HashSet<Foid> = HashSet::new();
    for (i, r) in recs.iter().enumerate() {
        match r {
            SysFlow::Process(p) => {
                procs.insert(p.oid);
            }
            SysFlow::File(f) => {
                files.insert(f.oid);
            }
            SysFlow::FileFlow(f) => {
                assert!(files.contains(&f.file_oid), "record {i}: file before FF")
            }
            SysFlow::FileEvent(f) => {
                assert!(files.contains(&f.file_oid), "record {i}: file before FE");
                if let Some(n) = f.new_file_oid {
                    assert!(files.contains(&n), "record {i}: new file before FE");
                }
            }
            _ => {}
        }
        if let Some(oid) = r.proc_oid() {
            assert!(
                procs.contains(oid),
                "record {i}: process {oid:?} not written before {r:?}"
            );
        }
    }
}

/// The path of file `foid` (from its File record), or "".
pub fn file_path(recs: &[SysFlow], foid: &Foid) -> String {
    recs.iter()
        .find_map(|r| match r {
            SysFlow::File(f) if f.oid == *foid => Some(f.path.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

/// (path, fd, opflags, open flags, read ops, read bytes, write ops, write bytes) of one file
/// flow.
pub type Ff = (String, i32, u32, u32, i64, i64, i64, i64);

/// The file flows of thread `me` on files under `dir`, in record order.
pub fn file_flows(recs: &[SysFlow], dir: &Path, me: i64) -> Vec<Ff> {
    let dir = dir.to_string_lossy();
    recs.iter()
        .filter_map(|r| match r {
            SysFlow::FileFlow(f) if f.tid == me => Some((
                file_path(recs, &f.file_oid),
                f.fd,
                f.op_flags.0,
                f.open_flags.0,
                f.num_r_recv_ops,
                f.num_r_recv_bytes,
                f.num_w_send_ops,
                f.num_w_send_bytes,
            )),
            _ => None,
        })
        .filter(|f| f.0.starts_with(&*dir))
        .collect()
}

/// The records of every file of [`Recording::stop`], in order.
pub fn all(files: Vec<(PathBuf, Vec<SysFlow>)>) -> Vec<SysFlow> {
    files.into_iter().flat_map(|(_, r)| r).collect()
}

/// Held by every test that starts a sensor (see `SERIAL`).
pub fn lock() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The network flows of this process on `port` (either side).
pub fn net_flows(recs: &[SysFlow], port: i32) -> Vec<sysflow_model::NetworkFlow> {
    recs.iter()
        .filter_map(|r| match r {
            SysFlow::NetworkFlow(n)
                if n.proc_oid.hpid == pid() && (n.dport == port || n.sport == port) =>
            {
                Some(n.clone())
            }
            _ => None,
        })
        .collect()
}

/// A TCP exchange with a listener of this process bound to `addr` (port 0: any): the client
/// sends 5 bytes, the server answers 3. Returns (server port, client port).
pub fn tcp_exchange(addr: &str) -> (u16, u16) {
    let l = TcpListener::bind(addr).expect("bind");
    let port = l.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).expect("server read");
        s.write_all(b"pon").expect("server write");
    });
    let mut c = TcpStream::connect(l_addr(addr, port)).expect("connect");
    let cport = c.local_addr().expect("local").port();
    c.write_all(b"ping!").expect("client write");
    let mut buf = [0u8; 3];
    c.read_exact(&mut buf).expect("client read");
    drop(c);
    server.join().expect("server");
    (port, cport)
}

/// `addr`'s host with `port`.
pub fn l_addr(addr: &str, port: u16) -> String {
    let host = addr.rsplit_once(':').map(|x| x.0).unwrap_or(addr);
    format!("{host}:{port}")
}

/// What an eBPF test does when the sensor could not start its probes: skip when this machine
/// cannot run them (probes not built, no privilege, no kernel BTF), fail on anything else.
/// A verifier rejection or a failed attach is a bug in the probes and must not pass for a
/// skip.
///
/// Prints `SKIPPED: ...` for an environment limit; panics with the sensor's log otherwise.
pub fn start_failed(name: &str, log: &str) {
    if log.contains("built without the eBPF probes") {
        eprintln!("SKIPPED: {name}: probes not built (run `cargo xtask build-ebpf --release`)");
    } else if log.contains("Operation not permitted") || log.contains("cannot read kernel BTF") {
        eprintln!("SKIPPED: {name}: BPF not permitted here: {log}");
    } else {
        panic!("{name}: the sensor could not load or attach its probes:\n{log}");
    }
}
