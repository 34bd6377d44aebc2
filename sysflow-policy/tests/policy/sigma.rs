//! Loading Sigma rules: the shared sf-processor rule set with and without its field-mapping
//! file, SigmaHQ's Linux tree (when `$SIGMA_RULES` points at a checkout), Sigma beside
//! Falco-dialect rules, and positioned errors and warnings for broken rules.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sysflow_policy::{
    DiagKind, Diagnostic, Language, LanguageOptions, LoadOptions, PolicyEngine, PolicyError,
};

fn shared_sigma() -> Option<PathBuf> {
    testkit::shared_dir().map(|s| s.join("rulesets/sigma"))
}

fn lang(language: Language, config: Option<PathBuf>) -> LanguageOptions {
    LanguageOptions {
        language,
        sigma_config: config,
    }
}

fn load_text(text: &str) -> Result<(PolicyEngine, Vec<Diagnostic>), PolicyError> {
    PolicyEngine::from_str_lang(
        "r.yml",
        text,
        LoadOptions::default(),
        &lang(Language::Sigma, None),
    )
}

/// The `id:` lines of the rule files below `dir`, read as text (not by the loader).
fn ids_in(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(ids_in(&p));
        } else if let Ok(t) = std::fs::read_to_string(&p) {
            for l in t.lines().filter_map(|l| l.strip_prefix("id: ")) {
                out.insert(l.trim().to_string());
            }
        }
    }
    out
}

#[test]
fn shared_rules_load_with_and_without_the_mapping_file() {
    let Some(dir) = shared_sigma() else { return };
    let rules = dir.join("rules");
    let ids = ids_in(&rules);
    assert_eq!(ids.len(), 51, "the shared set has 51 rules");
    for config in [None, Some(dir.join("config/sysflow.yml"))] {
        for language in [Language::Sigma, Language::Auto] {
            let (e, w) = PolicyEngine::load_lang(
                &rules,
                LoadOptions::default(),
                &lang(language, config.clone()),
            )
            .unwrap_or_else(|e| panic!("{config:?}: {e}"));
            let loaded: BTreeSet<String> = e.rules().iter().filter_map(|r| r.id.clone()).collect();
            assert_eq!(loaded, ids, "{config:?}");
            let s = e.summary();
            assert_eq!(
                (s.files, s.sigma_rules, s.rules, s.skipped_rules),
                (51, 51, 51, 0)
            );
            // The only warnings: the two OMIGOD rules select LogonId, which SysFlow does not
            // record (they load, and can never match).
            let never: Vec<&Diagnostic> = w
                .iter()
                .filter(|d| d.kind == DiagKind::UnsupportedField)
                .collect();
            assert_eq!(never.len(), 2, "{w:?}");
            assert!(never.iter().all(|d| d.message.contains("LogonId")));
            assert_eq!(w.len(), 2, "{w:?}");
        }
    }
}

/// `$SIGMA_RULES`: a SigmaHQ checkout (or its `rules/linux`).
fn sigmahq() -> Option<PathBuf> {
    let Some(p) = std::env::var_os("SIGMA_RULES").map(PathBuf::from) else {
        eprintln!("SKIPPED: set SIGMA_RULES to a SigmaHQ/sigma checkout to load its rules/linux");
        return None;
    };
    let linux = p.join("rules/linux");
    Some(if linux.is_dir() { linux } else { p })
}

#[test]
fn sigmahq_linux_tree_loads_whole() {
    let Some(dir) = sigmahq() else { return };
    let (e, w) =
        PolicyEngine::load_lang(&dir, LoadOptions::default(), &lang(Language::Sigma, None))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let s = e.summary();
    eprintln!(
        "{}: {} file(s), {} rule(s) loaded, {} skipped, {} warning(s)",
        dir.display(),
        s.files,
        s.sigma_rules,
        s.skipped_rules,
        w.len()
    );
    assert!(s.sigma_rules > 0);
    // Every warning is a skipped rule (with its reason) or a rule that can never match.
    for d in &w {
        assert!(
            matches!(
                d.kind,
                DiagKind::Skipped
                    | DiagKind::UnknownField
                    | DiagKind::UnsupportedField
                    | DiagKind::BadOperator
            ),
            "{d}"
        );
    }
    // Rules of other log sources are skipped naming the log source.
    let other = w
        .iter()
        .filter(|d| d.message.contains("is not mapped to SysFlow"))
        .count();
    eprintln!("{other} rule(s) of log sources SysFlow does not have");
}

