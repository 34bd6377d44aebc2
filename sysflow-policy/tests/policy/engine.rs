//! The engine over flat records built by the real flattener from hand-made SysFlow records:
//! verdicts per mode, declaration order of matches, prefilter/type index, exceptions,
//! batches on several threads keeping order.

use sysflow_model::flat::FlatRecord;
use sysflow_model::tables::{Flattener, TableConfig};
use sysflow_model::*;
use sysflow_policy::{LoadOptions, Matches, Mode, PolicyEngine, Verdict};

fn proc_(hpid: i64, parent: Option<i64>, exe: &str, args: &str) -> SysFlow {
    SysFlow::Process(Process {
        state: ObjectState::Created,
        oid: Oid {
            create_ts: hpid * 10,
            hpid,
        },
        poid: parent.map(|p| Oid {
            create_ts: p * 10,
            hpid: p,
        }),
        exe: exe.into(),
        exe_args: args.into(),
        container_id: Some("c1".into()),
        ..Process::default()
    })
}

fn oid(hpid: i64) -> Oid {
    Oid {
        create_ts: hpid * 10,
        hpid,
    }
}

/// Records: 0 header, 1 container, 2-4 processes, 5 file, then events/flows (flat 0..).
fn records() -> Vec<FlatRecord> {
    let passwd = File {
        oid: Foid::of("c1", "/etc/passwd"),
        restype: 'f' as i32,
        path: "/etc/passwd".into(),
        container_id: Some("c1".into()),
        ..File::default()
    };
    let input = vec![
        SysFlow::Header(SfHeader {
            version: 5,
            exporter: "node1".into(),
            ip: "10.0.0.1".into(),
            filename: "t.sf".into(),
        }),
        SysFlow::Container(Container {
            id: "c1".into(),
            name: "node-app".into(),
            image: "node:18".into(),
            ..Container::default()
        }),
        proc_(1, None, "/bin/bash", ""),
        proc_(2, Some(1), "/usr/bin/python", "cos-write.py x"),
        proc_(3, Some(1), "/bin/cat", "/etc/passwd"),
        SysFlow::File(passwd.clone()),
        // flat 0: python EXEC
        SysFlow::ProcessEvent(ProcessEvent {
            proc_oid: oid(2),
            ts: 100,
            op_flags: OpFlags(OpFlags::EXEC),
            ..ProcessEvent::default()
        }),
        // flat 1: cat opens /etc/passwd for reading
        SysFlow::FileFlow(FileFlow {
            proc_oid: oid(3),
            ts: 200,
            op_flags: OpFlags(OpFlags::OPEN | OpFlags::READ | OpFlags::CLOSE),
            open_flags: OpenFlags(OpenFlags::RDONLY),
            file_oid: passwd.oid,
            fd: 3,
            ..FileFlow::default()
        }),
        // flat 2: python network flow
        SysFlow::NetworkFlow(NetworkFlow {
            proc_oid: oid(2),
            ts: 300,
            op_flags: OpFlags(OpFlags::CONNECT),
            dport: 443,
            proto: 6,
            ..NetworkFlow::default()
        }),
        // flat 3: bash EXEC
        SysFlow::ProcessEvent(ProcessEvent {
            proc_oid: oid(1),
            ts: 400,
            op_flags: OpFlags(OpFlags::EXEC),
            ..ProcessEvent::default()
        }),
        // flat 4: cat EXIT
        SysFlow::ProcessEvent(ProcessEvent {
            proc_oid: oid(3),
            ts: 500,
            op_flags: OpFlags(OpFlags::EXIT),
            ..ProcessEvent::default()
        }),
    ];
    let mut t = Flattener::new(TableConfig::default());
    input.into_iter().filter_map(|r| t.push(r)).collect()
}

const POLICY: &str = r#"
- list: shells
  items: [bash, sh]
- list: interpreters
  items: [shells, python]
- macro: spawned
  condition: sf.opflags = EXEC
- filter: drop_exits
  condition: sf.opflags = EXIT
