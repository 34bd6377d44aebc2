//! `sensor run` configuration: the shipped sf-processor pipelines, env overrides, the
//! original's single-dash options.

use testkit::run::*;
use testkit::shared_dir;

use super::sensor;

use ::sensor::config;

fn check(config: &std::path::Path, env: &[(&str, &str)]) -> std::process::Output {
    let mut c = sensor();
    c.args(["run", "--log", "error", "--check", "--config"])
        .arg(config);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run sensor")
}

#[test]
fn every_shipped_pipeline_loads_or_names_what_is_missing() {
    let Some(shared) = shared_dir() else { return };
    let dir = shared.join("policies/pipelines");
    // (file, expected: Ok or a fragment of the error)
    let expect: &[(&str, Result<(), &str>)] = &[
        ("pipeline.distribution.json", Ok(())),
        ("pipeline.local.json", Ok(())),
        ("pipeline.terminal.json", Ok(())),
        (
            "pipeline.elk.json",
            Err("pipeline[2] (exporter): key \"export\": export \"es\" is not available"),
        ),
        (
            "pipeline.findings.json",
            Err("pipeline[2] (exporter): key \"export\": export \"es\" is not available"),
        ),
        (
            "pipeline.otel.json",
            Err("drivers[0] (otelkafka): key \"driver\": driver \"otelkafka\" is not available"),
        ),
        // The template's values are descriptions, not values.
        (
            "pipeline.template.json",
            Err("pipeline[0] (sysflowreader): key \"filter.maxage\""),
        ),
    ];
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let (_, want) = expect
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("no expectation for shipped pipeline {name}"));
        let o = check(&path, &[]);
        match want {
            Ok(()) => {
                assert!(o.status.success(), "{name}: {}", stderr(&o));
                let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
                assert!(v["root"]["label"]
                    .as_str()
                    .unwrap()
                    .contains("sysflowreader"));
            }
            Err(frag) => {
                // 78: a configuration error (`sensor --help`, exit status).
                assert_eq!(o.status.code(), Some(78), "{name} should fail");
                assert!(stderr(&o).contains(frag), "{name}: {}", stderr(&o));
            }
        }
        seen += 1;
    }
    assert_eq!(seen, expect.len());
}

#[test]
fn env_overrides_change_the_named_key() {
    let Some(shared) = shared_dir() else { return };
    let p = shared.join("policies/pipelines/pipeline.local.json");
    let o = check(&p, &[]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let exp = &v["root"]["children"][0]["children"][0]["plugin"]["Exporter"];
    assert_eq!(exp["syslog_proto"], "Udp");
    assert_eq!(exp["syslog_port"], 514);

    let o = check(
        &p,
        &[
            ("EXPORTER_SYSLOG_PROTO", "tcp"),
            ("EXPORTER_SYSLOG_PORT", "6514"),
            ("POLICYENGINE_MODE", "enrich"),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let pol = &v["root"]["children"][0]["plugin"]["Policy"];
    let exp = &v["root"]["children"][0]["children"][0]["plugin"]["Exporter"];
    assert_eq!(exp["syslog_proto"], "Tcp");
    assert_eq!(exp["syslog_port"], 6514);
    assert_eq!(pol["mode"], "Enrich");

    let o = check(&p, &[("EXPORTER_SYSLOG_PORT", "http")]);
    assert_eq!(o.status.code(), Some(78));
    assert!(
        stderr(&o).contains("pipeline[2] (exporter): key \"syslog.port\""),
        "{}",
        stderr(&o)
    );
}

#[test]
fn built_in_pipeline_alerts_on_the_terminal() {
    let o = sensor().args(["run", "-test"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let pol = &v["root"]["children"][0];
    assert_eq!(pol["plugin"]["Policy"]["mode"], "Alert");
    assert_eq!(
        pol["children"][0]["plugin"]["Exporter"]["export"],
        "Terminal"
    );
    assert_eq!(pol["children"][0]["plugin"]["Exporter"]["format"], "Json");
}

#[test]
fn original_single_dash_options() {
    let o = sensor().args(["run", "-version"]).output().unwrap();
    assert!(o.status.success());
    assert!(stdout(&o).contains(env!("CARGO_PKG_VERSION")));

    for (opt, frag) in [
        ("-plugdir=/x", "dynamic plugin"),
        ("-cpuprofile=/tmp/p", "perf record"),
        ("-memprofile=/tmp/p", "perf record"),
    ] {
        let o = sensor().args(["run", opt, "x.sf"]).output().unwrap();
        // 2: a usage error.
        assert_eq!(o.status.code(), Some(2), "{opt}");
        assert!(stderr(&o).contains(frag), "{opt}: {}", stderr(&o));
    }

    let o = sensor()
        .args(["run", "-log", "nonsense", "x"])
        .output()
        .unwrap();
    assert!(stderr(&o).contains("--log"), "{}", stderr(&o));
}

#[test]
fn file_input_needs_a_path() {
    let o = sensor().args(["run"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no input"), "{}", stderr(&o));
}

#[test]
fn config_module_stands_alone_and_checks_an_ebpf_driver_entry() {
    let text = r#"{"drivers":[{"driver":"ebpf","events":"file, net","excludecomms":"nginx,sshd"}],"pipeline":[
  {"processor":"sysflowreader","handler":"flattener","in":"sysflow sysflowchan","out":"flat flattenerchan"},
  {"processor":"exporter","in":"flat flattenerchan","export":"terminal","format":"json"}]}"#;
    let p = config::load_str(text, std::iter::empty()).expect("valid pipeline");
    let d = p.driver.expect("drivers entry");
    assert_eq!(d.events, Some(config::EventsSetting::Classes(2 | 4)));
    assert_eq!(d.exclude_comms, ["nginx", "sshd"]);
    let bad = text.replace("nginx,sshd", "sixteen-bytes-xx");
    let e = config::load_str(&bad, std::iter::empty())
        .unwrap_err()
        .to_string();
    assert!(e.contains("excludecomms") && e.contains("15 bytes"), "{e}");
}
