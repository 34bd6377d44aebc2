//! A real rsyslogd on 127.0.0.1 for the syslog exporter's tests: its own configuration in a
//! temp dir, UDP, TCP or TLS (with a throw-away CA), stopped and started again at will. Every
//! message is written twice: `out.log` with the RFC 5424 fields as rsyslog parsed them
//! (`VERSION|PRI|HOSTNAME|APP-NAME|PROCID|MSGID|SD|MSG`), `raw.log` with the message as it
//! arrived (`%rawmsg%`), whose length is the sender's message without its newline.

use std::cell::RefCell;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const RSYSLOGD: &str = "/usr/sbin/rsyslogd";

/// Whether rsyslogd is installed; prints `SKIPPED` when not.
pub fn have_rsyslog() -> bool {
    if Path::new(RSYSLOGD).exists() {
        true
    } else {
        eprintln!("SKIPPED: rsyslogd not installed (apt-get install rsyslog rsyslog-gnutls)");
        false
    }
}

/// A port free on 127.0.0.1 for both TCP and UDP (at the time of asking).
pub fn free_port() -> u16 {
    loop {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let p = l.local_addr().expect("local addr").port();
        if std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok() {
            return p;
        }
    }
}

/// The lines of one of rsyslog's output files, read incrementally (the files grow large).
#[derive(Default)]
struct Tail {
    offset: u64,
    partial: Vec<u8>,
    lines: Vec<String>,
}

impl Tail {
    fn refresh(&mut self, path: &Path) {
        let Ok(mut f) = std::fs::File::open(path) else {
            return;
        };
        if f.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut buf = Vec::new();
        let Ok(n) = f.read_to_end(&mut buf) else {
            return;
        };
        self.offset += n as u64;
        self.partial.extend_from_slice(&buf);
        if let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') {
            let done: Vec<u8> = self.partial.drain(..=end).collect();
            self.lines
                .extend(String::from_utf8_lossy(&done).lines().map(str::to_string));
        }
    }
}

/// A running (or stopped) rsyslogd.
pub struct Rsyslog {
    dir: PathBuf,
    pub port: u16,
    proto: &'static str,
    child: Option<Child>,
    out: RefCell<Tail>,
    raw: RefCell<Tail>,
}

impl Rsyslog {
    /// Starts rsyslogd listening on `port` with `proto` (`udp`, `tcp`, or `tls`: then
    /// [`make_certs`] must have run in `dir`), writing into `dir`.
    pub fn start(dir: &Path, proto: &'static str, port: u16) -> Rsyslog {
        let mut r = Rsyslog {
            dir: dir.to_path_buf(),
            port,
            proto,
            child: None,
            out: RefCell::default(),
            raw: RefCell::default(),
        };
        r.spawn();
        r
    }

    /// Starts it (again), appending to the same files; returns once it accepts connections.
    pub fn spawn(&mut self) {
        let d = &self.dir;
        let input = match self.proto {
            "udp" => format!(
                r#"module(load="imudp") input(type="imudp" address="127.0.0.1" port="{}" rcvbufSize="16m")"#,
                self.port
            ),
            "tcp" => format!(
                r#"module(load="imtcp") input(type="imtcp" address="127.0.0.1" port="{}")"#,
                self.port
            ),
            _ => format!(
                r#"global(DefaultNetstreamDriver="gtls" DefaultNetstreamDriverCAFile="{0}/ca.pem"
                          DefaultNetstreamDriverCertFile="{0}/server.pem" DefaultNetstreamDriverKeyFile="{0}/server.key")
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
input(type="imtcp" address="127.0.0.1" port="{1}")"#,
                d.display(),
                self.port
            ),
        };
        let conf = format!(
            r#"global(workDirectory="{0}" maxMessageSize="1m")
{input}
template(name="fields" type="string" string="%protocol-version%|%pri%|%hostname%|%app-name%|%procid%|%msgid%|%structured-data%|%msg%\n")
template(name="raw" type="string" string="%rawmsg%\n")
*.* action(type="omfile" file="{0}/out.log" template="fields")
*.* action(type="omfile" file="{0}/raw.log" template="raw")
"#,
            d.display()
        );
        std::fs::write(d.join("rsyslog.conf"), conf).expect("write rsyslog.conf");
        let _ = std::fs::remove_file(d.join("rsyslog.pid"));
        let child = Command::new(RSYSLOGD)
            .arg("-n")
            .arg("-f")
            .arg(d.join("rsyslog.conf"))
            .arg("-i")
            .arg(d.join("rsyslog.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rsyslogd");
        self.child = Some(child);
        // Ready when the port answers (TCP) or the pid file exists (UDP).
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let up = if self.proto == "udp" {
                d.join("rsyslog.pid").exists()
            } else {
                std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            };
            if up {
                std::thread::sleep(Duration::from_millis(200));
                return;
            }
            assert!(Instant::now() < deadline, "rsyslogd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops it (SIGTERM, and waits: it closes its connections first).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let _ = c.wait();
        }
    }

    /// Received messages as `out.log` has them, once at least `n` arrived (or after
    /// `timeout`).
    pub fn lines_within(&self, n: usize, timeout: Duration) -> Vec<String> {
        wait_tail(&self.out, &self.dir.join("out.log"), n, timeout)
    }

    /// [`Rsyslog::lines_within`] 30 s.
    pub fn lines(&self, n: usize) -> Vec<String> {
        self.lines_within(n, Duration::from_secs(30))
    }

    /// Received messages as they arrived (`raw.log`), once at least `n` did (or after
    /// `timeout`).
    pub fn raw_lines(&self, n: usize, timeout: Duration) -> Vec<String> {
        wait_tail(&self.raw, &self.dir.join("raw.log"), n, timeout)
    }
}

fn wait_tail(t: &RefCell<Tail>, path: &Path, n: usize, timeout: Duration) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    let mut t = t.borrow_mut();
    loop {
        t.refresh(path);
        if t.lines.len() >= n || Instant::now() > deadline {
            return t.lines.clone();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A CA and a server certificate for 127.0.0.1 (`ca.pem`, `server.pem`, `server.key`) in `dir`.
pub fn make_certs(dir: &Path) {
    let run = |args: &[&str]| {
        let o = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("run openssl");
        assert!(
            o.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    std::fs::write(
        dir.join("san.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .expect("write san.cnf");
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "san.cnf",
    ]);
}

/// Checks one line of `out.log`: the RFC 5424 fields the sensor writes (version 1, PRI 25,
/// APP-NAME `sensor`, a numeric PROCID, MSGID `sysflow`, no structured data); returns the
/// message parsed as JSON.
pub fn check_line(l: &str) -> serde_json::Value {
    let f: Vec<&str> = l.splitn(8, '|').collect();
    assert_eq!(f.len(), 8, "{l}");
    assert_eq!(f[0], "1", "RFC 5424 version: {l}");
    assert_eq!(f[1], "25", "PRI daemon.alert: {l}");
    assert_eq!(f[3], "sensor", "APP-NAME: {l}");
    assert!(f[4].parse::<u32>().is_ok(), "PROCID: {l}");
    assert_eq!(f[5], "sysflow", "MSGID = tag: {l}");
    assert_eq!(f[6], "-", "no structured data: {l}");
    serde_json::from_str(f[7].trim()).unwrap_or_else(|e| panic!("payload not JSON ({e}): {l}"))
}