- rule: Interpreter exec
  desc: an interpreter started
  condition: spawned and sf.proc.name in (interpreters)
  priority: warning
  tags: [exec]
- rule: Child of a shell
  desc: a process whose ancestor is bash
  condition: sf.proc.aname[1] = bash and sf.proc.aname = bash
  priority: INFO
- rule: Passwd read
  desc: /etc/passwd opened
  condition: sf.file.path glob '/etc/pass*' and sf.opflags = OPEN
  prefilter: [FF]
  exceptions:
    - name: trusted
      fields: [sf.proc.name, sf.file.directory]
      values:
        - [vi, /etc]
- rule: HTTPS
  desc: tls
  condition: sf.net.dport >= 443 and sf.net.dport <= 443 and sf.proc.exe = val(sf.proc.aexe)
- rule: Python icontains
  desc: case-insensitive
  condition: sf.proc.exe icontains /USR/BIN/PYTHON and sf.proc.args startswith cos-write.py
"#;

fn engine(mode: Mode) -> PolicyEngine {
    let (e, w) = PolicyEngine::from_str("p.yaml", POLICY, LoadOptions { mode, strict: true })
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(w.is_empty(), "{w:?}");
    e
}

fn names(e: &PolicyEngine, m: &Matches) -> Vec<String> {
    m.iter(e).map(|r| r.name.clone()).collect()
}

#[test]
fn verdicts_and_matches_in_declaration_order() {
    let recs = records();
    assert_eq!(recs.len(), 5);
    let e = engine(Mode::Alert);
    let mut m = Matches::new();
    let got: Vec<(Verdict, Vec<String>)> = recs
        .iter()
        .map(|r| (e.process(r, &mut m), names(&e, &m)))
        .collect();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        got[0],
        (
            Verdict::Alert,
            s(&["Interpreter exec", "Child of a shell", "Python icontains"])
        )
    );
    assert_eq!(
        got[1],
        (Verdict::Alert, s(&["Child of a shell", "Passwd read"]))
    );
    // HTTPS: sf.proc.exe equals one of sf.proc.aexe (self included) — a field comparison.
    assert_eq!(
        got[2],
        (
            Verdict::Alert,
            s(&["Child of a shell", "HTTPS", "Python icontains"])
        )
    );
    assert_eq!(got[3], (Verdict::Alert, s(&["Interpreter exec"])));
    assert_eq!(got[4].0, Verdict::Drop);
    let r = &e.rules()[0];
    assert_eq!(
        (r.priority.name(), r.tags.clone()),
        ("warning", vec!["exec".to_string()])
    );
}

#[test]
fn modes_decide_what_goes_on() {
    let recs = records();
    let mut m = Matches::new();
    let a = engine(Mode::Alert);
    let en = engine(Mode::Enrich);
    let f = engine(Mode::Filter);
    assert!(
        !a.forwards(Verdict::Pass) && en.forwards(Verdict::Pass) && !en.forwards(Verdict::Drop)
    );
    assert_eq!(f.process(&recs[0], &mut m), Verdict::Pass);
    assert!(m.is_empty());
    assert_eq!(f.process(&recs[4], &mut m), Verdict::Drop);
}

#[test]
fn exceptions_suppress_matching_tuples() {
    let recs = records();
    let text = POLICY.replace("- [vi, /etc]", "- [cat, /etc]");
    let (e, _) = PolicyEngine::from_str("p.yaml", &text, LoadOptions::default()).unwrap();
    let mut m = Matches::new();
    e.process(&recs[1], &mut m);
    assert_eq!(names(&e, &m), vec!["Child of a shell"]);
}

#[test]
fn batches_on_several_threads_keep_input_order() {
    let recs: Vec<FlatRecord> = records().into_iter().cycle().take(1000).collect();
    let e = engine(Mode::Alert);
    let one = e.process_batch(&recs, 1);
    let four = e.process_batch(&recs, 4);
    assert_eq!(one, four);
    let mut m = Matches::new();
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(e.process(r, &mut m), four.verdicts[i]);
        assert_eq!(m.indices(), four.matches(i));
    }
}
