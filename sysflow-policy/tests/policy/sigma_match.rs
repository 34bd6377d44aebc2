//! Sigma semantics over flat records built by the real flattener: which rules fire on an
//! exec, a file write, a delete, a rename and a connection. Every expectation is read off the
//! Sigma specification (and sf-processor's mapping file where it is loaded), not off the
//! engine: case-insensitive matching, wildcards, modifiers, conditions, log sources.

use std::path::PathBuf;

use sysflow_model::flat::FlatRecord;
use sysflow_model::tables::{Flattener, TableConfig};
use sysflow_model::*;
use sysflow_policy::{Language, LanguageOptions, LoadOptions, Matches, PolicyEngine, Priority};

fn oid(hpid: i64) -> Oid {
    Oid {
        create_ts: hpid * 10,
        hpid,
    }
}

fn process(hpid: i64, parent: Option<i64>, exe: &str, args: &str) -> SysFlow {
    SysFlow::Process(Process {
        state: ObjectState::Created,
        oid: oid(hpid),
        poid: parent.map(oid),
        exe: exe.into(),
        exe_args: args.into(),
        uid: if hpid == 3 { 1000 } else { 0 },
        user_name: if hpid == 3 {
            "Alice".into()
        } else {
            "root".into()
        },
        cwd: "/home/alice".into(),
        ..Process::default()
    })
}

fn file(path: &str) -> File {
    File {
        oid: Foid::of("", path),
        restype: 'f' as i32,
        path: path.into(),
        ..File::default()
    }
}

/// The process tree java (1) → bash (2) → `exe args` (3), then `event` by process 3; the
/// flat record of `event`.
fn record(exe: &str, args: &str, files: &[&str], event: SysFlow) -> FlatRecord {
    let mut input = vec![
        process(1, None, "/usr/lib/jvm/bin/java", "-jar app.jar"),
        process(2, Some(1), "/bin/bash", "-c run"),
        process(3, Some(2), exe, args),
    ];
    input.extend(files.iter().map(|p| SysFlow::File(file(p))));
    input.push(event);
    let mut t = Flattener::new(TableConfig::default());
    input
        .into_iter()
        .filter_map(|r| t.push(r))
        .last()
        .expect("the event flattens")
}

fn exec(exe: &str, args: &str) -> FlatRecord {
    record(
        exe,
        args,
        &[],
        SysFlow::ProcessEvent(ProcessEvent {
            proc_oid: oid(3),
            ts: 100,
            op_flags: OpFlags(OpFlags::EXEC),
            ..ProcessEvent::default()
        }),
    )
}

fn file_flow(path: &str, ops: u32, open: u32) -> FlatRecord {
    record(
        "/usr/bin/cp",
        "/etc/passwd /tmp/x",
        &[path],
        SysFlow::FileFlow(FileFlow {
            proc_oid: oid(3),
            ts: 100,
            op_flags: OpFlags(ops),
            open_flags: OpenFlags(open),
            file_oid: Foid::of("", path),
            fd: 3,
            ..FileFlow::default()
        }),
    )
}

fn file_event(ops: u32, path: &str, new: Option<&str>) -> FlatRecord {
    let files: Vec<&str> = std::iter::once(path).chain(new).collect();
    record(
        "/usr/bin/mv",
        "a b",
        &files,
        SysFlow::FileEvent(FileEvent {
            proc_oid: oid(3),
            ts: 100,
            op_flags: OpFlags(ops),
            file_oid: Foid::of("", path),
            new_file_oid: new.map(|n| Foid::of("", n)),
            ..FileEvent::default()
        }),
    )
}

fn ip(a: [u8; 4]) -> i32 {
    i32::from_le_bytes(a)
}

fn connect(ops: u32, dport: i32, proto: i32) -> FlatRecord {
    record(
        "/usr/bin/curl",
        "http://10.1.2.3/",
        &[],
        SysFlow::NetworkFlow(NetworkFlow {
            proc_oid: oid(3),
            ts: 100,
            op_flags: OpFlags(ops),
            sip: ip([192, 168, 0, 5]),
            sport: 40000,
            dip: ip([10, 1, 2, 3]),
            dport,
            proto,
            ..NetworkFlow::default()
        }),
    )
}

fn engine_with(text: &str, config: Option<PathBuf>) -> PolicyEngine {
    let lang = LanguageOptions {
        language: Language::Auto,
        sigma_config: config,
    };
    let (e, w) = PolicyEngine::from_str_lang("rules.yml", text, LoadOptions::default(), &lang)
        .unwrap_or_else(|e| panic!("{e}"));
    for x in &w {
        eprintln!("warning: {x}");
    }
    e
}

