//! Running the daemon and talking to it: its output as text and JSON lines, the rule names of
//! an alert, a collector-side socket client, a child whose output lines arrive on a channel,
//! the records of a trace file, an enrich-mode pipeline file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A child's stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A child's stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Parses every stdout line as JSON; panics with the line when one is not.
pub fn json_lines(s: &str) -> Vec<serde_json::Value> {
    s.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| {
                let head: String = l.chars().take(300).collect();
                panic!("not JSON ({e}): {head}…")
            })
        })
        .collect()
}

/// Rule names of an exported record's `policies`.
pub fn rule_ids(v: &serde_json::Value) -> Vec<String> {
    v["policies"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A collector-side SOCK_SEQPACKET connection, as sf-collector makes it: one bare SysFlow datum
/// per message.
pub struct Client(pub std::os::fd::OwnedFd);

impl Client {
    /// Connects to the sensor's socket, retrying while the daemon starts (20 s at most).
    pub fn connect(path: &Path) -> Client {
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        use std::time::{Duration, Instant};
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            // SAFETY: plain socket calls on a fresh fd.
            let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0) };
            assert!(fd >= 0);
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
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends one message; the whole message must go.
    pub fn send(&self, msg: &[u8]) {
        use std::os::fd::AsRawFd;
        // SAFETY: valid fd and buffer.
        let n = unsafe { libc::send(self.0.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
        assert_eq!(
            n,
            msg.len() as isize,
            "send: {}",
            std::io::Error::last_os_error()
        );
    }

    /// Sends one record as a bare v5 datum.
    pub fn send_rec(&self, r: &sysflow_model::SysFlow) {
        let mut b = Vec::new();
        sysflow_model::avro::datum::encode_datum(r, &mut b);
        self.send(&b);
    }

    /// Sends every record, one bare v5 datum per message.
    pub fn send_all(&self, recs: &[sysflow_model::SysFlow]) {
        let mut b = Vec::new();
        for r in recs {
            b.clear();
            sysflow_model::avro::datum::encode_datum(r, &mut b);
            self.send(&b);
        }
    }
}

/// Spawns `cmd` with stdout and stderr piped; their lines arrive on the channel, tagged
/// `true` for stdout and `false` for stderr.
pub fn spawn_lines(
    cmd: &mut Command,
) -> (
    std::process::Child,
    std::sync::mpsc::Receiver<(bool, String)>,
) {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child");
    let (tx, rx) = std::sync::mpsc::channel();
    let out = child.stdout.take().expect("stdout");
    let err = child.stderr.take().expect("stderr");
    let t2 = tx.clone();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = t2.send((true, l));
        }
    });
    std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send((false, l));
        }
    });
    (child, rx)
}

/// Every record of a trace file (the test's own fixture; a read error fails the test).
pub fn records(trace: &Path) -> Vec<sysflow_model::SysFlow> {
    let f = std::fs::File::open(trace).unwrap();
    sysflow_model::avro::Reader::new(std::io::BufReader::new(f))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

/// The record types the pipeline exports by default (PE, FF, FE, NF).
pub fn is_event(r: &sysflow_model::SysFlow) -> bool {
    use sysflow_model::RecordType;
    matches!(
        r.record_type(),
        RecordType::ProcessEvent
            | RecordType::FileFlow
            | RecordType::FileEvent
            | RecordType::NetworkFlow
    )
}

/// A running `sensor run` whose stderr lines arrive on a channel: waiting for log lines,
/// reading the counters (SIGUSR1), stopping (SIGTERM) or killing it (SIGKILL).
pub struct Daemon {
    pub child: std::process::Child,
    log: std::sync::mpsc::Receiver<String>,
    /// Every log line received so far.
    pub seen: Vec<String>,
}

impl Daemon {
    /// Spawns `cmd` with stdout discarded and stderr read line by line.
    pub fn spawn(mut cmd: Command) -> Daemon {
        use std::io::{BufRead, BufReader};
        use std::process::Stdio;
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the daemon");
        let err = child.stderr.take().expect("stderr");
        let (tx, log) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        Daemon {
            child,
            log,
            seen: Vec::new(),
        }
    }

    /// `sensor run --input socket --config CFG SOCK` (`sensor` is the binary's command),
    /// once it listens (and so handles SIGUSR1: before, the signal would kill it).
    pub fn socket(mut sensor: Command, cfg: &Path, sock: &Path) -> Daemon {
        sensor
            .args(["run", "--log", "info", "--input", "socket", "--config"])
            .arg(cfg)
            .arg(sock);
        let mut d = Daemon::spawn(sensor);
        d.wait_log("listening on");
        d
    }

    /// Waits (30 s at most) for a log line after the first `from` lines that contains `pat`.
    pub fn wait_log_after(&mut self, from: usize, pat: &str) -> String {
        use std::time::{Duration, Instant};
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(l) = self.seen.iter().skip(from).find(|l| l.contains(pat)) {
                return l.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no log line with {pat:?}:\n{}",
                self.seen.join("\n")
            );
            if let Ok(l) = self.log.recv_timeout(left.min(Duration::from_millis(100))) {
                self.seen.push(l);
            }
        }
    }

    /// Waits (30 s at most) for a log line containing `pat`.
    pub fn wait_log(&mut self, pat: &str) -> String {
        self.wait_log_after(0, pat)
    }

    /// Asks for the counters (SIGUSR1) and returns the fresh line of the stage labelled
    /// `stage` (e.g. `pipeline[2] (exporter)`).
    pub fn counters(&mut self, stage: &str) -> String {
        let from = self.seen.len();
        self.signal(libc::SIGUSR1);
        self.wait_log_after(from, &format!("counters (SIGUSR1) {stage}:"))
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// SIGTERM, wait; returns the exit code (-1 when killed by a signal) and the whole log.
    pub fn stop(self) -> (i32, String) {
        let (st, log) = self.end(libc::SIGTERM);
        (st.code().unwrap_or(-1), log)
    }

    /// Sends `sig`, waits for the exit; returns the exit status and the whole log.
    pub fn end(mut self, sig: i32) -> (std::process::ExitStatus, String) {
        use std::time::Duration;
        self.signal(sig);
        let st = self.child.wait().expect("wait for the daemon");
        // The reader thread ends with the pipe; collect what is left.
        while let Ok(l) = self.log.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(l);
        }
        (st, self.seen.join("\n"))
    }
}

