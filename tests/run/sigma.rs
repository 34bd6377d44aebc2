//! Sigma through the binary: `sensor policy check` on Sigma files (by shape or
//! `--language sigma`, with sf-processor's mapping file), and `sensor run` with the
//! policyengine keys sf-processor uses for Sigma (`"language": "sigma"`, `"config"`), its
//! alerts carrying the Sigma rule ids. Expected matches: tests/oracle/sigma_oracle.py.

use testkit::run::*;
use testkit::shared_dir;

use super::sensor;

#[test]
fn policy_check_reads_sigma_files() {
    let Some(shared) = shared_dir() else { return };
    let sigma = shared.join("rulesets/sigma");
    for args in [
        vec!["--quiet".to_string()],
        vec![
            "--quiet".into(),
            "--language".into(),
            "sigma".into(),
            "--config".into(),
            sigma.join("config/sysflow.yml").display().to_string(),
        ],
    ] {
        let o = sensor()
            .args(["policy", "check"])
            .args(&args)
            .arg(sigma.join("rules"))
            .output()
            .unwrap();
        let so = stdout(&o);
        assert_eq!(o.status.code(), Some(0), "{so}{}", stderr(&o));
        assert!(
            so.contains("51 file(s), 51 rule(s) (51 Sigma, 0 disabled, 0 skipped)"),
            "{so}"
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.yml");
    std::fs::write(
        &bad,
        "title: T\nlogsource:\n    category: process_creation\ndetection:\n    sel:\n        Image|endswith: /x\n    condition: sel and selection\n",
    )
    .unwrap();
    let o = sensor()
        .args(["policy", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let se = stderr(&o);
    assert!(
        se.contains("bad.yml:7:24: undefined search identifier 'selection'"),
        "{se}"
    );
    assert!(se.contains("defined: sel"), "{se}");
    let o = sensor()
        .args(["policy", "check", "--language", "falco"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("this is a Sigma rule"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn run_with_sf_processors_sigma_keys_alerts_by_rule_id() {
    let Some(shared) = shared_dir() else { return };
    let sigma = shared.join("rulesets/sigma");
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("pipeline.json");
    std::fs::write(
        &cfg,
        format!(
            r#"{{"pipeline":[
  {{"processor":"sysflowreader","handler":"flattener","in":"sysflow sysflowchan","out":"flat flattenerchan"}},
  {{"processor":"policyengine","in":"flat flattenerchan","out":"evt eventchan","language":"sigma","config":"{}","policies":"{}","mode":"alert"}},
  {{"processor":"exporter","in":"evt eventchan","export":"terminal","format":"json"}}]}}"#,
            sigma.join("config/sysflow.yml").display(),
            sigma.join("rules").display()
        ),
    )
    .unwrap();
    let o = sensor()
        .args(["run", "--log", "error", "--config"])
        .arg(&cfg)
        .arg(shared.join("traces/shellshock.sf"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let mut ids: Vec<String> = json_lines(&stdout(&o)).iter().flat_map(rule_ids).collect();
    ids.sort();
    // The oracle (mapping file loaded, so ParentImage is any ancestor): the webshell rule on
    // two execs, local account discovery on one.
    assert_eq!(
        ids,
        [
            "818f7b24-0fba-4c49-a073-8b755573b9c7",
            "818f7b24-0fba-4c49-a073-8b755573b9c7",
            "b45e3d6f-42c6-47d8-a478-df6bd6cf534c"
        ]
    );
    let first = &json_lines(&stdout(&o))[0];
    assert!(
        first
            .to_string()
            .contains("\"desc\":\"Linux Webshell Indicators\""),
        "{first}"
    );
}
