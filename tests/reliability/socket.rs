//! A hostile socket: empty, oversized, truncated, unknown-branch and garbage messages; a
//! client that connects and sends nothing; one that disconnects mid-stream; many clients at
//! once. The daemon keeps serving every well-behaved collector, counts each rejected message
//! (the `decode_errors` counter it logs at exit), and its memory stays flat over 100 k bad
//! messages.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use sysflow_model::avro::datum::encode_datum;
use testkit::reliability::{rss_kib, Rng};
use testkit::run::Client;
use testkit::traces;

use super::sensor;

struct Daemon {
    child: Child,
    out: PathBuf,
    sock: PathBuf,
    _tmp: tempfile::TempDir,
}

/// `sensor run --input socket` in enrich mode (every record goes on) to a file exporter.
fn start() -> Daemon {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out.json");
    let cfg = testkit::run::enrich_pipeline(
        tmp.path(),
        "p",
        &format!(r#","export":"file","file.path":"{}""#, out.display()),
    );
    let sock = tmp.path().join("sysflow.sock");
    let child = sensor()
        .args(["run", "--log", "info", "--input", "socket", "--config"])
        .arg(&cfg)
        .arg(&sock)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sensor run");
    Daemon {
        child,
        out,
        sock,
        _tmp: tmp,
    }
}

fn lines(path: &Path) -> usize {
    let t = std::fs::read_to_string(path).unwrap_or_default();
    t.matches('\n').count()
}

fn wait_lines(path: &Path, n: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let k = lines(path);
        if k >= n || Instant::now() > deadline {
            return k;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stop(d: Daemon) -> (Option<i32>, String) {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(d.child.id() as i32, libc::SIGTERM) };
    let o = d.child.wait_with_output().expect("wait");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The value of `name=` in the exit counters of the driver stage.
fn counter(log: &str, stage: &str, name: &str) -> u64 {
    log.lines()
        .filter(|l| l.contains("counters (exit)") && l.contains(stage))
        .find_map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix(&format!("{name}=")))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Every kind of bad message, as (label, bytes).
fn bad_messages() -> Vec<(&'static str, Vec<u8>)> {
    let mut valid = Vec::new();
    encode_datum(&traces::event(0), &mut valid);
    let mut rng = Rng(0xbad5_0c7e);
    let garbage: Vec<u8> = (0..300).map(|_| rng.next_u64() as u8).collect();
    vec![
        ("empty", Vec::new()),
        // 200 kB: beyond any record and beyond the original's 16 kB receive buffer.
        ("oversized", vec![0xff; 200_000]),
        ("truncated", valid[..valid.len() - 3].to_vec()),
        ("trailing", [valid.as_slice(), &[0, 0]].concat()),
        // Union index 12: the v5 union has 12 branches (0..=11).
        ("unknown branch", vec![24, 0, 0, 0]),
        ("negative branch", vec![1, 0]),
        ("garbage", garbage),
        ("huge string length", vec![8, 0xfe, 0xff, 0xff, 0xff, 0x0f]),
    ]
}

#[test]
fn hostile_clients_do_not_stop_the_daemon_and_are_counted() {
    let _cpus = testkit::isolate::shared();
    let d = start();
    let events = 70i64;
    let recs = traces::records(events);

    // A client that connects and never sends anything stays connected throughout.
    let idle = Client::connect(&d.sock);

    // A client that disconnects mid-stream: entities and half its events.
    let quitter = Client::connect(&d.sock);
    for r in &recs[..recs.len() - events as usize / 2] {
        quitter.send_rec(r);
    }
    drop(quitter);
    let mut want = (events / 2) as usize;
    assert_eq!(
        wait_lines(&d.out, want),
        want,
        "the idle client locked the others out"
    );

    // Every kind of bad message, each followed by a good record on the same connection.
    let bad = bad_messages();
    let hostile = Client::connect(&d.sock);
    for r in traces::entities() {
        hostile.send_rec(&r);
    }
    for (_, m) in &bad {
        hostile.send(m);
        hostile.send_rec(&traces::event(1));
    }
    want += bad.len();
    assert_eq!(wait_lines(&d.out, want), want, "records after bad messages");

    // Many clients at once, each a whole stream.
    let clients = 24;
    std::thread::scope(|s| {
        for _ in 0..clients {
            s.spawn(|| {
                let c = Client::connect(&d.sock);
                for r in &recs {
                    c.send_rec(r);
                }
            });
        }
    });
    want += clients * events as usize;
    assert_eq!(
        wait_lines(&d.out, want),
        want,
        "records from {clients} concurrent clients"
    );

    // 100 k bad messages from four clients: memory stays flat.
    let pid = d.child.id();
    let warm = Client::connect(&d.sock);
    for (_, m) in bad.iter().cycle().take(2000) {
        warm.send(m);
    }
    warm.send_rec(&traces::event(2));
    want += 1;
    assert_eq!(wait_lines(&d.out, want), want);
    let before = rss_kib(pid);
    let per_client = 25_000;
    std::thread::scope(|s| {
        for k in 0..4 {
            let bad = &bad;
            let sock = &d.sock;
            s.spawn(move || {
                let c = Client::connect(sock);
                for (_, m) in bad.iter().cycle().skip(k).take(per_client) {
                    c.send(m);
                }
                c.send_rec(&traces::event(3));
            });
        }
    });
    want += 4;
    assert_eq!(
        wait_lines(&d.out, want),
        want,
        "records after 100 k bad messages"
    );
    let after = rss_kib(pid);
    assert!(
        after <= before + 8 * 1024,
        "daemon RSS grew from {before} KiB to {after} KiB over 100 k bad messages"
    );

    drop(idle);
    let (code, log) = stop(d);
    assert_eq!(code, Some(0), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    let rejected = bad.len() as u64 + 2000 + 4 * per_client as u64;
    assert_eq!(
        counter(&log, "driver", "decode_errors"),
        rejected,
        "every bad message counted once: {}",
        log.lines()
            .filter(|l| l.contains("counters"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(log.contains("empty message"), "{log}");
    assert!(log.contains("union index 12"), "{log}");
    println!("daemon RSS over 100 k bad messages: {before} KiB -> {after} KiB");
}
