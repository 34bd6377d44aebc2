//! `sensor run --metrics`: the endpoint read directly (every counter, queue depths, build
//! info, liveness and readiness) and scraped by a real Prometheus, while a collector-side
//! client streams a real trace into the socket.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use testkit::http;
use testkit::run::*;

use super::sensor;

/// A `sensor run --input socket --metrics 127.0.0.1:0` with the built-in pipeline (alerts as
/// JSON lines on stdout).
pub(crate) struct Daemon {
    pub child: Child,
    pub lines: Receiver<(bool, String)>,
    /// The metrics address the sensor logged.
    pub addr: String,
    pub sock: PathBuf,
    /// stdout lines seen while waiting for the address.
    pub stdout: Vec<String>,
    _tmp: tempfile::TempDir,
}

impl Daemon {
    /// Starts the sensor and waits (20 s at most) for the address it logs and for its
    /// pipeline to be built.
    pub fn start(extra: &[&str]) -> Daemon {
        let tmp = tempfile::tempdir().unwrap();
        let sock = tmp.path().join("sysflow.sock");
        let (child, lines) = spawn_lines(
            sensor()
                .args(["run", "--input", "socket", "--metrics", "127.0.0.1:0"])
                .args(extra)
                .arg(&sock),
        );
        let mut d = Daemon {
            child,
            lines,
            addr: String::new(),
            sock,
            stdout: Vec::new(),
            _tmp: tmp,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while d.addr.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            let (out, l) = d
                .lines
                .recv_timeout(left)
                .expect("the sensor logs its metrics address");
            if out {
                d.stdout.push(l);
            } else if let Some(rest) = l.split("metrics on http://").nth(1) {
                d.addr = rest.split('/').next().unwrap().to_string();
            }
        }
        // The endpoint answers from the start; the pipeline is built just after.
        while d.get("/readyz").body.contains("starting") {
            assert!(Instant::now() < deadline, "the pipeline is built");
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }

    pub fn get(&self, path: &str) -> http::Response {
        http::get(&self.addr, path, &[]).expect("the metrics endpoint answers")
    }

    /// The sensor's metrics as `(name with labels, value)`.
    pub fn scrape(&self) -> Vec<(String, f64)> {
        let r = self.get("/metrics");
        assert_eq!(r.status, 200);
        samples(&r.body)
    }

    /// SIGTERM; returns the exit status and the stdout lines not read yet.
    pub fn stop(mut self) -> (i32, Vec<String>) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().unwrap();
        let mut out = std::mem::take(&mut self.stdout);
        while let Ok((o, l)) = self.lines.recv_timeout(Duration::from_secs(5)) {
            if o {
                out.push(l);
            }
        }
        (status.code().unwrap_or(-1), out)
    }
}

