//! What an operator meets around the pipeline: exit codes by kind of failure, the log level
//! and format, the environment in `--help`, the metrics address from the pipeline file or the
//! environment, and `sensor healthcheck`.

use std::process::{Command, Output, Stdio};

use testkit::run::*;

use super::metrics::Daemon;
use super::sensor;

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// `sensor run` with a pipeline file holding `text`, on the shellshock trace.
fn run_with_pipeline(text: &str, extra: &[&str]) -> Output {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("p.json");
    std::fs::write(&cfg, text).unwrap();
    let trace = testkit::repo_root().join("../shared/traces/shellshock.sf");
    sensor()
        .args(["run", "--config"])
        .arg(&cfg)
        .args(extra)
        .arg(trace)
        .output()
        .unwrap()
}

/// The built-in pipeline with extra top-level keys.
fn pipeline_with(extra: &str) -> String {
    let builtin = std::fs::read_to_string(testkit::repo_root().join("conf/pipeline.json")).unwrap();
    builtin.replacen('{', &format!("{{ {extra},"), 1)
}

#[test]
fn exit_codes_tell_usage_from_configuration_from_runtime() {
    // Usage: 2 (clap's errors and ours alike).
    for args in [
        &["run", "--bogus"][..],
        &["run", "--metrics", "9090", "x.sf"],
        &["run", "-plugdir", "/x"],
        &["run", "--log", "loud", "x.sf"],
        &["run"],
        &["frobnicate"],
    ] {
        let o = sensor().args(args).output().unwrap();
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
    }
    // Configuration: 78, and the message says so.
    let tmp = tempfile::tempdir().unwrap();
    let bad_rules = tmp.path().join("r.yaml");
    std::fs::write(
        &bad_rules,
        "- rule: x\n  condition: (sf.type = PE\n  desc: d\n  priority: low\n",
    )
    .unwrap();
    let rules_pipeline = format!(
        r#"{{"pipeline":[
  {{"processor":"sysflowreader","handler":"flattener","in":"sysflow sysflowchan","out":"flat flattenerchan"}},
  {{"processor":"policyengine","in":"flat flattenerchan","out":"evt eventchan","policies":"{}"}},
  {{"processor":"exporter","in":"evt eventchan","export":"terminal"}}]}}"#,
        bad_rules.display()
    );
    for (what, o) in [
        (
            "missing file",
            sensor()
                .args(["run", "--config", "/nonexistent/p.json", "x.sf"])
                .output()
                .unwrap(),
        ),
        ("not JSON", run_with_pipeline("{", &[])),
        ("rules", run_with_pipeline(&rules_pipeline, &[])),
        (
            "metrics key",
            run_with_pipeline(&pipeline_with(r#""metrics": {"address": "nowhere"}"#), &[]),
        ),
        (
            "metrics object",
            run_with_pipeline(&pipeline_with(r#""metrics": 9090"#), &[]),
        ),
    ] {
        assert_eq!(code(&o), 78, "{what}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("invalid configuration"),
            "{what}: {}",
            stderr(&o)
        );
    }
    // Runtime: 1 (an input that cannot be read; a port already taken).
    let o = sensor()
        .args(["run", "/nonexistent/trace.sf"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let o = sensor()
        .args(["run", "--input", "socket", "--metrics", &addr])
        .arg(tmp.path().join("s.sock"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot listen on"), "{}", stderr(&o));
    // --help succeeds.
    assert_eq!(code(&sensor().arg("--help").output().unwrap()), 0);
}

#[test]
fn help_lists_the_environment_and_the_exit_codes() {
    for args in [&["--help"][..], &["run", "--help"]] {
        let o = sensor().args(args).output().unwrap();
        let h = stdout(&o);
        for var in [
            "RUST_LOG",
            "SENSOR_METRICS",
            "<PLUGIN>_<KEY>",
            "EXPORTER_SYSLOG_HOST",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_ENDPOINT_URL",
            "NODE_IP",
        ] {
            assert!(h.contains(var), "{args:?} --help lacks {var}:\n{h}");
        }
        for status in [
            "1    runtime",
            "2    invalid command line",
            "78   invalid configuration",
        ] {
            assert!(h.contains(status), "{args:?} --help lacks {status:?}");
        }
    }
    // clap shows the variable beside the option it sets.
    let o = sensor().args(["run", "--help"]).output().unwrap();
    assert!(
        stdout(&o).contains("[env: SENSOR_METRICS="),
        "{}",
        stdout(&o)
    );
}

/// Levels of the log lines a file run writes on stderr, with `--log-format json`.
fn json_levels(args: &[&str], rust_log: Option<&str>) -> Vec<String> {
    let Some(traces) = testkit::traces_dir() else {
        return Vec::new();
    };
    let mut cmd = sensor();
    cmd.args(["run", "--log-format", "json"])
        .args(args)
        .arg(traces.join("shellshock.sf"))
        .stdout(Stdio::null())
        .env_remove("RUST_LOG");
    if let Some(v) = rust_log {
        cmd.env("RUST_LOG", v);
    }
    let o = cmd.output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    stderr(&o)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"));
            assert!(
                v["timestamp"].is_string() && v["fields"]["message"].is_string(),
                "{l}"
            );
            v["level"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn json_logs_and_an_explicit_log_level_wins_over_rust_log() {
    if testkit::traces_dir().is_none() {
        return;
    }
    // Default: info, counters at exit among them.
    let default = json_levels(&[], None);
    assert!(default.iter().any(|l| l == "INFO"), "{default:?}");
    assert!(!default.iter().any(|l| l == "DEBUG"));
    // RUST_LOG applies without --log ...
    let debug = json_levels(&[], Some("debug"));
    assert!(debug.iter().any(|l| l == "DEBUG"), "{debug:?}");
    assert!(json_levels(&[], Some("error")).is_empty());
    // ... and an explicit --log wins over it, either way.
    assert!(json_levels(&["--log", "error"], Some("debug")).is_empty());
    let info = json_levels(&["--log", "info"], Some("error"));
    assert!(info.iter().any(|l| l == "INFO") && !info.iter().any(|l| l == "DEBUG"));
}

/// The address `sensor run` logged for its metrics, or `None` when it logged none.
fn logged_metrics_addr(o: &Output) -> Option<String> {
    stderr(o)
        .split("metrics on http://")
        .nth(1)
        .map(|r| r.split('/').next().unwrap().to_string())
}

#[test]
fn metrics_address_from_the_pipeline_the_environment_or_the_command_line() {
    if testkit::traces_dir().is_none() {
        return;
    }
    let with_key = pipeline_with(r#""metrics": {"address": "127.0.0.1:0"}"#);
    // Off by default.
    let o = run_with_pipeline(&pipeline_with(r#""_c": 1"#), &[]);
    assert_eq!(
        (code(&o), logged_metrics_addr(&o)),
        (0, None),
        "{}",
        stderr(&o)
    );
    // The pipeline key turns it on; `--check` shows it.
    let o = run_with_pipeline(&with_key, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(logged_metrics_addr(&o).unwrap().starts_with("127.0.0.1:"));
    let o = run_with_pipeline(&with_key, &["--check"]);
    let resolved: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(resolved["metrics"], "127.0.0.1:0");
    // The command line (or SENSOR_METRICS) wins over the key.
    let o = run_with_pipeline(&with_key, &["--metrics", "[::1]:0"]);
    assert!(
        logged_metrics_addr(&o).unwrap().starts_with("[::1]:"),
        "{}",
        stderr(&o)
    );
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("p.json");
    std::fs::write(&cfg, &with_key).unwrap();
    let o = sensor()
        .args(["run", "--config"])
        .arg(&cfg)
        .arg(testkit::repo_root().join("../shared/traces/shellshock.sf"))
        .env("SENSOR_METRICS", "[::1]:0")
        .output()
        .unwrap();
    assert!(
        logged_metrics_addr(&o).unwrap().starts_with("[::1]:"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn healthcheck_asks_a_running_sensor() {
    let d = Daemon::start(&[]);
    let check = |args: &[&str]| -> Output {
        Command::new(env!("CARGO_BIN_EXE_sensor"))
            .arg("healthcheck")
            .args(args)
            .env_remove("SENSOR_METRICS")
            .output()
            .unwrap()
    };
    let port = d.addr.rsplit(':').next().unwrap().to_string();
    // Alive, by the address it was given, or by its port on an unspecified host.
    let o = check(&["--metrics", &d.addr]);
    assert_eq!((code(&o), stdout(&o).trim()), (0, "ok"), "{}", stderr(&o));
    let o = check(&["--metrics", &format!(":{port}")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Not ready: nobody streams into its socket; the answer says why.
    let o = check(&["--metrics", &d.addr, "--ready"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("503") && stderr(&o).contains("no collector"),
        "{}",
        stderr(&o)
    );
    let (status, _) = d.stop();
    assert_eq!(status, 0);
    // Nobody there any more.
    let o = check(&["--metrics", &format!("127.0.0.1:{port}")]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("cannot connect"), "{}", stderr(&o));
    // No address at all is a usage error.
    assert_eq!(code(&check(&[])), 2);
}
