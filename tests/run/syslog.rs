//! The syslog exporter against a real rsyslogd on 127.0.0.1 (`testkit::rsyslog`: started by
//! the test with its own configuration in a temp dir): UDP, TCP and TLS; RFC 5424 framing; no
//! alert lost when the server is killed and restarted in the middle of a run. (Outages with
//! the backlog's limits and the disk buffer: `tests/reliability/outage.rs`.)

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use sysflow_model::avro::Reader;
use sysflow_model::SysFlow;

use testkit::rsyslog::{check_line, free_port, have_rsyslog, make_certs, Rsyslog};
use testkit::run::*;
use testkit::shared_dir;

use super::sensor;

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