#[test]
fn sigma_and_falco_files_load_side_by_side() {
    let dir = std::env::temp_dir().join(format!("sigma-mixed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("a_falco.yaml"),
        "- rule: Falco shell\n  desc: d\n  condition: sf.opflags = EXEC and sf.proc.name = bash\n  priority: low\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("b_sigma.yml"),
        "title: Sigma shell\nlogsource:\n    category: process_creation\n    product: linux\ndetection:\n    s:\n        Image|endswith: /bash\n    condition: s\n",
    )
    .unwrap();
    let (e, w) =
        PolicyEngine::load_lang(&dir, LoadOptions::default(), &LanguageOptions::default()).unwrap();
    assert!(w.is_empty(), "{w:?}");
    let names: Vec<&str> = e.rules().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["Falco shell", "Sigma shell"]);
    assert_eq!(e.summary().sigma_rules, 1);
    // Falco only: the Sigma file is an error that says so.
    let err = PolicyEngine::load_lang(&dir, LoadOptions::default(), &lang(Language::Falco, None))
        .unwrap_err();
    let d = err.diagnostics();
    assert_eq!(d.len(), 1, "{err}");
    assert!(d[0].message.contains("is a Sigma rule"), "{}", d[0]);
    assert!(d[0].loc.file.ends_with("b_sigma.yml"));
    // Sigma only: the Falco list is no Sigma document.
    let err = PolicyEngine::load_lang(&dir, LoadOptions::default(), &lang(Language::Sigma, None))
        .unwrap_err();
    assert!(
        err.diagnostics()[0].message.contains("must be a mapping"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

const HEAD: &str = "title: T\nlogsource:\n    category: process_creation\n    product: linux\n";

fn one_error(detection: &str) -> Diagnostic {
    let text = format!("{HEAD}detection:\n{detection}");
    let err = load_text(&text).map(|_| ()).unwrap_err();
    let d = err.diagnostics();
    assert_eq!(d.len(), 1, "{err}");
    d[0].clone()
}

#[test]
fn mistakes_are_positioned_errors() {
    // Undefined search identifier, at its place in the condition.
    let d = one_error("    selection:\n        Image: x\n    condition: selection and selcetion\n");
    assert_eq!((d.loc.line, d.loc.col), (8, 30));
    assert!(d
        .message
        .contains("undefined search identifier 'selcetion'"));
    assert_eq!(d.help.as_deref(), Some("did you mean 'selection'?"));
    // Syntax.
    let d = one_error("    s:\n        Image: x\n    condition: (s or s\n");
    assert_eq!(d.kind, DiagKind::Syntax);
    assert_eq!(d.loc.line, 8);
    // Contradicting modifiers, bad values.
    let d = one_error("    s:\n        Image|re|contains: x\n    condition: s\n");
    assert_eq!(d.kind, DiagKind::BadOperator);
    let d = one_error("    s:\n        ProcessId|gt: many\n    condition: s\n");
    assert_eq!((d.kind, d.loc.line, d.loc.col), (DiagKind::BadValue, 7, 23));
    let d = one_error("    s:\n        Image|base64: 'a*'\n    condition: s\n");
    assert_eq!(d.kind, DiagKind::BadValue);
    // `x of` a pattern nothing matches; no condition; a bad level.
    let d = one_error("    s:\n        Image: x\n    condition: 1 of filter*\n");
    assert!(d.message.contains("no search identifier matches 'filter*'"));
    let d = one_error("    s:\n        Image: x\n");
    assert!(d.message.contains("no 'condition'"));
    let err = load_text("title: T\nlevel: urgent\nlogsource:\n    product: linux\n    category: process_creation\ndetection:\n    s:\n        Image: x\n    condition: s\n").unwrap_err();
    assert_eq!(err.diagnostics()[0].loc.line, 2);
}

#[test]
fn what_cannot_run_here_is_skipped_with_a_reason() {
    let text = [
        "title: Windows\nlogsource:\n    category: process_creation\n    product: windows\ndetection:\n    s:\n        Image: x\n    condition: s\n",
        "title: Auditd\nlogsource:\n    product: linux\n    service: auditd\ndetection:\n    s:\n        type: EXECVE\n    condition: s\n",
        "title: Typo\nlogsource:\n    category: process_creation\ndetection:\n    s:\n        Imag: x\n    condition: s\n",
        "title: Placeholder\nlogsource:\n    category: process_creation\ndetection:\n    s:\n        User|expand: '%Admins%'\n    condition: s\n",
        "title: Modifier\nlogsource:\n    category: process_creation\ndetection:\n    s:\n        Image|endswit: x\n    condition: s\n",
        "title: Count\nlogsource:\n    category: process_creation\ndetection:\n    s:\n        Image: x\n    condition: s | count() > 5\n",
        "title: Corr\ncorrelation:\n    type: event_count\n    rules: [a]\n    timespan: 5m\n    condition:\n        gte: 10\n",
        "title: Good\nlogsource:\n    category: process_creation\ndetection:\n    s:\n        Image: x\n    condition: s\n",
    ]
    .join("---\n");
    let (e, w) = load_text(&text).unwrap();
    assert_eq!(e.rules().len(), 1);
    assert_eq!(e.summary().skipped_rules, 7);
    let msgs: Vec<String> = w.iter().map(|d| d.message.clone()).collect();
    assert!(
        msgs[0].contains(
            "rule 'Windows' skipped: log source (category: process_creation, product: windows)"
        ),
        "{msgs:?}"
    );
    assert!(msgs[1].contains("service 'auditd'"), "{msgs:?}");
    assert!(msgs[2].contains("unknown field 'Imag'"), "{msgs:?}");
    assert_eq!(w[2].help.as_deref(), Some("did you mean 'Image'?"));
    assert!(msgs[3].contains("'expand'"), "{msgs:?}");
    // An unknown modifier (a typo, or a newer revision of the specification) skips its rule.
    assert!(
        msgs[4].contains("rule 'Modifier' skipped: unknown modifier 'endswit'"),
        "{msgs:?}"
    );
    assert_eq!(w[4].kind, DiagKind::BadOperator);
    assert_eq!(w[4].help.as_deref(), Some("did you mean 'endswith'?"));
    assert!(msgs[5].contains("aggregations"), "{msgs:?}");
    assert!(msgs
        .iter()
        .any(|m| m.contains("correlation rule 'Corr' skipped")));
    // Strict: an unknown field or modifier is an error.
    let strict = LoadOptions {
        strict: true,
        ..LoadOptions::default()
    };
    let err = PolicyEngine::from_str_lang("r.yml", &text, strict, &lang(Language::Sigma, None))
        .unwrap_err();
    let kinds: Vec<DiagKind> = err.diagnostics().iter().map(|d| d.kind).collect();
    assert_eq!(kinds, [DiagKind::UnknownField, DiagKind::BadOperator]);
}

#[test]
fn mapping_file_mistakes_are_errors_in_that_file() {
    let dir = std::env::temp_dir().join(format!("sigma-badmap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("map.yml");
    std::fs::write(&cfg, "fieldmappings:\n    Image: sf.proc.exx\n").unwrap();
    let err = PolicyEngine::from_str_lang(
        "r.yml",
        &format!("{HEAD}detection:\n    s:\n        Image: x\n    condition: s\n"),
        LoadOptions::default(),
        &lang(Language::Sigma, Some(cfg.clone())),
    )
    .unwrap_err();
    let d = &err.diagnostics()[0];
    assert_eq!((d.loc.line, d.loc.col), (2, 12));
    assert!(d.loc.file.ends_with("map.yml"));
    assert_eq!(d.help.as_deref(), Some("did you mean 'sf.proc.exe'?"));
    std::fs::remove_dir_all(&dir).unwrap();
}

mod robustness {
    //! Arbitrary field names, modifier chains, values and conditions: the loader reports or
    //! loads, never panics, and a loaded rule evaluates every kind of record.

    use proptest::prelude::*;
    use sysflow_policy::{LoadOptions, Matches, PolicyEngine};

    const MODS: &[&str] = &[
        "contains",
        "startswith",
        "endswith",
        "all",
        "cased",
        "base64",
        "base64offset",
        "wide",
        "utf16be",
        "windash",
        "exists",
        "gt",
        "lte",
        "neq",
        "fieldref",
        "re",
        "i",
        "cidr",
        "expand",
        "bogus",
    ];
    const FIELDS: &[&str] = &[
        "Image",
        "CommandLine",
        "ParentImage",
        "ProcessId",
        "User",
        "LogonId",
        "TargetFilename",
        "sf.proc.aname",
        "Nope",
        "",
    ];
    const CATEGORIES: &[&str] = &[
        "process_creation",
        "file_event",
        "file_rename",
        "network_connection",
        "dns",
    ];

    fn quoted(s: &str) -> String {
        format!("'{}'", s.replace('\'', "''"))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]
        #[test]
        fn sigma_loader_never_panics(
            cat in prop::sample::select(CATEGORIES),
            items in prop::collection::vec(
                (
                    prop::sample::select(FIELDS),
                    prop::collection::vec(prop::sample::select(MODS), 0..4),
                    prop::collection::vec("[-a-z0-9 /*?\\\\.]{0,12}", 1..4),
                ),
                1..4,
            ),
            cond in prop::collection::vec(
                prop::sample::select(&["sel", "sel*", "1", "all", "of", "them", "and", "or", "not", "(", ")", "|"][..]),
                1..8,
            ),
        ) {
            let mut text = format!("title: P\nlogsource:\n    category: {cat}\n    product: linux\ndetection:\n    sel:\n");
            for (i, (f, mods, vals)) in items.iter().enumerate() {
                let key = std::iter::once(*f).chain(mods.iter().copied()).collect::<Vec<_>>().join("|");
                // Distinct keys: a YAML map may not repeat one.
                text.push_str(&format!("        '{key}{}':\n", " ".repeat(i)));
                for v in vals {
                    text.push_str(&format!("            - {}\n", quoted(v)));
                }
            }
            text.push_str(&format!("    condition: {}\n", quoted(&cond.join(" "))));
            if let Ok((e, _)) = PolicyEngine::from_str("p.yml", &text, LoadOptions::default()) {
                let mut m = Matches::new();
                for r in testkit::flat::records() {
                    let _ = e.process(r, &mut m);
                }
            }
        }
    }
}
