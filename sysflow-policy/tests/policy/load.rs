//! Policy loading: the real rule files compile; each class of mistake gives an actionable
//! error at the right line and column.

use std::path::PathBuf;

use sysflow_policy::{
    DiagKind, Diagnostic, LoadOptions, Mode, PolicyEngine, PolicyError, Priority,
};

/// `../shared` (`testkit` prints SKIPPED when it is absent).
fn shared() -> Option<PathBuf> {
    testkit::shared_dir()
}

fn load(text: &str) -> Result<(PolicyEngine, Vec<Diagnostic>), PolicyError> {
    PolicyEngine::from_str("t.yaml", text, LoadOptions::default())
}

fn strict(text: &str) -> Result<(PolicyEngine, Vec<Diagnostic>), PolicyError> {
    PolicyEngine::from_str(
        "t.yaml",
        text,
        LoadOptions {
            mode: Mode::Alert,
            strict: true,
        },
    )
}

/// The single error of a policy that must fail.
fn error(res: Result<(PolicyEngine, Vec<Diagnostic>), PolicyError>) -> Diagnostic {
    match res {
        Ok(_) => panic!("policy loaded but should fail"),
        Err(e) => {
            let d = e.diagnostics();
            assert_eq!(d.len(), 1, "expected one error, got: {e}");
            d[0].clone()
        }
    }
}

fn at(d: &Diagnostic) -> (DiagKind, u32, u32) {
    (d.kind, d.loc.line, d.loc.col)
}

#[test]
fn every_shared_policy_file_and_directory_compiles() {
    let Some(s) = shared() else { return };
    let root = s.join("policies");
    let mut n = 0;
    for dir in ["runtimeintegrity", "tests", "distribution"] {
        let p = root.join(dir);
        match PolicyEngine::load(&p, Mode::Alert) {
            Ok((e, _w)) => assert!(e.summary().files > 0),
            Err(e) => panic!("{}: {e}", p.display()),
        }
        for f in std::fs::read_dir(&p).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|x| x == "yaml") {
                // Single files use lists and macros of their own directory's globals, so
                // compile each together with the directory's other files only via the dir
                // load above; alone they must at least parse and collect.
                n += 1;
            }
        }
    }
    assert!(n >= 20, "expected the shared rule files, found {n}");
    // The whole policies tree at once, as `sensor policy check ../shared/policies` does.
    PolicyEngine::load(&root, Mode::Enrich).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn falco_rules_with_unsupported_fields_are_skipped_with_a_warning_naming_the_field() {
    let Some(s) = shared() else { return };
    let (e, w) = PolicyEngine::load(&s.join("policies/tests/falco.yaml"), Mode::Alert).unwrap();
    assert!(e.summary().skipped_rules > 0);
    // The file declares Falco's engine version: Falco's fields resolve (k8s.ns.name,
    // evt.num, fd.type, …) and those SysFlow lacks are named with the reason.
    let dns = w
        .iter()
        .find(|d| d.kind == DiagKind::UnsupportedField && d.message.contains("'fd.sip.name'"));
    let help = dns.and_then(|d| d.help.clone()).unwrap_or_default();
    assert!(
        help.contains("DNS"),
        "no warning names fd.sip.name with its reason: {help}"
    );
    assert!(w.iter().all(|d| d.loc.line > 0 && d.loc.col > 0));
}

#[test]
fn tolerated_non_yaml_in_real_files_is_reported_with_original_columns() {
    let text = "- list: a\n  items: [x]\n\n - list: b\n  items: [y]\n- rule: R: with colon\n  desc: d\n  condition: sf.type = PE\n";
    let (e, w) = load(text).unwrap();
    assert_eq!(e.rules()[0].name, "R: with colon");
    let tol: Vec<_> = w
        .iter()
        .filter(|d| d.kind == DiagKind::Tolerated)
        .map(|d| (d.loc.line, d.loc.col))
        .collect();
    assert_eq!(tol, vec![(4, 2), (6, 9)]);
}

#[test]
fn bad_yaml_is_an_error_with_position() {
    let d = error(load("- rule: x\n  desc: [unclosed\n  condition: a\n"));
    assert_eq!(d.kind, DiagKind::Yaml);
    assert_eq!(d.loc.line, 3);
    assert!(d.to_string().starts_with("t.yaml:3:"), "{d}");
}

#[test]
fn missing_keys_are_errors_at_the_item() {
    let d = error(load("- rule: r\n  desc: d\n  priority: low\n"));
    assert_eq!(at(&d), (DiagKind::Item, 1, 9));
    assert!(d.message.contains("has no 'condition'"), "{d}");
    let d = error(load("- list: l\n"));
    assert_eq!(at(&d), (DiagKind::Item, 1, 9));
    let d = error(load(
        "- rule: r\n  desc: d\n  condition: sf.type = PE\n  priority: urgent\n",
    ));
    assert_eq!(at(&d), (DiagKind::Item, 4, 13));
    assert!(d.help.as_deref().unwrap_or("").contains("critical"), "{d}");
}

#[test]
fn unknown_field_on_the_left_names_it_with_a_suggestion() {
    let text = "- rule: r\n  desc: d\n  condition: sf.type = PE and sf.tpye = FF\n";
    // Default: the rule is skipped with a warning; strict: an error. Same diagnostic.
    let (e, w) = load(text).unwrap();
    assert!(e.rules().is_empty());
    let d = w
        .iter()
        .find(|d| d.kind == DiagKind::UnknownField)
        .expect("warning");
    assert_eq!((d.loc.line, d.loc.col), (3, 31));
    assert_eq!(d.help.as_deref(), Some("did you mean 'sf.type'?"));
    let d = error(strict(text));
    assert_eq!(at(&d), (DiagKind::UnknownField, 3, 31));
    assert!(
        d.to_string()
            .contains("sf.type = PE and sf.tpye = FF\n    |                               ^"),
        "{d}"
    );
}

