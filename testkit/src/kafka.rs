//! A real Kafka-protocol broker and an independent client for the Kafka tests and bench:
//! `tansu` 0.6 (in-memory storage) started on a free loopback port, and the Python
//! `confluent-kafka` package (librdkafka 2.x) creating topics and reading messages back.
//!
//! Where they are: `$TANSU`, else `tansu` in `~/.cargo/bin` or on `PATH`; for the client,
//! `<repo>/.venv-kafka/bin/python3` (where `.ci/run` installs it), else `python3` on `PATH`,
//! whichever can `import confluent_kafka`. Missing ones print `SKIPPED` and give `None`.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use crate::repo_root;

/// The tansu binary, or `None` after printing `SKIPPED`.
pub fn tansu() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/tansu"));
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("tansu"))
            .find(|f| f.is_file())
    });
    let found = [std::env::var_os("TANSU").map(PathBuf::from), home, on_path]
        .into_iter()
        .flatten()
        .find(|p| p.is_file());
    if found.is_none() {
        println!("SKIPPED: tansu not installed (cargo install tansu --version 0.6.0 --features dynostore)");
    }
    found
}

/// A Python that can import confluent_kafka, or `None` after printing `SKIPPED`.
pub fn python() -> Option<PathBuf> {
    let venv = repo_root().join(".venv-kafka/bin/python3");
    let found = [venv, PathBuf::from("python3")].into_iter().find(|py| {
        Command::new(py)
            .args(["-c", "import confluent_kafka"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if found.is_none() {
        println!("SKIPPED: the Python confluent-kafka package is not installed (.ci/run puts it in .venv-kafka)");
    }
    found
}

/// Both peers, or `None` after printing `SKIPPED`.
pub fn peers() -> Option<(PathBuf, PathBuf)> {
    Some((tansu()?, python()?))
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

/// A tansu broker on 127.0.0.1, killed when dropped. Its storage is memory: a restart
/// starts empty.
pub struct Broker {
    bin: PathBuf,
    pub port: u16,
    log: PathBuf,
    child: Option<Child>,
    /// While stopped, the port stays bound (not listening: clients are refused), so that no
    /// other test's server takes it before the restart.
    hold: Option<std::os::fd::OwnedFd>,
}

/// A TCP socket bound to `port` on 127.0.0.1 and not listening.
fn reserve(port: u16) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a fresh descriptor we own.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return None;
        }
        let fd = std::os::fd::OwnedFd::from_raw_fd(fd);
        let one: libc::c_int = 1;
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_port = port.to_be();
        addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
        let rc = libc::bind(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        (rc == 0).then_some(fd)
    }
}

impl Broker {
    /// Starts a broker on a free port; its output goes to `dir/tansu.log`.
    pub fn start(bin: &Path, dir: &Path) -> Broker {
        let mut b = Broker {
            bin: bin.to_path_buf(),
            port: free_port(),
            log: dir.join("tansu.log"),
            child: None,
            hold: None,
        };
        b.spawn();
        b
    }

    /// `host:port` for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        self.hold = None;
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("tansu log");
        let child = Command::new(&self.bin)
            .args(["broker", "--storage-engine", "memory://tansu/"])
            .args(["--listener-url", &url, "--advertised-listener-url", &url])
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start tansu");
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut child = child;
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "tansu did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        // The port answers: make sure it is this broker (still running) that answers.
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            matches!(child.try_wait(), Ok(None)),
            "tansu exited at start (port {} taken?)",
            self.port
        );
        self.child = Some(child);
    }

    /// The broker's output so far (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// CPU time (user + system) the broker process has used so far.
    pub fn cpu(&self) -> Duration {
        let Some(c) = &self.child else {
            return Duration::ZERO;
        };
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", c.id())).unwrap_or_default();
        // Fields after the command name (which may hold spaces): utime and stime are the
        // 12th and 13th.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        let ticks = f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0);
        Duration::from_millis(ticks * 1000 / hz)
    }

    /// Kills the broker (its messages are gone with it); its port stays reserved.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
            self.hold = reserve(self.port);
        }
    }

    /// Freezes the broker (SIGSTOP): it keeps its topics and messages but answers nothing,
    /// as a hung or partitioned broker does, until [`Broker::resume`].
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// Lets a paused broker run again (SIGCONT).
    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    fn signal(&self, sig: i32) {
        if let Some(c) = &self.child {
            // SAFETY: signalling our own child, which has not been waited for.
            unsafe { libc::kill(c.id() as i32, sig) };
        }
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

const CREATE: &str = r#"
import sys
from confluent_kafka.admin import AdminClient, NewTopic
a = AdminClient({'bootstrap.servers': sys.argv[1]})
for t, f in a.create_topics([NewTopic(sys.argv[2], num_partitions=int(sys.argv[3]), replication_factor=1)]).items():
    f.result(20)
"#;

/// Creates `topic` with `partitions` partitions (tansu creates none on its own).
pub fn create_topic(py: &Path, bootstrap: &str, topic: &str, partitions: u32) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let st = Command::new(py)
            .args(["-c", CREATE, bootstrap, topic, &partitions.to_string()])
            .status()
            .expect("python");
        if st.success() {
            return;
        }
        assert!(Instant::now() < deadline, "cannot create topic {topic}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

const READ: &str = r#"
import os, sys, time
from confluent_kafka import Consumer
bootstrap, topic, group, stop = sys.argv[1:5]
c = Consumer({'bootstrap.servers': bootstrap, 'group.id': group, 'auto.offset.reset': 'earliest',
              'topic.metadata.refresh.interval.ms': 1000, 'reconnect.backoff.max.ms': 500})
c.subscribe([topic])
t0 = time.time(); idle = time.time()
print('ready', flush=True)
while time.time() - t0 < 300:
    m = c.poll(0.2)
    if m is None or m.error():
        if os.path.exists(stop) and time.time() - idle > 1.0:
            break
        continue
    idle = time.time()
    k = m.key() or b''
    print('m', m.partition(), m.offset(), k.hex() or '-', (m.value() or b'').hex(), flush=True)
c.close()
"#;

/// One message read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub partition: i32,
    pub offset: i64,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

/// A confluent-kafka consumer reading `topic` from the start in its own group, until
/// [`Reader::finish`].
pub struct Reader {
    child: Child,
    stop: PathBuf,
    rx: Receiver<Msg>,
    pub got: Vec<Msg>,
}

fn unhex(s: &str) -> Vec<u8> {
    if s == "-" {
        return Vec::new();
    }
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

impl Reader {
    pub fn start(py: &Path, bootstrap: &str, topic: &str, dir: &Path) -> Reader {
        let stop = dir.join(format!("{topic}.stop"));
        // An earlier reader's stop file would end this one as soon as it is idle.
        let _ = std::fs::remove_file(&stop);
        let mut child = Command::new(py)
            .args(["-c", READ, bootstrap, topic, &format!("reader-{topic}")])
            .arg(&stop)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python reader");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let f: Vec<&str> = l.split(' ').collect();
                if f.len() == 5 && f[0] == "m" {
                    let m = Msg {
                        partition: f[1].parse().expect("partition"),
                        offset: f[2].parse().expect("offset"),
                        key: unhex(f[3]),
                        value: unhex(f[4]),
                    };
                    if tx.send(m).is_err() {
                        return;
                    }
                }
            }
        });
        Reader {
            child,
            stop,
            rx,
            got: Vec::new(),
        }
    }

    /// Takes what has arrived; waits up to `wait` until `done` holds for all read so far.
    pub fn until(&mut self, wait: Duration, done: impl Fn(&[Msg]) -> bool) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            self.got.extend(self.rx.try_iter());
            if done(&self.got) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            if let Ok(m) = self.rx.recv_timeout(Duration::from_millis(100)) {
                self.got.push(m);
            }
        }
    }

    /// Stops after the reader has been idle a second; returns every message read.
    pub fn finish(mut self) -> Vec<Msg> {
        let _ = std::fs::write(&self.stop, b"");
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(100));
        self.got.extend(self.rx.try_iter());
        std::mem::take(&mut self.got)
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
