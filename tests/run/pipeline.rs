//! `sensor run` behaviours around the pipeline: SIGHUP reload, SIGUSR1 counters, exporter
//! `type` alert vs telemetry, `buffer` batching with its time bound, and input order kept by
//! several policy workers.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sysflow_model::avro::{Codec, Writer};
use sysflow_model::{RecordType, SysFlow};

use testkit::run::*;
use testkit::shared_dir;

use super::sensor;

fn rule(name: &str, cond: &str) -> String {
    format!("- rule: {name}\n  desc: {name}\n  condition: {cond}\n  priority: low\n")
}

/// Complete JSON lines of `out` so far.
fn lines(out: &Path) -> Vec<serde_json::Value> {
    let t = std::fs::read_to_string(out).unwrap_or_default();
    json_lines(&t[..t.rfind('\n').map_or(0, |i| i + 1)])
}

fn wait_lines(out: &Path, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = lines(out);
        if v.len() >= n || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `sensor run --input socket` exporting to `out`, configured by environment overrides.
fn socket_daemon(sock: &Path, out: &Path, env: &[(&str, &Path)]) -> Daemon {
    let mut cmd = sensor();
    cmd.args(["run", "--log", "info", "--input", "socket"])
        .arg(sock)
        .env("EXPORTER_EXPORT", "file")
        .env("EXPORTER_FILE_PATH", out);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Daemon::spawn(cmd)
}

#[test]
fn sighup_reloads_rules_and_keeps_them_on_error() {
    let Some(shared) = shared_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let recs = records(&shared.join("traces/shellshock.sf"));
    let count = |t: RecordType| recs.iter().filter(|r| r.record_type() == t).count();
    let (n_ff, n_pe) = (count(RecordType::FileFlow), count(RecordType::ProcessEvent));
    assert!(n_ff > 0 && n_pe > 0);
    let rules = tmp.path().join("rules.yaml");
    std::fs::write(&rules, rule("ff", "sf.type = FF")).unwrap();
    let (out, sock) = (tmp.path().join("out.json"), tmp.path().join("s.sock"));
    // No `monitor`: only SIGHUP reloads.
    let mut d = socket_daemon(&sock, &out, &[("POLICYENGINE_POLICIES", &rules)]);
    let fd = Client::connect(&sock);
    fd.send_all(&recs);
    assert_eq!(wait_lines(&out, n_ff).len(), n_ff);

    std::fs::write(&rules, rule("pe", "sf.type = PE")).unwrap();
    // Nothing watches the file: the old rules stay until SIGHUP.
    std::thread::sleep(Duration::from_millis(500));
    assert!(!d.seen.iter().any(|l| l.contains("recompiled")));
    d.signal(libc::SIGHUP);
    d.wait_log("recompiled");
    fd.send_all(&recs);
    let v = wait_lines(&out, n_ff + n_pe);
    assert_eq!(v.len(), n_ff + n_pe);
    assert!(v[n_ff..]
        .iter()
        .all(|l| l["type"] == "PE" && rule_ids(l) == ["pe"]));

    std::fs::write(
        &rules,
        "- rule: broken\n  desc: x\n  condition: (sf.type = \n",
    )
    .unwrap();
    d.signal(libc::SIGHUP);
    d.wait_log("keeping the previous rules");
    fd.send_all(&recs);
    let v = wait_lines(&out, n_ff + 2 * n_pe);
    assert_eq!(v.len(), n_ff + 2 * n_pe);
    assert!(v[n_ff + n_pe..].iter().all(|l| rule_ids(l) == ["pe"]));
    drop(fd);
    let (code, log) = d.stop();
    assert_eq!(code, 0, "{log}");
}

#[test]
fn sigusr1_logs_every_counter_of_every_stage() {
    let Some(shared) = shared_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let recs = records(&shared.join("traces/shellshock.sf"));
    let n_events = recs.iter().filter(|r| is_event(r)).count();
    let n_pe = recs
        .iter()
        .filter(|r| r.record_type() == RecordType::ProcessEvent)
        .count();
    let rules = tmp.path().join("rules.yaml");
    std::fs::write(&rules, rule("pe", "sf.type = PE")).unwrap();
    let (out, sock) = (tmp.path().join("out.json"), tmp.path().join("s.sock"));
    let mut d = socket_daemon(&sock, &out, &[("POLICYENGINE_POLICIES", &rules)]);
    let fd = Client::connect(&sock);
    fd.send_all(&recs);
    // Junk the decoder must reject, counted as a decode error.
    let junk = [0xffu8; 7];
    fd.send(&junk);
    assert_eq!(wait_lines(&out, n_pe).len(), n_pe);
    // The junk message was sent after the trace; give the driver a moment to count it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (drv, pol, exp) = loop {
        d.seen.clear();
        d.signal(libc::SIGUSR1);
        let drv = d.wait_log("counters (SIGUSR1) driver (socket):");
        let pol = d.wait_log("counters (SIGUSR1) pipeline[1] (policyengine):");
        let exp = d.wait_log("counters (SIGUSR1) pipeline[2] (exporter):");
        if counter(&drv, "decode_errors") == 1 || Instant::now() > deadline {
            break (drv, pol, exp);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    for l in [&drv, &pol, &exp] {
        for c in [
            "in",
            "out",
            "filtered",
            "alerts",
            "decode_errors",
            "export_errors",
            "dropped",
        ] {
            counter(l, c);
        }
    }
    assert_eq!(counter(&drv, "in"), recs.len() as u64 + 1, "{drv}");
    assert_eq!(counter(&drv, "out"), recs.len() as u64, "{drv}");
    assert_eq!(counter(&drv, "decode_errors"), 1, "{drv}");
    assert_eq!(counter(&pol, "in"), n_events as u64, "{pol}");
    assert_eq!(counter(&pol, "alerts"), n_pe as u64, "{pol}");
    assert_eq!(counter(&pol, "out"), n_pe as u64, "{pol}");
    assert_eq!(counter(&exp, "out"), n_pe as u64, "{exp}");
    assert_eq!(counter(&exp, "export_errors"), 0, "{exp}");
    drop(fd);
    let (code, log) = d.stop();
    assert_eq!(code, 0, "{log}");
    // The same counters once more at exit.
    assert!(
        log.contains("counters (exit) pipeline[2] (exporter): in="),
        "{log}"
    );
}

#[test]
fn type_alert_exports_only_matches_and_telemetry_everything() {
    let Some(shared) = shared_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("rules.yaml");
    std::fs::write(&rules, rule("pe", "sf.type = PE")).unwrap();
    let (alerts, all) = (tmp.path().join("alerts.json"), tmp.path().join("all.json"));
    let cfg = tmp.path().join("p.json");
    std::fs::write(
        &cfg,
        format!(
            r#"{{"pipeline":[
  {{"processor":"sysflowreader","handler":"flattener","in":"sysflow sysflowchan","out":"flat flattenerchan"}},
  {{"processor":"policyengine","in":"flat flattenerchan","out":["a eventchan","b eventchan"],"policies":"{}","mode":"enrich"}},
  {{"processor":"exporter","in":"a eventchan","export":"file","type":"alert","path":"{}"}},
  {{"processor":"exporter","in":"b eventchan","export":"file","type":"telemetry","path":"{}"}}]}}"#,
            rules.display(),
            alerts.display(),
            all.display()
        ),
    )
    .unwrap();
    let trace = shared.join("traces/shellshock.sf");
    let o = sensor()
        .args(["run", "--log", "info", "--config"])
        .arg(&cfg)
        .arg(&trace)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let recs = records(&trace);
    let n_events = recs.iter().filter(|r| is_event(r)).count();
    let all = json_lines(&std::fs::read_to_string(&all).unwrap());
    let alerts = json_lines(&std::fs::read_to_string(&alerts).unwrap());
    assert_eq!(all.len(), n_events);
    let matched: Vec<_> = all.iter().filter(|l| !rule_ids(l).is_empty()).collect();
    assert!(!matched.is_empty() && matched.len() < all.len());
    let is_pe_and_matched = |l: &serde_json::Value| (l["type"] == "PE", !rule_ids(l).is_empty());
    assert!(all.iter().map(is_pe_and_matched).all(|(pe, m)| pe == m));
    assert_eq!(alerts.iter().collect::<Vec<_>>(), matched);
}

