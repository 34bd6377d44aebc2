//! Sigma rules over the shared traces: sf-processor's 51 rules and one fixture rule per log
//! source (`sigma_fixtures/traces.yml`), with the built-in mapping and with sf-processor's
//! mapping file, must match exactly the records `tests/oracle/sigma_oracle.py` found (by
//! `FlatRecord::index`). The oracle reads the traces with fastavro and the rules with PyYAML
//! and evaluates them with its own small Sigma interpreter, not with this engine.

use std::collections::BTreeMap;
use std::path::Path;

use sysflow_model::flat::FlatRecord;
use sysflow_policy::{Language, LanguageOptions, LoadOptions, Matches, PolicyEngine};

/// The oracle's table: (with the mapping file?, rule id, [(trace, record indices)]).
type Expected = &'static [(
    bool,
    &'static str,
    &'static [(&'static str, &'static [u64])],
)];

/// rule id → trace → matching record indices (only rules and traces with matches).
type Found = BTreeMap<String, BTreeMap<String, Vec<u64>>>;

fn run(engine: &PolicyEngine, traces: &[(String, Vec<FlatRecord>)], found: &mut Found) {
    let mut m = Matches::new();
    for (name, recs) in traces {
        for r in recs {
            engine.process(r, &mut m);
            for rule in m.iter(engine) {
                let id = rule
                    .id
                    .clone()
                    .expect("Sigma rules of these files have ids");
                found
                    .entry(id)
                    .or_default()
                    .entry(name.clone())
                    .or_default()
                    .push(r.index);
            }
        }
    }
}

fn load(path: &Path, config: Option<&Path>) -> PolicyEngine {
    let lang = LanguageOptions {
        language: Language::Sigma,
        sigma_config: config.map(Path::to_path_buf),
    };
    PolicyEngine::load_lang(path, LoadOptions::default(), &lang)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .0
}

#[test]
fn sigma_rules_match_the_oracles_records() {
    let Some(shared) = testkit::shared_dir() else {
        return;
    };
    let traces = super::traces::traces(&shared);
    let sigma = shared.join("rulesets/sigma");
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/policy/sigma_fixtures/traces.yml");
    for mapped in [false, true] {
        let config = sigma.join("config/sysflow.yml");
        let config = mapped.then_some(config.as_path());
        let mut found = Found::new();
        run(&load(&sigma.join("rules"), config), &traces, &mut found);
        let fixtures = load(&fixture, config);
        assert_eq!(fixtures.rules().len(), 6);
        run(&fixtures, &traces, &mut found);
        let want: Found = SIGMA_EXPECTED
            .iter()
            .filter(|(m, _, _)| *m == mapped)
            .map(|(_, id, per)| {
                let per = per
                    .iter()
                    .map(|(t, idx)| (t.to_string(), idx.to_vec()))
                    .collect();
                (id.to_string(), per)
            })
            .collect();
        if std::env::var_os("POLICY_TRACES_DUMP").is_some() {
            eprintln!("mapped={mapped}: {found:?}");
        }
        assert_eq!(found, want, "with the mapping file: {mapped}");
    }
}

include!("sigma_traces_expected.rs");