/// A test that fails before stopping its daemon must not leave it running.
impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The value of counter `name` in a counters log line (`… name=N …`).
pub fn counter(line: &str, name: &str) -> u64 {
    line.split(&format!(" {name}="))
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no {name}= in {line:?}"))
}

/// Copies of `recs` in which the records a pipeline exports (events, flows and K8s events)
/// carry their own sequence number as timestamp, `ts0`, `ts0 + 1`, … in order (the rest is left as it is), so that an
/// exported record says which one it is. Returns the records and the number of events.
pub fn numbered_events(
    recs: &[sysflow_model::SysFlow],
    ts0: i64,
) -> (Vec<sysflow_model::SysFlow>, usize) {
    use sysflow_model::SysFlow;
    let mut n = 0usize;
    let out = recs
        .iter()
        .map(|r| {
            let mut r = r.clone();
            let ts = match &mut r {
                SysFlow::ProcessEvent(e) => Some(&mut e.ts),
                SysFlow::FileFlow(e) => Some(&mut e.ts),
                SysFlow::FileEvent(e) => Some(&mut e.ts),
                SysFlow::NetworkFlow(e) => Some(&mut e.ts),
                SysFlow::NetworkEvent(e) => Some(&mut e.ts),
                SysFlow::ProcessFlow(e) => Some(&mut e.ts),
                SysFlow::K8sEvent(e) => Some(&mut e.ts),
                _ => None,
            };
            if let Some(ts) = ts {
                *ts = ts0 + n as i64;
                n += 1;
            }
            r
        })
        .collect();
    (out, n)
}

/// Writes, into `dir`, a rule file with one rule (PE EXEC) and a pipeline
/// (`<name>.json`) of flattener → policy engine in enrich mode → exporter whose keys
/// follow `"in":"evt eventchan"` (e.g. `,"export":"terminal","format":"ecs"`); returns the
/// pipeline's path.
pub fn enrich_pipeline(dir: &Path, name: &str, exporter: &str) -> PathBuf {
    let rules = dir.join("exec.yaml");
    std::fs::write(
        &rules,
        "- rule: exec\n  desc: process started\n  condition: sf.type = PE and sf.opflags = EXEC\n  priority: low\n",
    )
    .expect("write rules");
    let cfg = dir.join(format!("{name}.json"));
    std::fs::write(
        &cfg,
        format!(
            r#"{{"pipeline":[
  {{"processor":"sysflowreader","handler":"flattener","in":"sysflow sysflowchan","out":"flat flattenerchan"}},
  {{"processor":"policyengine","in":"flat flattenerchan","out":"evt eventchan","policies":"{}","mode":"enrich"}},
  {{"processor":"exporter","in":"evt eventchan"{exporter}}}]}}"#,
            rules.display()
        ),
    )
    .expect("write pipeline");
    cfg
}

/// Waits for `child` and returns whether it exited 0 and the CPU time (user + system) it
/// used, read with `wait4` (for benchmarks that run several children at once). Pipes still
/// in `child` are closed after it has exited.
pub fn wait_cpu(mut child: std::process::Child) -> (bool, std::time::Duration) {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: plain syscall on our own child with valid out-pointers.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    assert_eq!(r, pid, "wait4: {}", std::io::Error::last_os_error());
    // The child is reaped; std's handle must not wait again.
    drop((child.stdin.take(), child.stdout.take(), child.stderr.take()));
    std::mem::forget(child);
    let tv = |t: libc::timeval| std::time::Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        tv(ru.ru_utime) + tv(ru.ru_stime),
    )
}

/// The 1-minute load average (`/proc/loadavg`), to report beside timings.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}