#[test]
fn buffer_flushes_after_n_records_or_one_second() {
    let Some(shared) = shared_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let recs = records(&shared.join("traces/shellshock.sf"));
    // Entities (and the header) first, then the events a few at a time.
    let (events, entities): (Vec<SysFlow>, Vec<SysFlow>) = recs.into_iter().partition(is_event);
    assert!(events.len() >= 8);
    let (out, sock) = (tmp.path().join("out.json"), tmp.path().join("s.sock"));
    let mut cmd = sensor();
    cmd.args(["run", "--log", "info", "--input", "socket"])
        .arg(&sock)
        .env("POLICYENGINE_MODE", "enrich")
        .env("EXPORTER_EXPORT", "file")
        .env("EXPORTER_FILE_PATH", &out)
        .env("EXPORTER_BUFFER", "5");
    let d = Daemon::spawn(cmd);
    let fd = Client::connect(&sock);
    fd.send_all(&entities);

    // 3 records: fewer than `buffer`, so they wait for the 1 s bound.
    let t = Instant::now();
    fd.send_all(&events[..3]);
    std::thread::sleep(Duration::from_millis(400));
    if t.elapsed() < Duration::from_millis(900) {
        assert_eq!(lines(&out).len(), 0, "flushed before the time bound");
    }
    assert_eq!(wait_lines(&out, 3).len(), 3, "the time bound flushes");
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(950),
        "flushed after {waited:?}"
    );

    // 5 records: a full buffer is written at once, without waiting for the time bound.
    let t = Instant::now();
    fd.send_all(&events[3..8]);
    assert_eq!(wait_lines(&out, 8).len(), 8);
    let took = t.elapsed();
    assert!(
        took < Duration::from_millis(900),
        "a full buffer must not wait for the time bound (took {took:?})"
    );
    drop(fd);
    let (code, log) = d.stop();
    assert_eq!(code, 0, "{log}");
}

