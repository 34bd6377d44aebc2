//! The syslog exporter against a real rsyslogd on 127.0.0.1 (started by the test with its own
//! configuration in a temp dir): UDP, TCP and TLS; RFC 5424 framing; no alert lost when the
//! server is killed and restarted in the middle of a run.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sysflow_model::avro::Reader;
use sysflow_model::SysFlow;

use testkit::run::*;
use testkit::shared_dir;

use super::sensor;

const RSYSLOGD: &str = "/usr/sbin/rsyslogd";

fn have_rsyslog() -> bool {
    if Path::new(RSYSLOGD).exists() {
        true
    } else {
        eprintln!("SKIPPED: rsyslogd not installed (apt-get install rsyslog rsyslog-gnutls)");
        false
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let p = l.local_addr().unwrap().port();
    // Also free for UDP?
    std::net::UdpSocket::bind(("127.0.0.1", p))
        .map(|_| p)
        .unwrap_or_else(|_| free_port())
}

struct Rsyslog {
    dir: PathBuf,
    port: u16,
    proto: &'static str,
    child: Option<Child>,
}

impl Rsyslog {
    fn out(&self) -> PathBuf {
        self.dir.join("out.log")
    }

    fn start(dir: &Path, proto: &'static str, port: u16) -> Rsyslog {
        let mut r = Rsyslog {
            dir: dir.to_path_buf(),
            port,
            proto,
            child: None,
        };
        r.spawn();
        r
    }

    fn spawn(&mut self) {
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
*.* action(type="omfile" file="{0}/out.log" template="fields")
"#,
            d.display()
        );
        std::fs::write(d.join("rsyslog.conf"), conf).unwrap();
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
            .unwrap();
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

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let _ = c.wait();
        }
    }

    /// Received lines, once at least `n` arrived (or after 30 s).
    fn lines(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let t = std::fs::read_to_string(self.out()).unwrap_or_default();
            let complete = &t[..t.rfind('\n').map_or(0, |i| i + 1)];
            let v: Vec<String> = complete.lines().map(str::to_string).collect();
            if v.len() >= n || Instant::now() > deadline {
                return v;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        self.stop();
    }
}

