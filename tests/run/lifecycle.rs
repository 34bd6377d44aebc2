//! Shutdown and hot reload of `sensor run`: SIGTERM in the middle of a large trace exports
//! every record accepted before it; `monitor: local` swaps rules in and keeps the old ones when
//! the new ones do not compile.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use sysflow_model::avro::{Codec, Writer};
use sysflow_model::RecordType;

use testkit::run::*;
use testkit::shared_dir;

use super::sensor;

#[test]
fn sigterm_mid_trace_exports_everything_accepted() {
    let Some(shared) = shared_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let base = records(&shared.join("traces/nodejs.1544763289.sf"));
    // A large trace: the same records many times over.
    let big = tmp.path().join("big.sf");
    let mut w = Writer::new(std::fs::File::create(&big).unwrap(), Codec::Null).unwrap();
    let mut all = Vec::new();
    for _ in 0..400 {
        for r in &base {
            w.write(r).unwrap();
            all.push(is_event(r));
        }
    }
    w.finish().unwrap();
    let rules = tmp.path().join("r.yaml");
    std::fs::write(
        &rules,
        "- rule: exec\n  desc: process started\n  condition: sf.type = PE\n  priority: low\n",
    )
    .unwrap();
    let out = tmp.path().join("out.json");
    let mut child = sensor()
        .args(["run", "--log", "info"])
        .arg(&big)
        .env("POLICYENGINE_MODE", "enrich")
        .env("POLICYENGINE_POLICIES", &rules)
        .env("EXPORTER_EXPORT", "file")
        .env("EXPORTER_FILE_PATH", &out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Signal only once the driver reads (the handlers are installed before it starts; a
    // fixed delay raced with a slow start on a loaded machine), then a little later.
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut err = String::new();
    for l in lines.by_ref() {
        let l = l.unwrap();
        err.push_str(&l);
        err.push('\n');
        if l.contains("reading ") {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    for l in lines {
        err.push_str(&l.unwrap());
        err.push('\n');
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    // How many records the driver accepted before it stopped.
    let accepted: usize = err
        .lines()
        .find_map(|l| l.split("driver (file): in=").nth(1))
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no driver counter in: {err}"));
    assert!(
        accepted > 0 && accepted < all.len(),
        "signal must land mid-trace: {accepted} of {}",
        all.len()
    );
    let want = all[..accepted].iter().filter(|e| **e).count();
    let got = std::fs::read_to_string(&out).unwrap().lines().count();
    assert_eq!(got, want, "every event accepted before SIGTERM is exported");
}

fn wait_types(out: &Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let t = std::fs::read_to_string(out).unwrap_or_default();
        let complete = &t[..t.rfind('\n').map_or(0, |i| i + 1)];
        let v: Vec<String> = json_lines(complete)
            .iter()
            .map(|l| l["type"].as_str().unwrap().to_string())
            .collect();
        if v.len() >= n || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn monitor_local_reloads_rules_and_keeps_them_on_error() {
    let Some(shared) = shared_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let recs = records(&shared.join("traces/shellshock.sf"));
    let count = |t: RecordType| recs.iter().filter(|r| r.record_type() == t).count();
    let (n_nf, n_pe) = (count(RecordType::FileFlow), count(RecordType::ProcessEvent));
    assert!(n_nf > 0 && n_pe > 0);
    let dir = tmp.path().join("policies");
    std::fs::create_dir(&dir).unwrap();
    let rule = |ty: &str| {
        format!("- rule: {ty} seen\n  desc: a {ty} record\n  condition: sf.type = {ty}\n  priority: low\n")
    };
    std::fs::write(dir.join("rules.yaml"), rule("FF")).unwrap();
    let out = tmp.path().join("out.json");
    let sock = tmp.path().join("s.sock");
    let child = sensor()
        .args(["run", "--log", "info", "--input", "socket"])
        .arg(&sock)
        .env("POLICYENGINE_POLICIES", &dir)
        .env("POLICYENGINE_MONITOR", "local")
        .env("EXPORTER_EXPORT", "file")
        .env("EXPORTER_FILE_PATH", &out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    Client::connect(&sock).send_all(&recs);
    assert_eq!(wait_types(&out, n_nf).len(), n_nf);

    std::fs::write(dir.join("rules.yaml"), rule("PE")).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    Client::connect(&sock).send_all(&recs);
    let types = wait_types(&out, n_nf + n_pe);
    assert_eq!(types.len(), n_nf + n_pe);
    assert!(
        types[n_nf..].iter().all(|t| t == "PE"),
        "new rules in force"
    );

    std::fs::write(
        dir.join("rules.yaml"),
        "- rule: broken\n  desc: x\n  condition: (sf.type = \n",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    Client::connect(&sock).send_all(&recs);
    let types = wait_types(&out, n_nf + 2 * n_pe);
    assert_eq!(types.len(), n_nf + 2 * n_pe);
    assert!(
        types[n_nf + n_pe..].iter().all(|t| t == "PE"),
        "old rules kept"
    );

    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("keeping the previous rules"), "{err}");
    assert!(err.contains("new rules in force"), "{err}");
}
