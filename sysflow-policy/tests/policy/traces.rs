//! The engine over the real traces: for every rule of `policies/tests/unit_test_*.yaml` and a
//! set of `runtimeintegrity` rules, the exact records that match, per trace, by
//! `FlatRecord::index` (0-based among all records of the file, entities counted).
//!
//! The expected sets come from `sysflow-policy/tests/oracle/policy_oracle.py`, which reads the traces with
//! fastavro, rebuilds the entity tables and evaluates hand translations of the rules (see its
//! header) — not from this engine. `POLICY_TRACES_DUMP=1` prints what the engine found.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sysflow_model::avro::Reader;
use sysflow_model::flat::FlatRecord;
use sysflow_model::tables::{Flattener, TableConfig};
use sysflow_policy::{Matches, Mode, PolicyEngine};

/// `../shared` (`testkit` prints SKIPPED when it is absent).
fn shared() -> Option<PathBuf> {
    testkit::shared_dir()
}

/// Every trace of `shared/traces`, flattened: (file name, flat records).
pub(super) fn traces(shared: &Path) -> Vec<(String, Vec<FlatRecord>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(shared.join("traces"))
        .expect("traces dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sf"))
        .collect();
    files.sort();
    assert!(files.len() >= 12, "expected the 12 shared traces");
    files
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let f = std::fs::File::open(p).unwrap_or_else(|e| panic!("{name}: {e}"));
            let rd = Reader::new(f).unwrap_or_else(|e| panic!("{name}: {e}"));
            let mut fl = Flattener::new(TableConfig::default());
            let recs = rd
                .map(|r| r.unwrap_or_else(|e| panic!("{name}: {e}")))
                .filter_map(|r| fl.push(r))
                .collect();
            (name, recs)
        })
        .collect()
}

/// rule name → trace → matching record indices (only traces with matches).
type Found = BTreeMap<String, BTreeMap<String, Vec<u64>>>;

fn run(engine: &PolicyEngine, traces: &[(String, Vec<FlatRecord>)]) -> Found {
    let mut found: Found = engine
        .rules()
        .iter()
        .map(|r| (r.name.clone(), BTreeMap::new()))
        .collect();
    let mut m = Matches::new();
    for (name, recs) in traces {
        for r in recs {
            engine.process(r, &mut m);
            for rule in m.iter(engine) {
                found
                    .get_mut(&rule.name)
                    .unwrap()
                    .entry(name.clone())
                    .or_default()
                    .push(r.index);
            }
        }
        // The batch path agrees with the single-record path.
        let b = engine.process_batch(recs, 2);
        for (i, r) in recs.iter().enumerate() {
            engine.process(r, &mut m);
            assert_eq!(b.matches(i), m.indices(), "{name} record {}", r.index);
        }
    }
    if std::env::var_os("POLICY_TRACES_DUMP").is_some() {
        for (rule, t) in &found {
            eprintln!("{rule:?}: {t:?}");
        }
    }
    found
}

type Expected<'a> = &'a [(&'a str, &'a [(&'a str, &'a [u64])])];

/// Asserts the exact sets of the named rules and that the `skipped` ones did not load.
fn check(found: &Found, expected: Expected<'_>, skipped: &[&str]) {
    for (rule, per_trace) in expected {
        let got = found
            .get(*rule)
            .unwrap_or_else(|| panic!("rule '{rule}' not loaded"));
        let want: BTreeMap<String, Vec<u64>> = per_trace
            .iter()
            .map(|(t, v)| (t.to_string(), v.to_vec()))
            .collect();
        assert_eq!(got, &want, "rule '{rule}'");
    }
    for s in skipped {
        assert!(!found.contains_key(*s), "rule '{s}' should be skipped");
    }
}

// ------------------------------------------------------------------------------------------
// unit_test_*.yaml. Their conditions name a python process in a "node" container and
// cos-write.py, from a trace not among the shared ones: on the shared traces only `exists`
// fires (calico-node containers); the other rules must match nothing.

/// Loads one unit-test file and checks it against the oracle's sets ([`UNIT_EXPECTED`]).
fn unit(file: &str, skipped: &[&str]) {
    let Some(sh) = shared() else { return };
    let expected = UNIT_EXPECTED
        .iter()
        .find(|(f, _)| *f == file)
        .map(|(_, e)| *e)
        .unwrap_or_else(|| panic!("{file}: no expected sets"));
    let (engine, _) =
        PolicyEngine::load(&sh.join("policies/tests").join(file), Mode::Alert).expect(file);
    let found = run(&engine, &traces(&sh));
    let mut want: Vec<&str> = expected.iter().map(|e| e.0).collect();
    want.sort();
    let loaded: Vec<&str> = found.keys().map(String::as_str).collect();
    assert_eq!(loaded, want, "{file}: rules loaded");
    check(&found, expected, skipped);
}

#[test]
fn unit_contains() {
    unit("unit_test_contains.yaml", &[]);
}

#[test]
fn unit_eq() {
    unit("unit_test_eq.yaml", &[]);
}

#[test]
fn unit_fileflow_skipped_unknown_field() {
    // `sf.is_open_write` is not an attribute (reference §4.2): the rule is skipped.
    unit("unit_test_fileflow.yaml", &["File Flows Open Write Access"]);
}

#[test]
fn unit_ge() {
    unit("unit_test_ge.yaml", &[]);
}

#[test]
fn unit_gt() {
    unit("unit_test_gt.yaml", &[]);
}

#[test]
fn unit_in() {
    unit("unit_test_in.yaml", &[]);
}

#[test]
fn unit_le() {
    unit("unit_test_le.yaml", &[]);
}

#[test]
fn unit_logic() {
    unit("unit_test_logic.yaml", &[]);
}

#[test]
fn unit_lt() {
    unit("unit_test_lt.yaml", &[]);
}

#[test]
fn unit_macro_skipped_unknown_field() {
    // `sf.state` is not an attribute: the rule is skipped.
    unit(
        "unit_test_macro.yaml",
        &["Simple rule to test if Python process"],
    );
}

#[test]
fn unit_networkflow() {
    unit("unit_test_networkflow.yaml", &[]);
}

#[test]
fn unit_pmatch() {
    unit("unit_test_pmatch.yaml", &[]);
}

#[test]
fn unit_sfmap() {
    unit("unit_test_sfmap.yaml", &[]);
}

#[test]
fn unit_simple() {
    unit("unit_test_simple.yaml", &[]);
}

#[test]
fn unit_startswith() {
    unit("unit_test_startswith.yaml", &[]);
}

#[test]
fn unit_unary_exists() {
    unit("unit_test_unary.yaml", &[]);
}

// ------------------------------------------------------------------------------------------
// runtimeintegrity: the whole directory loaded (global filter included), a selection of
// rules that fire on the shared traces and some that must not.

#[test]
fn runtimeintegrity_rules() {
    let Some(sh) = shared() else { return };
    let (engine, _) =
        PolicyEngine::load(&sh.join("policies/runtimeintegrity"), Mode::Alert).expect("load");
    let found = run(&engine, &traces(&sh));
    check(&found, RI_EXPECTED, RI_SKIPPED);
}

/// Rules whose fields SysFlow lacks (`sf.proc.username`, `sf.file.typechar`, …): not loaded.
const RI_SKIPPED: &[&str] = &[
    "Non sudo setuid",
    "System procs network activity",
    "Command and Scripting Interpreter",
    "Process Discovery",
];

// Generated by `sysflow-policy/tests/oracle/policy_oracle.py --rust` (see its header).
include!("traces_expected.rs");
