//! The socket driver with a real SOCK_SEQPACKET client that behaves like the collector:
//! header first, one bare datum per message, disconnect, reconnect, send more.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use sysflow_model::SysFlow;

use testkit::run::*;
use testkit::shared_dir;

use super::sensor;

fn key(r: &SysFlow) -> Option<(String, i64)> {
    let ts = match r {
        SysFlow::ProcessEvent(e) => e.ts,
        SysFlow::FileFlow(e) => e.ts,
        SysFlow::FileEvent(e) => e.ts,
        SysFlow::NetworkFlow(e) => e.ts,
        _ => return None,
    };
    Some((r.record_type().code().to_string(), ts))
}

struct Daemon {
    child: Child,
    out: PathBuf,
    sock: PathBuf,
    _tmp: tempfile::TempDir,
}

/// Starts `sensor run --input socket` in enrich mode with a filter-free rule, exporting to a
/// file.
fn start(extra: &[&str], prepare: impl FnOnce(&Path)) -> Daemon {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.json");
    let cfg = testkit::run::enrich_pipeline(
        tmp.path(),
        "p",
        &format!(r#","export":"file","file.path":"{}""#, out.display()),
    );
    let sock = tmp.path().join("run/sub/sysflow.sock");
    prepare(&sock);
    let child = sensor()
        .args(["run", "--log", "info", "--input", "socket", "--config"])
        .arg(&cfg)
        .args(extra)
        .arg(&sock)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Daemon {
        child,
        out,
        sock,
        _tmp: tmp,
    }
}

fn wait_lines(path: &Path, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        // Only complete lines: the exporter may be in the middle of writing one.
        let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        let lines = json_lines(complete);
        if lines.len() >= n || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stop(d: Daemon) -> (i32, String) {
    unsafe { libc::kill(d.child.id() as i32, libc::SIGTERM) };
    let o = d.child.wait_with_output().unwrap();
    (o.status.code().unwrap_or(-1), stderr(&o))
}

#[test]
fn records_from_reconnecting_collectors_arrive_once_in_order() {
    let Some(shared) = shared_dir() else { return };
    let recs = records(&shared.join("traces/nodejs.1544763289.sf"));
    assert!(matches!(recs[0], SysFlow::Header(_)));
    let half = recs.len() / 2;
    // A stale socket file from an earlier run is replaced.
    let d = start(&[], |sock| {
        std::fs::create_dir_all(sock.parent().unwrap()).unwrap();
        drop(std::os::unix::net::UnixListener::bind(sock).unwrap());
    });

    let c = Client::connect(&d.sock);
    let mode = std::fs::metadata(&d.sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    for r in &recs[..half] {
        c.send_rec(r);
    }
    // A malformed message: counted, skipped, connection kept.
    c.send(&[0x0e, 0xff, 0xff, 0xff]);
    drop(c);

    // The collector comes back: a new header, the entities again, then the rest.
    let c = Client::connect(&d.sock);
    for r in recs[..half].iter().filter(|r| key(r).is_none()) {
        c.send_rec(r);
    }
    for r in &recs[half..] {
        c.send_rec(r);
    }
    drop(c);

    let want: Vec<(String, i64)> = recs.iter().filter_map(key).collect();
    let lines = wait_lines(&d.out, want.len());
    let got: Vec<(String, i64)> = lines
        .iter()
        .map(|l| {
            (
                l["type"].as_str().unwrap().to_string(),
                l["ts"].as_i64().unwrap(),
            )
        })
        .collect();
    let (code, err) = stop(d);
    assert_eq!(code, 0, "{err}");
    let first_diff = got.iter().zip(&want).position(|(a, b)| a != b);
    assert!(
        got.len() == want.len() && first_diff.is_none(),
        "exported {} records, sent {}; first difference at {first_diff:?}",
        got.len(),
        want.len()
    );
    assert!(err.contains("decode_errors=1"), "{err}");
    assert!(err.contains("collector connected (connection 2)"), "{err}");
}

#[test]
fn oversized_messages_are_received_whole() {
    let Some(shared) = shared_dir() else { return };
    let recs = records(&shared.join("traces/shellshock.sf"));
    let d = start(&[], |_| {});
    let c = Client::connect(&d.sock);
    // Every process gets 50 kB of arguments: far beyond the original's 16 kB buffer.
    let big = "A".repeat(50_000);
    for r in &recs {
        let mut r = r.clone();
        if let SysFlow::Process(p) = &mut r {
            p.exe_args = big.clone();
        }
        c.send_rec(&r);
    }
    drop(c);
    let n = recs.iter().filter_map(key).count();
    let lines = wait_lines(&d.out, n);
    let (code, err) = stop(d);
    assert_eq!(code, 0, "{err}");
    assert_eq!(lines.len(), n, "{err}");
    let pe = lines.iter().find(|l| l["type"] == "PE").unwrap();
    assert_eq!(pe["proc"]["args"].as_str().unwrap().len(), big.len());
    let exit: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("counters (exit)"))
        .collect();
    assert!(!exit.is_empty(), "{err}");
    assert!(
        exit.iter().all(|l| l.contains(" decode_errors=0 ")),
        "{err}"
    );
}

#[test]
fn socket_mode_is_configurable_and_symlinks_are_refused() {
    let d = start(&["--socket-mode", "0660"], |_| {});
    let _c = Client::connect(&d.sock);
    let mode = std::fs::metadata(&d.sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
    let sock = d.sock.clone();
    let (code, err) = stop(d);
    assert_eq!(code, 0, "{err}");
    assert!(!sock.exists(), "socket file removed at exit");

    let d = start(&[], |sock| {
        std::fs::create_dir_all(sock.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", sock).unwrap();
    });
    let o = d.child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("symbolic link"), "{}", stderr(&o));
}
