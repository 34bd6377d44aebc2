//! The Falco dialect: a file that declares Falco's engine version reads Falco's fields with
//! Falco's meaning (expected values worked out by hand from the records below and Falco's
//! field reference), `pmatch` is a path-prefix match there and a substring match in SysFlow
//! files, and Falco's output templates render.

use sysflow_model::flat::FlatRecord;
use sysflow_model::tables::{Flattener, TableConfig};
use sysflow_model::*;
use sysflow_policy::falco::output::Template;
use sysflow_policy::{DiagKind, LoadOptions, Matches, PolicyEngine};

fn oid(hpid: i64) -> Oid {
    Oid {
        create_ts: hpid * 1_000,
        hpid,
    }
}

/// [0] a FileFlow: `/usr/bin/python3` (tty, uid 0, in container c1 of image
/// `registry:5000/team/app:v2`, parent bash, grandparent sshd) opens /etc/shadow
/// O_RDWR|O_CREAT|O_TRUNC at ts 9000 on fd 5.
/// [1] a NetworkFlow of the same process, 10.0.0.5:40000 → 192.168.1.9:443 TCP, connect.
/// [2] the same flow accepted (the process is the server).
/// [3] a host process (no container) failing an unlink with ENOENT.
fn records() -> Vec<FlatRecord> {
    let mut fl = Flattener::new(TableConfig::default());
    let proc_ = |h: i64, parent: Option<i64>, exe: &str, c: Option<&str>| {
        SysFlow::Process(Process {
            oid: oid(h),
            poid: parent.map(oid),
            exe: exe.into(),
            exe_args: "-c x".into(),
            tty: h == 3,
            container_id: c.map(Into::into),
            ..Process::default()
        })
    };
    let shadow = File {
        oid: Foid::of("c1", "/etc/shadow"),
        restype: 'f' as i32,
        path: "/etc/shadow".into(),
        ..File::default()
    };
    let tmp = File {
        oid: Foid::of("", "/tmp/x"),
        restype: 'f' as i32,
        path: "/tmp/x".into(),
        ..File::default()
    };
    let flow = |ops: u32| NetworkFlow {
        proc_oid: oid(3),
        ts: 9_500,
        op_flags: OpFlags(ops),
        sip: i32::from_le_bytes([10, 0, 0, 5]),
        sport: 40000,
        dip: i32::from_le_bytes([192, 168, 1, 9]),
        dport: 443,
        proto: 6,
        fd: 7,
        ..NetworkFlow::default()
    };
    let input = vec![
        SysFlow::Container(Container {
            id: "c1".into(),
            name: "app".into(),
            image: "registry:5000/team/app:v2".into(),
            ..Container::default()
        }),
        proc_(1, None, "/usr/sbin/sshd", Some("c1")),
        proc_(2, Some(1), "/bin/bash", Some("c1")),
        proc_(3, Some(2), "/usr/bin/python3", Some("c1")),
        proc_(4, None, "/usr/bin/rm", None),
        SysFlow::File(shadow.clone()),
        SysFlow::File(tmp.clone()),
        SysFlow::FileFlow(FileFlow {
            proc_oid: oid(3),
            ts: 9_000,
            op_flags: OpFlags(OpFlags::OPEN | OpFlags::WRITE),
            open_flags: OpenFlags(OpenFlags::RDWR | OpenFlags::CREAT | OpenFlags::TRUNC),
            file_oid: shadow.oid,
            fd: 5,
            ..FileFlow::default()
        }),
        SysFlow::NetworkFlow(flow(OpFlags::CONNECT | OpFlags::WRITE)),
        SysFlow::NetworkFlow(flow(OpFlags::ACCEPT | OpFlags::READ)),
        SysFlow::FileEvent(FileEvent {
            proc_oid: oid(4),
            ts: 9_900,
            op_flags: OpFlags(OpFlags::UNLINK),
            file_oid: tmp.oid,
            ret: -2,
            ..FileEvent::default()
        }),
    ];
    input.into_iter().filter_map(|r| fl.push(r)).collect()
}

const FALCO: &str = "- required_engine_version: 0.31.0\n";