/// A rule file of several documents: `title: T` + `detection` per rule, all
/// `process_creation` unless the detection text says otherwise.
fn rules(docs: &[(&str, &str, &str)]) -> String {
    docs.iter()
        .map(|(title, category, detection)| {
            format!(
                "title: {title}\nlogsource:\n    category: {category}\n    product: linux\ndetection:\n{detection}\n"
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

fn fired(e: &PolicyEngine, r: &FlatRecord) -> Vec<String> {
    let mut m = Matches::new();
    e.process(r, &mut m);
    m.iter(e).map(|r| r.name.clone()).collect()
}

const PC: &str = "process_creation";

#[test]
fn strings_match_case_insensitively_unless_cased() {
    let e = engine_with(
        &rules(&[
            ("eq", PC, "    s:\n        Image: '/USR/BIN/Base64'\n    condition: s"),
            ("cased", PC, "    s:\n        Image|cased: '/USR/BIN/Base64'\n    condition: s"),
            ("contains", PC, "    s:\n        CommandLine|contains: ' -D '\n    condition: s"),
            ("starts", PC, "    s:\n        CommandLine|startswith: '/usr/BIN/'\n    condition: s"),
            ("ends", PC, "    s:\n        Image|endswith: '/BASE64'\n    condition: s"),
            ("ends cased", PC, "    s:\n        Image|endswith|cased: '/base64'\n    condition: s"),
            ("user", PC, "    s:\n        User: alice\n    condition: s"),
            ("wild", PC, "    s:\n        Image: '/usr/*/ba?e64'\n    condition: s"),
            ("wild miss", PC, "    s:\n        Image: '/usr/*/ba?64'\n    condition: s"),
            ("escaped", PC, "    s:\n        CommandLine|endswith: 'x\\*'\n    condition: s"),
            ("list", PC, "    s:\n        Image|endswith:\n            - /cat\n            - /base64\n    condition: s"),
        ]),
        None,
    );
    let r = exec("/usr/bin/base64", "-d -i x*");
    assert_eq!(
        fired(&e, &r),
        [
            "eq",
            "contains",
            "starts",
            "ends",
            "ends cased",
            "user",
            "wild",
            "escaped",
            "list"
        ]
    );
    // `x\*` is a literal star: a command line ending in "xy" does not match it.
    assert!(!fired(&e, &exec("/usr/bin/base64", "-d xy")).contains(&"escaped".into()));
}

#[test]
fn all_modifier_null_exists_and_numbers() {
    let e = engine_with(
        &rules(&[
            ("all", PC, "    s:\n        CommandLine|contains|all:\n            - '-d'\n            - '-i'\n    condition: s"),
            ("all miss", PC, "    s:\n        CommandLine|contains|all:\n            - '-d'\n            - '-z'\n    condition: s"),
            ("any", PC, "    s:\n        CommandLine|contains:\n            - '-d'\n            - '-z'\n    condition: s"),
            ("no file", PC, "    s:\n        sf.file.path: null\n    condition: s"),
            ("cwd exists", PC, "    s:\n        CurrentDirectory|exists: true\n    condition: s"),
            ("hash exists", PC, "    s:\n        Hashes|exists: true\n    condition: s"),
            ("hash missing", PC, "    s:\n        Hashes|exists: false\n    condition: s"),
            ("pid", PC, "    s:\n        ProcessId|gte: 3\n        ProcessId|lt: 4\n        ParentProcessId: 2\n    condition: s"),
            ("pid miss", PC, "    s:\n        ProcessId|gt: 3\n    condition: s"),
            ("neq", PC, "    s:\n        User|neq: root\n    condition: s"),
            ("empty", PC, "    s:\n        CommandLine: ''\n    condition: s"),
        ]),
        None,
    );
    // An exec has no file: sf.file.path is null. Hashes are never recorded.
    let r = exec("/usr/bin/base64", "-d -i x");
    assert_eq!(
        fired(&e, &r),
        [
            "all",
            "any",
            "no file",
            "cwd exists",
            "hash missing",
            "pid",
            "neq"
        ]
    );
}

#[test]
fn conditions_combine_search_identifiers() {
    let det = |cond: &str| {
        format!(
            "    selection_img:\n        Image|endswith: /base64\n    selection_cli:\n        CommandLine|contains: ' -d'\n    filter_root:\n        User: root\n    _private:\n        User: nobody\n    condition: {cond}"
        )
    };
    let conds = [
        ("one of pattern", "1 of selection_*"),
        ("all of pattern", "all of selection_*"),
        ("all of them", "all of them"),
        ("one of them", "1 of them"),
        ("not", "selection_img and not filter_root"),
        ("parens", "(filter_root or selection_cli) and selection_img"),
        ("list of conditions", "[filter_root, selection_cli]"),
    ];
    let texts: Vec<(String, String)> = conds.iter().map(|(t, c)| (t.to_string(), det(c))).collect();
    let docs: Vec<(&str, &str, &str)> = texts
        .iter()
        .map(|(t, d)| (t.as_str(), PC, d.as_str()))
        .collect();
    let e = engine_with(&rules(&docs), None);
    // base64 -d by Alice: both selections hold, filter_root does not (so not all of them),
    // _private neither (and does not count for 'them').
    let r = exec("/usr/bin/base64", "-d");
    assert_eq!(
        fired(&e, &r),
        [
            "one of pattern",
            "all of pattern",
            "one of them",
            "not",
            "parens",
            "list of conditions"
        ]
    );
    // cat -d: only selection_cli holds.
    let r = exec("/bin/cat", "-d");
    assert_eq!(
        fired(&e, &r),
        ["one of pattern", "one of them", "list of conditions"]
    );
    // nobody's exec: only _private, which 'them' leaves out.
    assert!(fired(&e, &exec("/bin/true", "")).is_empty());
}

#[test]
fn encodings_and_windash() {
    // "bash -i" at each offset of a base64 string: `YmFzaCAtaQ==` = base64("bash -i"),
    // `WGJhc2ggLWk=` = base64("Xbash -i") holds `Jhc2ggLW`, `eCBiYXNoIC1p` = base64("x bash
    // -i") holds `iYXNoIC1p` (pySigma's three offsets of "bash -i": `YmFzaCAta`, `Jhc2ggLW`,
    // `iYXNoIC1p`).
    let e = engine_with(
        &rules(&[
            (
                "b64",
                PC,
                "    s:\n        CommandLine|base64|contains: 'bash -i'\n    condition: s",
            ),
            (
                "b64off",
                PC,
                "    s:\n        CommandLine|base64offset|contains: 'bash -i'\n    condition: s",
            ),
            (
                "windash",
                PC,
                "    s:\n        CommandLine|windash|contains: ' -exec '\n    condition: s",
            ),
            (
                "wide",
                PC,
                "    s:\n        CommandLine|wide|base64offset|contains: 'id'\n    condition: s",
            ),
        ]),
        None,
    );
    assert_eq!(
        fired(&e, &exec("/bin/sh", "-c echo YmFzaCAtaQ== | base64 -d")),
        ["b64", "b64off"]
    );
    assert_eq!(
        fired(&e, &exec("/bin/sh", "-c echo eCBiYXNoIC1p")),
        ["b64off"]
    );
    assert_eq!(
        fired(&e, &exec("/bin/sh", "-c echo WGJhc2ggLWk=")),
        ["b64off"]
    );
    assert_eq!(fired(&e, &exec("/usr/bin/find", ". /exec sh")), ["windash"]);
    assert_eq!(fired(&e, &exec("/usr/bin/find", ". -exec sh")), ["windash"]);
    assert_eq!(
        fired(&e, &exec("/usr/bin/find", ". \u{2013}exec sh")),
        ["windash"]
    );
    // UTF-16LE "id" = 69 00 64 00, base64 "aQBkAA==": offset 0 keeps "aQBkA".
    assert_eq!(fired(&e, &exec("/bin/sh", "-c aQBkAA==")), ["wide"]);
}

#[test]
fn fieldref_keywords_and_parent_fields() {
    let e = engine_with(
        &rules(&[
            ("same exe", PC, "    s:\n        Image|fieldref: ParentImage\n    condition: s"),
            ("parent", PC, "    s:\n        ParentImage|endswith: /bash\n        ParentCommandLine: '/bin/bash -c run'\n    condition: s"),
            ("grandparent", PC, "    s:\n        ParentImage|endswith: /java\n    condition: s"),
            ("keywords", PC, "    keywords:\n        - 'BASE64 -D'\n        - nothing\n    condition: keywords"),
            ("keywords all", PC, "    keywords:\n        '|all':\n            - base64\n            - nothing\n    condition: keywords"),
            ("sf names", PC, "    s:\n        sf.proc.name: BASE64\n        proc.aname[2]: java\n    condition: s"),
        ]),
        None,
    );
    let r = exec("/usr/bin/base64", "-d");
    assert_eq!(fired(&e, &r), ["parent", "keywords", "sf names"]);
    let r = exec("/bin/bash", "-c run");
    assert_eq!(fired(&e, &r), ["same exe", "parent"]);
}

#[test]
fn mapping_file_overrides_and_extends_the_builtin_mapping() {
    let dir = std::env::temp_dir().join(format!("sigma-map-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("map.yml");
    // sf-processor maps ParentImage to every ancestor's exe (sf.proc.aexe); ExeName is new.
    std::fs::write(
        &cfg,
        "title: t\nfieldmappings:\n    ParentImage: sf.proc.aexe\n    ExeName: [sf.proc.name, sf.pproc.name]\n",
    )
    .unwrap();
    let text = rules(&[
        (
            "grandparent",
            PC,
            "    s:\n        ParentImage|endswith: /java\n    condition: s",
        ),
        (
            "exe name",
            PC,
            "    s:\n        ExeName: bash\n    condition: s",
        ),
    ]);
    let r = exec("/usr/bin/base64", "-d");
    // Built in: ParentImage is the parent (bash), so neither rule fires (ExeName is unknown
    // and its rule skipped).
    let lang = LanguageOptions::default();
    let (e, w) =
        PolicyEngine::from_str_lang("r.yml", &text, LoadOptions::default(), &lang).unwrap();
    assert_eq!(fired(&e, &r), Vec::<String>::new());
    assert!(
        w.iter()
            .any(|d| d.message.contains("unknown field 'ExeName'")),
        "{w:?}"
    );
    // With the file: any ancestor is java; ExeName matches the parent's name.
    let e = engine_with(&text, Some(cfg.clone()));
    assert_eq!(fired(&e, &r), ["grandparent", "exe name"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn log_sources_select_sysflow_records() {
    let e = engine_with(
        &rules(&[
            ("exec", PC, "    s:\n        Image|endswith: /cp\n    condition: s"),
            ("created", "file_event", "    s:\n        TargetFilename|startswith: /etc/cron.d/\n    condition: s"),
            ("deleted", "file_delete", "    s:\n        TargetFilename: /tmp/x\n    condition: s"),
            ("renamed", "file_rename", "    s:\n        SourceFilename: /tmp/a\n        TargetFilename: /etc/profile.d/a.sh\n    condition: s"),
            ("connected", "network_connection", "    s:\n        Initiated: 'true'\n        DestinationIp: 10.1.2.3\n        DestinationPort: 443\n        Protocol: tcp\n    condition: s"),
            ("accepted", "network_connection", "    s:\n        Initiated: 'false'\n    condition: s"),
        ]),
        None,
    );
    let (w, c, o) = (OpFlags::WRITE, OpenFlags::CREAT, OpFlags::OPEN);
    assert_eq!(
        fired(&e, &file_flow("/etc/cron.d/job", o | w | OpFlags::CLOSE, 2)),
        ["created"]
    );
    assert_eq!(
        fired(&e, &file_flow("/etc/cron.d/job", o | OpFlags::CLOSE, 2 | c)),
        ["created"]
    );
    // Read only: no file_event.
    assert!(fired(&e, &file_flow("/etc/cron.d/job", o | OpFlags::READ, 1)).is_empty());
    assert_eq!(
        fired(&e, &file_event(OpFlags::UNLINK, "/tmp/x", None)),
        ["deleted"]
    );
    assert!(fired(&e, &file_event(OpFlags::MKDIR, "/tmp/x", None)).is_empty());
    assert_eq!(
        fired(
            &e,
            &file_event(OpFlags::RENAME, "/tmp/a", Some("/etc/profile.d/a.sh"))
        ),
        ["renamed"]
    );
    assert_eq!(fired(&e, &connect(OpFlags::CONNECT, 443, 6)), ["connected"]);
    assert!(fired(&e, &connect(OpFlags::CONNECT, 443, 17)).is_empty());
    assert_eq!(fired(&e, &connect(OpFlags::ACCEPT, 80, 6)), ["accepted"]);
    // The exec of cp itself: only the process_creation rule.
    assert_eq!(fired(&e, &exec("/usr/bin/cp", "a b")), ["exec"]);
    // The index: each rule is listed under its record type only.
    let types: Vec<u16> = e.requirements().iter().map(|r| r.0).collect();
    let bit = |t: RecordType| 1u16 << (t as u16);
    assert_eq!(
        types,
        [
            bit(RecordType::ProcessEvent),
            bit(RecordType::FileFlow),
            bit(RecordType::FileEvent),
            bit(RecordType::FileEvent),
            bit(RecordType::NetworkFlow),
            bit(RecordType::NetworkFlow)
        ]
    );
}

#[test]
fn metadata_becomes_the_rule() {
    let text = "title: Decode\nid: e2072cab-8c9a-459b-b63c-40ae79e27031\ndescription: base64 -d\nlevel: high\ntags:\n    - attack.defense_evasion\n    - attack.t1027\nlogsource:\n    category: process_creation\n    product: linux\ndetection:\n    s:\n        Image|endswith: /base64\n    condition: s\n";
    let e = engine_with(text, None);
    let r = &e.rules()[0];
    assert_eq!(r.name, "Decode");
    assert_eq!(
        r.id.as_deref(),
        Some("e2072cab-8c9a-459b-b63c-40ae79e27031")
    );
    assert_eq!(r.desc, "base64 -d");
    assert_eq!(r.priority, Priority::High);
    assert_eq!(r.tags, ["attack.defense_evasion", "attack.t1027"]);
    assert_eq!(r.origin, "rules.yml:1");
    assert_eq!(e.summary().sigma_rules, 1);
}

#[test]
fn meta_filters_and_collections() {
    let text = "action: global\nlogsource:\n    category: process_creation\n    product: linux\n---\ntitle: A\nid: 11111111-0000-0000-0000-000000000000\ndetection:\n    s:\n        Image|endswith: /base64\n    condition: s\n---\ntitle: B\ndetection:\n    s:\n        Image|endswith: /base64\n    condition: s\n---\ntitle: Not Alice\nlogsource:\n    category: process_creation\nfilter:\n    rules:\n        - 11111111-0000-0000-0000-000000000000\n    selection:\n        User: alice\n    condition: not selection\n";
    let e = engine_with(text, None);
    assert_eq!(fired(&e, &exec("/usr/bin/base64", "-d")), ["B"]);
    let r = record(
        "/usr/bin/base64",
        "",
        &[],
        SysFlow::ProcessEvent(ProcessEvent {
            proc_oid: oid(2),
            ts: 1,
            op_flags: OpFlags(OpFlags::EXEC),
            ..ProcessEvent::default()
        }),
    );
    // Process 2 (bash, root) is no base64: nothing. (The filter only removes Alice's.)
    assert!(fired(&e, &r).is_empty());
}

#[test]
fn regular_expressions_and_networks() {
    let e = engine_with(
        &rules(&[
            ("re", PC, "    s:\n        Image|re: '^/usr/bin/base\\d+$'\n    condition: s"),
            ("re anywhere", PC, "    s:\n        CommandLine|re: '-d -[a-z]'\n    condition: s"),
            ("re cased", PC, "    s:\n        Image|re: 'BASE64'\n    condition: s"),
            ("re i", PC, "    s:\n        Image|re|i: 'BASE64'\n    condition: s"),
            ("re long", PC, "    s:\n        CommandLine|re: '(.){200,}'\n    condition: s"),
            ("re all", PC, "    s:\n        CommandLine|re|all:\n            - '^/usr'\n            - 'x$'\n    condition: s"),
            ("dst in 10/8", "network_connection", "    s:\n        DestinationIp|cidr:\n            - '10.0.0.0/8'\n            - 'fc00::/7'\n    condition: s"),
            ("dst in 192.168/16", "network_connection", "    s:\n        DestinationIp|cidr: '192.168.0.0/16'\n    condition: s"),
            ("src not local", "network_connection", "    s:\n        Initiated: 'true'\n    local:\n        SourceIp|cidr: 192.168.0.0/16\n    condition: s and not local"),
            ("v6 only", "network_connection", "    s:\n        DestinationIp|cidr: '::1/128'\n    condition: s"),
        ]),
        None,
    );
    assert_eq!(
        fired(&e, &exec("/usr/bin/base64", "-d -i x")),
        ["re", "re anywhere", "re i", "re all"]
    );
    assert_eq!(
        fired(&e, &exec("/usr/bin/base64", &"a".repeat(200))),
        ["re", "re i", "re long"]
    );
    // The flow goes from 192.168.0.5 to 10.1.2.3.
    assert_eq!(
        fired(&e, &connect(OpFlags::CONNECT, 443, 6)),
        ["dst in 10/8"]
    );
    for (bad, what) in [
        ("Image|re: '(unclosed'", "bad regular expression"),
        ("DestinationIp|cidr: 10.0.0.0/33", "is not a network"),
    ] {
        let text = format!(
            "title: T\nlogsource:\n    category: network_connection\ndetection:\n    s:\n        {bad}\n    condition: s\n"
        );
        let err = PolicyEngine::from_str_lang(
            "r.yml",
            &text,
            LoadOptions::default(),
            &LanguageOptions::default(),
        )
        .map(|_| ())
        .unwrap_err();
        let d = &err.diagnostics()[0];
        assert!(d.message.contains(what) && d.loc.line == 6, "{d}");
    }
}
