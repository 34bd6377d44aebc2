//! End to end: the real binary on the shared traces and rule files, terminal and file
//! transports, fan-out, modes, encoders.

use std::path::Path;

use testkit::run::*;
use testkit::shared_dir;

use super::sensor;

fn pipeline(policies: &Path, mode: &str, exporters: &str) -> String {
    format!(
        r#"{{"pipeline":[
  {{"processor":"sysflowreader","handler":"flattener","in":"sysflow sysflowchan","out":"flat flattenerchan"}},
  {{"processor":"policyengine","in":"flat flattenerchan","out":["e1 eventchan","e2 eventchan"],"policies":"{}","mode":"{mode}"}},
  {exporters}]}}"#,
        policies.display()
    )
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn alert_counts(lines: &[serde_json::Value]) -> std::collections::BTreeMap<String, usize> {
    let mut m = std::collections::BTreeMap::new();
    for l in lines {
        for id in rule_ids(l) {
            *m.entry(id).or_insert(0) += 1;
        }
    }
    m
}

#[test]
fn shared_rules_alert_identically_on_terminal_and_file() {
    let Some(shared) = shared_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("alerts.json");
    let cfg = write(
        tmp.path(),
        "p.json",
        &pipeline(
            &shared.join("policies/runtimeintegrity"),
            "alert",
            &format!(
                r#"{{"processor":"exporter","in":"e1 eventchan","export":"terminal","format":"json"}},
                   {{"processor":"exporter","in":"e2 eventchan","export":"file","file.path":"{}"}}"#,
                out.display()
            ),
        ),
    );
    // The whole directory: every trace once, in name order.
    let o = sensor()
        .args(["run", "--log", "error", "--config"])
        .arg(&cfg)
        .arg(shared.join("traces"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let term = stdout(&o);
    let file = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        term, file,
        "fan-out branches must carry the same records in the same order"
    );
    let lines = json_lines(&term);
    let counts = alert_counts(&lines);
    // Attacks the traces are known to contain.
    for (rule, at_least) in [
        ("Untrusted read sensitive file", 1),
        ("Account Discovery: Local Account", 1),
        ("History file modified", 3),
        ("Interactive shell", 60),
        ("Change thread namespace", 100),
    ] {
        let n = counts.get(rule).copied().unwrap_or(0);
        assert!(
            n >= at_least,
            "{rule}: {n} alerts, expected at least {at_least}; all: {counts:?}"
        );
    }
    for l in &lines {
        assert_eq!(l["version"], 5);
        assert!(
            !rule_ids(l).is_empty(),
            "alert mode exports only matched records"
        );
        assert!(l["policies"][0]["priority"].is_u64());
    }
}

#[test]
fn shellshock_alerts_name_the_exploit() {
    let Some(shared) = shared_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write(
        tmp.path(),
        "p.json",
        &pipeline(
            &shared.join("policies/runtimeintegrity"),
            "alert",
            r#"{"processor":"exporter","in":"e1 eventchan","export":"terminal"}"#,
        ),
    );
    let o = sensor()
        .args(["run", "--log", "error", "--config"])
        .arg(&cfg)
        .arg(shared.join("traces/shellshock.sf"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let lines = json_lines(&stdout(&o));
    let read = lines
        .iter()
        .find(|l| rule_ids(l).contains(&"Untrusted read sensitive file".to_string()))
        .expect("sensitive file alert");
    assert_eq!(read["type"], "FF");
    assert_eq!(read["container"]["name"], "apache");
    assert!(read["file"]["path"].as_str().unwrap().starts_with("/etc/"));
    assert!(read["proc"]["aname"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n == "vulnerable"));
}

#[test]
fn enrich_mode_exports_every_record_in_input_order() {
    let Some(shared) = shared_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let trace = shared.join("traces/nodejs.1544763289.sf");
    // A rule set without filters, so that enrich mode forwards everything.
    let rules = write(
        tmp.path(),
        "r.yaml",
        "- rule: exec\n  desc: process started\n  condition: sf.type = PE and sf.opflags = EXEC\n  priority: low\n",
    );
    let cfg = write(
        tmp.path(),
        "p.json",
        &pipeline(
            &rules,
            "enrich",
            r#"{"processor":"exporter","in":"e1 eventchan","export":"terminal"}"#,
        ),
    );
    let o = sensor()
        .args(["run", "--log", "error", "--config"])
        .arg(&cfg)
        .arg(&trace)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let lines = json_lines(&stdout(&o));
    // The events and flows of the trace, in file order.
    let f = std::fs::File::open(&trace).unwrap();
    let want: Vec<(String, i64)> = sysflow_model::avro::Reader::new(std::io::BufReader::new(f))
        .unwrap()
        .map(|r| r.unwrap())
        .filter(|r| {
            matches!(
                r.record_type(),
                sysflow_model::RecordType::ProcessEvent
                    | sysflow_model::RecordType::FileFlow
                    | sysflow_model::RecordType::FileEvent
                    | sysflow_model::RecordType::NetworkFlow
            )
        })
        .map(|r| {
            let ts = match &r {
                sysflow_model::SysFlow::ProcessEvent(e) => e.ts,
                sysflow_model::SysFlow::FileFlow(e) => e.ts,
                sysflow_model::SysFlow::FileEvent(e) => e.ts,
                sysflow_model::SysFlow::NetworkFlow(e) => e.ts,
                _ => 0,
            };
            (r.record_type().code().to_string(), ts)
        })
        .collect();
    let got: Vec<(String, i64)> = lines
        .iter()
        .map(|l| {
            (
                l["type"].as_str().unwrap().to_string(),
                l["ts"].as_i64().unwrap(),
            )
        })
        .collect();
    let first_diff = got.iter().zip(&want).position(|(a, b)| a != b);
    assert!(
        got.len() == want.len() && first_diff.is_none(),
        "exported {} records, trace has {}; first difference at {first_diff:?}",
        got.len(),
        want.len()
    );
    assert!(
        lines.iter().any(|l| !rule_ids(l).is_empty()),
        "some records carry matches"
    );
    assert!(
        lines.iter().any(|l| rule_ids(l).is_empty()),
        "unmatched records pass too"
    );
}

#[test]
fn flat_json_ecs_and_builtin_rules() {
    let Some(shared) = shared_dir() else { return };
    let trace = shared.join("traces/k8s_small.sf");
    // Built-in pipeline, flat JSON through the env override.
    let o = sensor()
        .args(["run", "--log", "error"])
        .arg(&trace)
        .env("EXPORTER_FLAT", "true")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let lines = json_lines(&stdout(&o));
    assert!(!lines.is_empty(), "built-in rules alert on k8s_small.sf");
    for l in &lines {
        let obj = l.as_object().unwrap();
        assert!(obj
            .keys()
            .all(|k| k == "version" || k == "policies" || k == "tags" || k.starts_with("sf.")));
        assert!(obj.contains_key("sf.proc.exe") && obj.contains_key("sf.pod.hostip"));
    }
    // ECS.
    let o = sensor()
        .args(["run", "--log", "error"])
        .arg(&trace)
        .env("EXPORTER_FORMAT", "ecs")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    for l in json_lines(&stdout(&o)) {
        assert!(l["@timestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(l["agent"]["type"], "SysFlow");
        assert!(l["event"]["reason"].is_string());
        assert!(l["event"]["category"].is_string());
    }
}

#[test]
fn file_exporter_appends_or_truncates() {
    let Some(shared) = shared_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sub/out.json");
    let trace = shared.join("traces/shellshock.sf");
    let run = |truncate: &str| {
        let o = sensor()
            .args(["run", "--log", "error"])
            .arg(&trace)
            .env("EXPORTER_EXPORT", "file")
            .env("EXPORTER_FILE_PATH", &out)
            .env("EXPORTER_FILE_TRUNCATE", truncate)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            stdout(&o).is_empty(),
            "file export writes nothing on stdout"
        );
        std::fs::read_to_string(&out).unwrap().lines().count()
    };
    let one = run("false");
    assert!(one > 0);
    assert_eq!(run("false"), 2 * one);
    assert_eq!(run("true"), one);
}

#[test]
fn bad_trace_is_reported_and_the_rest_is_read() {
    let Some(shared) = shared_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(shared.join("traces/shellshock.sf"), tmp.path().join("b.sf")).unwrap();
    std::fs::write(tmp.path().join("a.sf"), b"not avro at all").unwrap();
    let o = sensor()
        .args(["run", "--log", "error"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("a.sf"), "{}", stderr(&o));
    assert!(!json_lines(&stdout(&o)).is_empty(), "b.sf still processed");
}