fn make_certs(dir: &Path) {
    let run = |args: &[&str]| {
        let o = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "openssl {args:?}: {}", stderr(&o));
    };
    std::fs::write(
        dir.join("san.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
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

/// Checks one received line: RFC 5424 fields as rsyslog parsed them, our JSON as the message.
fn check_line(l: &str) -> serde_json::Value {
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

fn terminal_alerts(trace: &Path) -> Vec<serde_json::Value> {
    let o = sensor()
        .args(["run", "--log", "error"])
        .arg(trace)
        .output()
        .unwrap();
    assert!(o.status.success());
    json_lines(&stdout(&o))
}

fn export_over(proto: &'static str) {
    if !have_rsyslog() {
        return;
    }
    let Some(shared) = shared_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    if proto == "tls" {
        make_certs(tmp.path());
    }
    let port = free_port();
    let rs = Rsyslog::start(tmp.path(), proto, port);
    let trace = shared.join("traces/k8s_small.sf");
    let want = terminal_alerts(&trace);
    assert!(!want.is_empty());
    let mut c = sensor();
    c.args(["run", "--log", "error"])
        .arg(&trace)
        .env("EXPORTER_EXPORT", "syslog")
        .env("EXPORTER_SYSLOG_PROTO", proto)
        .env("EXPORTER_SYSLOG_HOST", "127.0.0.1")
        .env("EXPORTER_SYSLOG_PORT", port.to_string());
    if proto == "tls" {
        c.env("EXPORTER_SYSLOG_CA", tmp.path().join("ca.pem"));
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let lines = rs.lines(want.len());
    let got: Vec<serde_json::Value> = lines.iter().map(|l| check_line(l)).collect();
    assert_eq!(got.len(), want.len(), "{proto}: every alert delivered");
    assert!(
        got == want,
        "{proto}: alerts in order, with our JSON payload"
    );
}

#[test]
fn syslog_over_udp() {
    export_over("udp");
}

#[test]
fn syslog_over_tcp() {
    export_over("tcp");
}

#[test]
fn syslog_over_tls_with_configured_ca() {
    export_over("tls");
}

#[test]
fn tls_with_an_unknown_ca_delivers_nothing() {
    if !have_rsyslog() {
        return;
    }
    let Some(shared) = shared_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    make_certs(tmp.path());
    let port = free_port();
    let rs = Rsyslog::start(tmp.path(), "tls", port);
    let o = sensor()
        .args(["run", "--log", "warn"])
        .arg(shared.join("traces/shellshock.sf"))
        .env("EXPORTER_EXPORT", "syslog")
        .env("EXPORTER_SYSLOG_PROTO", "tls")
        .env("EXPORTER_SYSLOG_HOST", "127.0.0.1")
        .env("EXPORTER_SYSLOG_PORT", port.to_string())
        .env("EXPORTER_SYSLOG_CA", tmp.path().join("server.pem")) // not the CA
        .output()
        .unwrap();
    // The run ends (after the shutdown deadline) and says what was not delivered.
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("not delivered"), "{}", stderr(&o));
    assert!(rs.lines(0).is_empty());
}

/// A collector connection (SOCK_SEQPACKET).
fn restart_loses_nothing(proto: &'static str) {
    if !have_rsyslog() {
        return;
    }
    let Some(shared) = shared_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    if proto == "tls" {
        make_certs(tmp.path());
    }
    let port = free_port();
    let mut rs = Rsyslog::start(tmp.path(), proto, port);
    let f = std::fs::File::open(shared.join("traces/nodejs.1544763289.sf")).unwrap();
    let recs: Vec<SysFlow> = Reader::new(std::io::BufReader::new(f))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let is_ff = |r: &SysFlow| matches!(r, SysFlow::FileFlow(_));
    let rules = tmp.path().join("r.yaml");
    std::fs::write(
        &rules,
        "- rule: file flow\n  desc: any file flow\n  condition: sf.type = FF\n  priority: low\n",
    )
    .unwrap();
    let sock = tmp.path().join("s.sock");
    let mut c = sensor();
    c.args(["run", "--log", "info", "--input", "socket"])
        .arg(&sock)
        .env("POLICYENGINE_POLICIES", &rules)
        .env("EXPORTER_EXPORT", "syslog")
        .env("EXPORTER_SYSLOG_PROTO", proto)
        .env("EXPORTER_SYSLOG_HOST", "127.0.0.1")
        .env("EXPORTER_SYSLOG_PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if proto == "tls" {
        c.env("EXPORTER_SYSLOG_CA", tmp.path().join("ca.pem"));
    }
    let child = c.spawn().unwrap();
    let fd = Client::connect(&sock);
    let (a, b) = (recs.len() / 3, 2 * recs.len() / 3);
    fd.send_all(&recs[..a]);
    let n1 = recs[..a].iter().filter(|r| is_ff(r)).count();
    assert_eq!(rs.lines(n1).len(), n1, "phase 1 delivered");

    rs.stop();
    fd.send_all(&recs[a..b]);
    std::thread::sleep(Duration::from_millis(1500));
    rs.spawn();
    fd.send_all(&recs[b..]);
    drop(fd);

    let total = recs.iter().filter(|r| is_ff(r)).count();
    let lines = rs.lines(total);
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let mut got: Vec<i64> = lines
        .iter()
        .map(|l| check_line(l)["ts"].as_i64().unwrap())
        .collect();
    let mut want: Vec<i64> = recs
        .iter()
        .filter_map(|r| match r {
            SysFlow::FileFlow(f) => Some(f.ts),
            _ => None,
        })
        .collect();
    got.sort();
    got.dedup();
    want.sort();
    want.dedup();
    assert_eq!(
        got,
        want,
        "{proto}: every alert delivered across the restart\n{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("reconnected to syslog"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn tcp_server_restart_loses_no_alert() {
    restart_loses_nothing("tcp");
}

#[test]
fn tls_server_restart_loses_no_alert() {
    restart_loses_nothing("tls");
}