fn engine(header: &str, cond: &str) -> PolicyEngine {
    let text = format!(
        "{header}- rule: r\n  desc: d\n  condition: {cond}\n  output: o\n  priority: WARNING\n"
    );
    let (e, w) = PolicyEngine::from_str("t.yaml", &text, LoadOptions::default())
        .unwrap_or_else(|e| panic!("{cond}: {e}"));
    assert_eq!(e.rules().len(), 1, "{cond} skipped: {w:?}");
    e
}

/// Which of the records the condition matches, in a Falco file.
fn hits(cond: &str) -> Vec<usize> {
    hits_in(FALCO, cond)
}

fn hits_in(header: &str, cond: &str) -> Vec<usize> {
    let e = engine(header, cond);
    let mut m = Matches::new();
    records()
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            e.process(r, &mut m);
            !m.is_empty()
        })
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn falco_fields_read_what_the_records_hold() {
    let cases: &[(&str, &[usize])] = &[
        // Positions count every record from 0 (entities too): the FileFlow is the 8th.
        ("evt.num = 8", &[0]),
        ("evt.num = 0", &[]),
        ("evt.res = SUCCESS", &[0, 1, 2]),
        ("evt.res = ENOENT", &[3]),
        ("evt.rawres = -2", &[3]),
        ("proc.duration = 6000", &[0]),
        ("proc.duration > 6000", &[1, 2]),
        ("proc.ppid.duration = 7000", &[0]),
        ("proc.tty != 0", &[0, 1, 2]),
        ("proc.exepath = /usr/bin/python3", &[0, 1, 2]),
        ("proc.pexepath = /bin/bash", &[0, 1, 2]),
        ("proc.aname = sshd", &[0, 1, 2]),
        // Falco's proc.aname without an index: ancestors only, not the process itself.
        ("proc.aname = python3", &[]),
        ("proc.aname[0] = python3", &[0, 1, 2]),
        ("proc.aname[2] = sshd", &[0, 1, 2]),
        ("proc.aexe[1] = /bin/bash", &[0, 1, 2]),
        ("proc.aexepath[2] = /usr/sbin/sshd", &[0, 1, 2]),
        ("user.uid = 0", &[0, 1, 2, 3]),
        ("group.gid = 0", &[0, 1, 2, 3]),
        ("fd.type = file", &[0, 3]),
        ("fd.type = ipv4", &[1, 2]),
        ("fd.typechar = 4", &[1, 2]),
        ("fd.typechar = f", &[0, 3]),
        ("fd.sockfamily = ip", &[1, 2]),
        ("fd.connected = true", &[1, 2]),
        ("fd.name_changed = false", &[0, 1, 2]),
        ("fd.l4proto = tcp", &[1, 2]),
        ("fd.num = 5", &[0]),
        // Falco's fd.sip/fd.sport are the server's; fd.cip/fd.cport the client's.
        ("fd.sip = 192.168.1.9", &[1, 2]),
        ("fd.sport = 443", &[1, 2]),
        ("fd.cip = 10.0.0.5", &[1, 2]),
        ("fd.cport = 40000", &[1, 2]),
        // Local and remote ends: the client connected ([1]), the server accepted ([2]).
        ("fd.lport = 40000", &[1]),
        ("fd.rport = 443", &[1]),
        ("fd.lport = 443", &[2]),
        ("fd.rip = 10.0.0.5", &[2]),
        ("fd.lnet = 10.0.0.0/8", &[1]),
        ("fd.rnet = 10.0.0.0/8", &[2]),
        ("fd.snet = 192.168.0.0/16", &[1, 2]),
        ("fd.net = 10.0.0.0/24", &[1, 2]),
        ("evt.arg.flags contains O_TRUNC", &[0]),
        ("evt.arg.flags = O_RDWR|O_CREAT|O_TRUNC", &[0]),
        ("evt.arg.path = /tmp/x", &[3]),
        ("evt.is_open_write = true", &[0]),
        ("container.id = c1", &[0, 1, 2]),
        ("container.id = host", &[3]),
        ("container.name = host", &[3]),
        (
            "container.image.repository = registry:5000/team/app",
            &[0, 1, 2],
        ),
        ("container.image.tag = v2", &[0, 1, 2]),
        ("evt.type in (open, openat)", &[0]),
        ("evt.type = connect", &[1]),
        ("evt.type = unlink", &[3]),
        // Syscalls SysFlow does not report match nothing (and leave the rest a bit test).
        ("evt.type in (listen, connect)", &[1]),
        ("evt.type != listen", &[0, 1, 2, 3]),
        ("evt.dir = <", &[0, 1, 2, 3]),
    ];
    let mut bad = Vec::new();
    for (cond, want) in cases {
        let got = hits(cond);
        if got != *want {
            bad.push(format!("{cond}: got {got:?}, want {want:?}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// [0] EXEC of a file created by memfd_create (`/memfd:program`, as the eBPF collector and
/// the kernel's `d_path` name it), [1] EXEC of `/usr/bin/true`, [2] a FileFlow of the
/// latter that entered a namespace (OPEN|SETNS|CLOSE on /proc/self/ns/net, read-only).
fn exec_records() -> Vec<FlatRecord> {
    let mut fl = Flattener::new(TableConfig::default());
    let ns = File {
        oid: Foid::of("", "/proc/self/ns/net"),
        restype: 'f' as i32,
        path: "/proc/self/ns/net".into(),
        ..File::default()
    };
    let exec = |h: i64| {
        SysFlow::ProcessEvent(ProcessEvent {
            proc_oid: oid(h),
            ts: h * 1_000 + 10,
            tid: h,
            op_flags: OpFlags(OpFlags::EXEC),
            ..ProcessEvent::default()
        })
    };
    let input = vec![
        SysFlow::Process(Process {
            oid: oid(1),
            exe: "/memfd:program".into(),
            ..Process::default()
        }),
        SysFlow::Process(Process {
            oid: oid(2),
            exe: "/usr/bin/true".into(),
            ..Process::default()
        }),
        SysFlow::File(ns.clone()),
        exec(1),
        exec(2),
        SysFlow::FileFlow(FileFlow {
            proc_oid: oid(2),
            ts: 2_020,
            op_flags: OpFlags(OpFlags::OPEN | OpFlags::SETNS | OpFlags::CLOSE),
            open_flags: OpenFlags(OpenFlags::RDONLY),
            file_oid: ns.oid,
            fd: 3,
            ..FileFlow::default()
        }),
    ];
    input.into_iter().filter_map(|r| fl.push(r)).collect()
}

#[test]
fn memfd_executions_and_namespace_changes_match_falcos_fields() {
    let records = exec_records();
    for (cond, want) in [
        ("spawned_process and proc.is_exe_from_memfd=true", &[0][..]),
        ("spawned_process and proc.is_exe_from_memfd=false", &[1]),
        ("evt.type=setns", &[2]),
        ("evt.type=setns and fd.name startswith /proc/", &[2]),
    ] {
        let header = format!(
            "{FALCO}- macro: spawned_process\n  condition: evt.type in (execve, execveat)\n"
        );
        let e = engine(&header, cond);
        let mut m = Matches::new();
        let got: Vec<usize> = records
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                e.process(r, &mut m);
                !m.is_empty()
            })
            .map(|(i, _)| i)
            .collect();
        assert_eq!(got, want, "{cond}");
    }
}

#[test]
fn pmatch_is_a_path_prefix_in_falco_files_and_a_substring_in_sysflow_files() {
    assert_eq!(hits("fd.name pmatch (/etc, /usr)"), [0]);
    assert_eq!(hits("fd.name pmatch (/et)"), Vec::<usize>::new());
    assert_eq!(hits("fd.name pmatch (/etc/shadow)"), [0]);
    assert_eq!(hits_in("", "fd.name pmatch (/et)"), [0]);
    assert_eq!(hits_in("", "sf.file.path pmatch (shad)"), [0]);
}

#[test]
fn sysflow_files_keep_the_original_aliases() {
    // Without Falco's engine version the catalogue's aliases apply: fd.sip is SysFlow's
    // source address, proc.aname includes the process itself.
    assert_eq!(hits_in("", "fd.sip = 10.0.0.5"), [1, 2]);
    assert_eq!(hits_in("", "proc.aname = python3"), [0, 1, 2]);
    // Falco-only derived fields are not in the catalogue: the rule is skipped.
    let text = "- rule: r\n  desc: d\n  condition: evt.num = 0\n  priority: low\n";
    let (e, w) = PolicyEngine::from_str("t.yaml", text, LoadOptions::default()).unwrap();
    assert_eq!(e.rules().len(), 0);
    assert!(w.iter().any(|d| d.kind == DiagKind::UnsupportedField));
}

#[test]
fn fields_sysflow_lacks_skip_the_rule_with_the_reason() {
    for (cond, reason) in [
        ("user.loginuid = 0", "login uid"),
        ("thread.cap_effective contains CAP_SYS_ADMIN", "capability"),
        ("evt.buffer bcontains cafebabe", "data buffers"),
        ("fd.sip.name = x", "DNS"),
        (
            "evt.arg.request contains PTRACE_ATTACH",
            "syscall arguments",
        ),
    ] {
        let text = format!("{FALCO}- rule: r\n  desc: d\n  condition: {cond}\n  priority: low\n");
        let (e, w) = PolicyEngine::from_str("t.yaml", &text, LoadOptions::default())
            .unwrap_or_else(|e| panic!("{cond}: {e}"));
        assert_eq!(e.rules().len(), 0, "{cond}");
        let d = w.iter().find(|d| d.kind == DiagKind::UnsupportedField);
        let help = d.and_then(|d| d.help.clone()).unwrap_or_default();
        assert!(help.contains(reason), "{cond}: {help}");
    }
}

#[test]
fn output_templates_render_falco_fields() {
    let recs = records();
    let t = Template::compile(
        "Sensitive file opened (file=%fd.name flags=%evt.arg.flags user=%user.uid \
         proc=%proc.name gparent=%proc.aname[2] image=%container.image.repository \
         login=%user.loginuid unknown=%not.a.field %%)",
        true,
    );
    let mut out = String::new();
    t.render(&recs[0], &mut out);
    assert_eq!(
        out,
        "Sensitive file opened (file=/etc/shadow flags=O_RDWR|O_CREAT|O_TRUNC user=0 \
         proc=python3 gparent=sshd image=registry:5000/team/app login=<NA> \
         unknown=<NA> %)"
    );
    let fields: Vec<(&str, String)> = t
        .fields(&recs[0])
        .map(|(k, v)| (k, v.map_or_else(|| "null".into(), |v| v.text)))
        .collect();
    assert_eq!(fields[0], ("fd.name", "/etc/shadow".to_string()));
    assert!(fields.contains(&("user.loginuid", "null".to_string())));
    let uid = t.fields(&recs[0]).find(|(k, _)| *k == "user.uid");
    assert!(uid
        .and_then(|(_, v)| v)
        .is_some_and(|v| v.number && v.text == "0"));
    // A network record's fd.name is Falco's tuple.
    let t = Template::compile("c=%fd.name", true);
    out.clear();
    t.render(&recs[1], &mut out);
    assert_eq!(out, "c=10.0.0.5:40000->192.168.1.9:443");
}

/// Falco's three rule files, unchanged, load; most of their rules are active and each
/// skipped one is named with the field SysFlow lacks (`sensor policy check` prints these).
#[test]
fn falco_rule_files_load_with_their_rules_active() {
    let Some(shared) = testkit::locate::shared_dir() else {
        return;
    };
    // (file, rules, of which active at least): the counts of this branch, so that a
    // regression in the field table shows.
    for (file, total, active) in [
        ("falco_rules.yaml", 25, 15),
        ("falco-incubating_rules.yaml", 31, 25),
        ("falco-sandbox_rules.yaml", 37, 19),
    ] {
        let p = shared.join("rulesets/falco").join(file);
        let (e, _) = PolicyEngine::load_with(&p, LoadOptions::default())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let s = e.summary();
        assert_eq!(
            s.rules + s.disabled_rules + s.skipped_rules,
            total,
            "{file}"
        );
        assert!(s.rules >= active, "{file}: {} active", s.rules);
        assert_eq!(s.skipped.len(), s.skipped_rules, "{file}");
        for (rule, why) in &s.skipped {
            assert!(
                why.contains("field '") || why.contains("holds for no SysFlow record"),
                "{file}: {rule}: {why}"
            );
        }
    }
    // The three together, as Falco loads them.
    let (e, _) = PolicyEngine::load_with(&shared.join("rulesets/falco"), LoadOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(e.rules().len() >= 59, "{}", e.rules().len());
    assert!(e.rules().iter().all(|r| r.falco && r.template.is_some()));
}