#[test]
fn undefined_macro_is_an_error_with_a_suggestion() {
    let text = "- macro: is_exec\n  condition: sf.type = PE\n- rule: r\n  desc: d\n  condition: sf.type = PE and\n    is_exce\n";
    let d = error(load(text));
    assert_eq!(at(&d), (DiagKind::UndefinedMacro, 6, 5));
    assert_eq!(d.help.as_deref(), Some("did you mean macro 'is_exec'?"));
}

#[test]
fn list_used_as_a_condition_is_an_error() {
    let d = error(load(
        "- list: shells\n  items: [sh]\n- rule: r\n  desc: d\n  condition: shells\n",
    ));
    assert_eq!(at(&d), (DiagKind::UndefinedMacro, 5, 14));
    assert!(d.message.contains("is a list"), "{d}");
}

#[test]
fn misspelt_list_name_gets_a_warning() {
    let (_, w) = load("- list: shell_binaries\n  items: [sh]\n- rule: r\n  desc: d\n  condition: sf.type in (shell_binares)\n").unwrap();
    let d = w
        .iter()
        .find(|d| d.kind == DiagKind::UndefinedList)
        .expect("warning");
    assert_eq!((d.loc.line, d.loc.col), (5, 26));
    assert_eq!(
        d.help.as_deref(),
        Some("did you mean list 'shell_binaries'?")
    );
}

#[test]
fn bad_operator_is_an_error_listing_the_operators() {
    let d = error(load(
        "- rule: r\n  desc: d\n  condition: sf.type equals PE\n",
    ));
    assert_eq!(at(&d), (DiagKind::BadOperator, 3, 22));
    assert!(
        d.help.as_deref().unwrap_or("").contains("startswith"),
        "{d}"
    );
    let d = error(load(
        "- rule: r\n  desc: d\n  condition: sf.type contans PE\n",
    ));
    assert!(
        d.help
            .as_deref()
            .unwrap_or("")
            .starts_with("did you mean 'contains'?"),
        "{d}"
    );
}

#[test]
fn unbalanced_parentheses_point_at_the_unclosed_one() {
    let d = error(load(
        "- rule: r\n  desc: d\n  condition: (sf.type = PE and (sf.type = FF)\n",
    ));
    assert_eq!(at(&d), (DiagKind::Syntax, 3, 14));
    assert!(d.message.contains("never closed"), "{d}");
    let d = error(load("- rule: r\n  desc: d\n  condition: sf.type = PE)\n"));
    assert_eq!(at(&d), (DiagKind::Syntax, 3, 26));
}

#[test]
fn errors_in_multi_line_conditions_and_macros_point_into_the_right_line() {
    let text = "- macro: m\n  condition: >\n    sf.type = PE and\n    (sf.type = FF\n";
    let d = error(load(text));
    assert_eq!(at(&d), (DiagKind::Syntax, 4, 5));
}

#[test]
fn macro_cycles_are_errors() {
    let d = error(load("- macro: a\n  condition: b\n- macro: b\n  condition: a\n- rule: r\n  desc: d\n  condition: a\n"));
    assert_eq!(d.kind, DiagKind::Cycle);
    assert!(d.message.contains("a -> b -> a"), "{d}");
}

#[test]
fn numbers_are_required_for_ordering_operators() {
    let d = error(load("- rule: r\n  desc: d\n  condition: sf.type > many\n"));
    assert_eq!(at(&d), (DiagKind::BadValue, 3, 24));
}

#[test]
fn rules_of_other_sources_are_skipped_and_priorities_parse() {
    let text = "- rule: k\n  desc: d\n  condition: ka.verb = create\n  source: k8s_audit\n\
                - rule: a\n  desc: d\n  condition: sf.type = PE\n  priority: ALERT\n\
                - rule: b\n  desc: d\n  condition: sf.type = PE\n  priority: Medium\n  enabled: false\n";
    let (e, w) = load(text).unwrap();
    assert_eq!(e.rules().len(), 1);
    assert_eq!(e.rules()[0].priority, Priority::Alert);
    assert_eq!(e.rules()[0].priority.sysflow_level(), 3);
    assert_eq!(e.summary().skipped_rules, 1);
    assert_eq!(e.summary().disabled_rules, 1);
    assert!(w
        .iter()
        .any(|d| d.kind == DiagKind::Skipped && d.message.contains("k8s_audit")));
}

#[test]
fn append_and_override_merge_in_load_order() {
    let text = "- list: l\n  items: [a]\n- list: l\n  items: [b]\n  append: true\n\
                - rule: r\n  desc: d\n  condition: sf.type = PE\n  tags: [x]\n\
                - rule: r\n  condition: and sf.type in (l)\n  append: true\n\
                - rule: r\n  priority: high\n  tags: [y]\n  override:\n    priority: replace\n    tags: append\n";
    let (e, _) = load(text).unwrap();
    let r = &e.rules()[0];
    assert_eq!(r.priority, Priority::High);
    assert_eq!(r.tags, vec!["x", "y"]);
    let d = error(load("- rule: r\n  condition: x\n  append: true\n"));
    assert!(d.message.contains("not defined before"), "{d}");
}