/// A trace of the shared records replicated `times` times (entities included each time).
fn replicated(src: &Path, dst: &Path, times: usize) -> Vec<SysFlow> {
    let recs = records(src);
    let mut w = Writer::new(std::fs::File::create(dst).unwrap(), Codec::Null).unwrap();
    let mut events = Vec::new();
    for _ in 0..times {
        for r in &recs {
            w.write(r).unwrap();
            if is_event(r) {
                events.push(r.clone());
            }
        }
    }
    w.finish().unwrap();
    events
}

fn ts(r: &SysFlow) -> i64 {
    match r {
        SysFlow::ProcessEvent(e) => e.ts,
        SysFlow::FileFlow(e) => e.ts,
        SysFlow::FileEvent(e) => e.ts,
        SysFlow::NetworkFlow(e) => e.ts,
        _ => 0,
    }
}

#[test]
fn several_policy_workers_keep_input_order() {
    let Some(shared) = shared_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let trace: PathBuf = tmp.path().join("big.sf");
    // Dozens of batches, so that the workers finish them out of order.
    let events = replicated(&shared.join("traces/nodejs.1544763289.sf"), &trace, 40);
    assert!(events.len() > 20 * 1024, "{} events", events.len());
    let rules = tmp.path().join("rules.yaml");
    std::fs::write(&rules, rule("pe", "sf.type = PE")).unwrap();
    let out = tmp.path().join("out.json");
    let o = sensor()
        .args(["run", "--log", "debug"])
        .arg(&trace)
        .env("POLICYENGINE_MODE", "enrich")
        .env("POLICYENGINE_POLICIES", &rules)
        .env("POLICYENGINE_CONCURRENCY", "4")
        .env("EXPORTER_EXPORT", "file")
        .env("EXPORTER_FILE_PATH", &out)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert!(
        err.contains(&format!("{} policy worker(s)", cores.min(4))),
        "{err}"
    );
    let got = json_lines(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(got.len(), events.len());
    for (i, (g, e)) in got.iter().zip(&events).enumerate() {
        assert_eq!(g["type"], e.record_type().code(), "record {i}");
        assert_eq!(g["ts"].as_i64(), Some(ts(e)), "record {i}");
    }
}