/// Samples of a text exposition: `name{labels}` and value, comments left out.
pub(crate) fn samples(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

fn value(s: &[(String, f64)], key: &str) -> Option<f64> {
    s.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
}

/// Waits (30 s at most) until `done` holds for a scrape; returns that scrape.
fn scrape_until(
    d: &Daemon,
    what: &str,
    done: impl Fn(&[(String, f64)]) -> bool,
) -> Vec<(String, f64)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = d.scrape();
        if done(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "{what}; last scrape: {s:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The trace streamed into the socket: a real one on which the built-in rules alert.
fn trace(shared: &Path) -> Vec<sysflow_model::SysFlow> {
    records(&shared.join("traces/k8s_small.sf"))
}

const STAGES: [&str; 4] = [
    "driver (socket)",
    "pipeline[0] (sysflowreader)",
    "pipeline[1] (policyengine)",
    "pipeline[2] (exporter)",
];

const COUNTERS: [&str; 7] = [
    "records_in",
    "records_out",
    "filtered",
    "alerts",
    "decode_errors",
    "export_errors",
    "dropped",
];

#[test]
fn endpoint_counts_what_a_collector_sent_and_probes_follow_the_input() {
    let Some(shared) = testkit::shared_dir() else {
        return;
    };
    let recs = trace(&shared);
    let d = Daemon::start(&[]);

    let h = d.get("/healthz");
    assert_eq!((h.status, h.body.as_str()), (200, "ok\n"));
    // Built and running, but nobody streams into the socket yet.
    let r = d.get("/readyz");
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.body.contains("no collector connected"), "{}", r.body);
    assert_eq!(d.get("/nope").status, 404);

    let c = Client::connect(&d.sock);
    c.send_all(&recs);
    let n = recs.len() as f64;
    let driver_in = r#"sysflow_stage_records_in_total{stage="driver (socket)"}"#;
    let s = scrape_until(&d, "the driver counts every record sent", |s| {
        value(s, driver_in) == Some(n)
    });
    let r = d.get("/readyz");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, "ready: input socket, 1 collector(s) connected\n");
    assert_eq!(
        value(&s, r#"sysflow_input_connections{input="socket"}"#),
        Some(1.0)
    );
    assert_eq!(value(&s, r#"sysflow_ready{input="socket"}"#), Some(1.0));
    // Every counter of every stage, zeros included.
    for st in STAGES {
        for c in COUNTERS {
            let key = format!(r#"sysflow_stage_{c}_total{{stage="{st}"}}"#);
            assert!(value(&s, &key).is_some(), "{key} missing");
        }
    }
    // Queue depths of every stage's input, in batches of the bounded channels.
    for st in &STAGES[1..] {
        let cap = format!(r#"sysflow_queue_capacity_batches{{stage="{st}"}}"#);
        assert_eq!(value(&s, &cap), Some(64.0), "{cap}");
        let depth = format!(r#"sysflow_queue_batches{{stage="{st}"}}"#);
        assert!(
            value(&s, &depth).is_some_and(|v| (0.0..=64.0).contains(&v)),
            "{depth}"
        );
    }
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        s.iter().any(|(k, v)| k.starts_with("sysflow_build_info{")
            && k.contains(&format!(r#"version="{version}""#))
            && *v == 1.0),
        "build info: {s:?}"
    );
    assert_eq!(
        value(
            &s,
            r#"sysflow_stage_decode_errors_total{stage="driver (socket)"}"#
        ),
        Some(0.0)
    );

    // The alerts counted are the alert lines written. Each stage counts a batch once it
    // has handled it, so the pipeline has drained when every stage has handled what the
    // one before passed on.
    let stage = |c: &str, st: &str| format!(r#"sysflow_stage_{c}_total{{stage="{st}"}}"#);
    let [_, reader, policy, exporter] = STAGES;
    let policy_alerts = stage("alerts", policy);
    let s = scrape_until(&d, "the pipeline drains", |s| {
        let v = |c: &str, st: &str| value(s, &stage(c, st));
        v("records_in", reader) == Some(n)
            && v("records_in", policy) == v("records_out", reader)
            && v("records_in", exporter) == v("records_out", policy)
            && v("records_out", exporter) == v("records_in", exporter)
            && v("records_out", policy) == v("alerts", policy)
    });
    let alerts = value(&s, &policy_alerts).unwrap();
    assert!(alerts > 0.0, "the built-in rules alert on k8s_small.sf");

    // The collector goes away: no longer ready.
    drop(c);
    let deadline = Instant::now() + Duration::from_secs(10);
    while d.get("/readyz").status != 503 {
        assert!(Instant::now() < deadline, "readiness follows the collector");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (code, out) = d.stop();
    assert_eq!(code, 0);
    let lines: Vec<_> = out.iter().filter(|l| l.starts_with('{')).collect();
    assert_eq!(
        lines.len() as f64,
        alerts,
        "alert lines written = alerts counted"
    );
}

#[test]
fn openmetrics_for_prometheus_and_text_for_others() {
    let d = Daemon::start(&[]);
    let om = http::get(
        &d.addr,
        "/metrics",
        &[(
            "Accept",
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        )],
    )
    .unwrap();
    assert!(
        om.header("content-type")
            .unwrap()
            .starts_with("application/openmetrics-text"),
        "{:?}",
        om.headers
    );
    assert!(om.body.ends_with("# EOF\n"));
    let plain = d.get("/metrics");
    assert!(plain
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    assert!(!plain.body.contains("# EOF"));
    // The same samples either way.
    assert_eq!(samples(&om.body), samples(&plain.body));
    let (code, _) = d.stop();
    assert_eq!(code, 0);
}

/// Prometheus 2 (Debian's package): on loopback, its own data directory, scraping `target`
/// every second.
struct Prometheus {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn start(target: &str) -> Option<Prometheus> {
        let bin = testkit::locate::program("prometheus")?;
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("prometheus.yml");
        std::fs::write(
            &cfg,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: sensor\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let addr = format!("127.0.0.1:{}", http::free_port());
        let child = std::process::Command::new(bin)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("log")).unwrap())
            .spawn()
            .unwrap();
        let p = Prometheus {
            child,
            addr,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while http::get(&p.addr, "/-/ready", &[]).map(|r| r.status) != Some(200) {
            let log = std::fs::read_to_string(p._dir.path().join("log")).unwrap_or_default();
            assert!(Instant::now() < deadline, "prometheus did not start: {log}");
            std::thread::sleep(Duration::from_millis(200));
        }
        Some(p)
    }

    /// The value of an instant query returning one sample.
    fn query(&self, q: &str) -> Option<f64> {
        let r = http::get(
            &self.addr,
            &format!("/api/v1/query?query={}", http::encode(q)),
            &[],
        )?;
        let v: serde_json::Value = serde_json::from_str(&r.body).ok()?;
        v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }
}

#[test]
fn prometheus_scrapes_the_record_count_a_collector_streamed() {
    let Some(shared) = testkit::shared_dir() else {
        return;
    };
    let recs = trace(&shared);
    let d = Daemon::start(&[]);
    let Some(prom) = Prometheus::start(&d.addr) else {
        return;
    };
    let c = Client::connect(&d.sock);
    c.send_all(&recs);
    let q = r#"sysflow_stage_records_in_total{job="sensor",stage="driver (socket)"}"#;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = None;
    while last != Some(recs.len() as f64) {
        assert!(
            Instant::now() < deadline,
            "prometheus reads {} records sent, last {last:?}",
            recs.len()
        );
        std::thread::sleep(Duration::from_millis(500));
        last = prom.query(q);
    }
    // The scrape itself went well, and the readiness gauge came along.
    assert_eq!(prom.query(r#"up{job="sensor"}"#), Some(1.0));
    assert_eq!(prom.query(r#"sysflow_ready{job="sensor"}"#), Some(1.0));
    drop(c);
    drop(prom);
    let (code, _) = d.stop();
    assert_eq!(code, 0);
}

/// A syslog exporter's backlog shows on `/metrics` (as gauges and counters of that stage
/// only): with the server down, what the trace's alerts weigh is held and counted.
#[test]
fn backlog_of_a_network_exporter_is_on_the_endpoint() {
    let Some(shared) = testkit::shared_dir() else {
        return;
    };
    // A TCP port nobody listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("pipeline.json");
    std::fs::write(
        &cfg,
        format!(
            r#"{{"pipeline": [
  {{"processor": "sysflowreader", "in": "sysflow sysflowchan", "out": "flat flattenerchan"}},
  {{"processor": "policyengine", "in": "flat flattenerchan", "out": "evt eventchan", "mode": "alert"}},
  {{"processor": "exporter", "in": "evt eventchan", "export": "syslog", "format": "json",
    "syslog.proto": "tcp", "syslog.host": "127.0.0.1", "syslog.port": "{port}",
    "backlog.maxbytes": "1MiB"}}
]}}"#
        ),
    )
    .unwrap();
    let d = Daemon::start(&["--config", cfg.to_str().unwrap()]);
    let c = Client::connect(&d.sock);
    let recs = trace(&shared);
    c.send_all(&recs);
    drop(c);
    let exporter = r#"{stage="pipeline[2] (exporter)"}"#;
    let held = format!("sysflow_stage_backlog_records{exporter}");
    let s = scrape_until(&d, "the alerts are held in the backlog", |s| {
        value(s, &held).is_some_and(|v| v > 0.0)
    });
    let bytes = value(&s, &format!("sysflow_stage_backlog_bytes{exporter}")).unwrap();
    assert!(bytes > 0.0 && bytes <= 1024.0 * 1024.0, "{bytes}");
    for name in [
        "persisted",
        "dropped_full",
        "dropped_shutdown",
        "dropped_corrupt",
    ] {
        assert!(
            value(&s, &format!("sysflow_stage_{name}_total{exporter}")).is_some(),
            "{name} missing: {s:?}"
        );
    }
    // Stages without a backlog have none of these.
    assert!(
        !s.iter()
            .any(|(k, _)| k.starts_with("sysflow_stage_backlog") && !k.contains("exporter")),
        "{s:?}"
    );
    let _ = d.stop();
}
