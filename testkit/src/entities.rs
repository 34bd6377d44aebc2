//! A record stream in which the entities behind the records change between records: the
//! process execs and setuids, its parent execs, the container and the pod are updated, a
//! second header starts a new epoch with the same OIDs and different contents, and records
//! of two processes alternate. It guards the encoders' fragment caches (an entity encoded once
//! must be encoded again when it changes); the tests hold the expected values.
//!
//! Every event and flow is a FileFlow whose `fd` numbers it (1, 2, …), so a test can tell the
//! records apart by `file.fd`.

use sysflow_model::record::*;
use sysflow_model::{OpFlags, OpenFlags};

const T0: i64 = 1_700_000_000_000_000_000;
/// The parent (pid 1).
pub const INIT: Oid = Oid {
    create_ts: T0,
    hpid: 1,
};
/// The process whose records change (pid 100).
pub const SHELL: Oid = Oid {
    create_ts: T0 + 1_000,
    hpid: 100,
};
/// A second process of the same container (pid 200), interleaved with SHELL.
pub const OTHER: Oid = Oid {
    create_ts: T0 + 2_000,
    hpid: 200,
};
/// A process that is never emitted (its records have no process).
pub const GHOST: Oid = Oid {
    create_ts: T0 + 3_000,
    hpid: 300,
};

fn header(exporter: &str) -> SysFlow {
    SysFlow::Header(SfHeader {
        version: 5,
        exporter: exporter.into(),
        ip: "10.0.0.1".into(),
        filename: "/traces/changes.sf".into(),
    })
}

fn pod(restart_count: i64) -> SysFlow {
    SysFlow::Pod(Pod {
        ts: T0,
        id: "pod-1".into(),
        name: "web".into(),
        node_name: "n1".into(),
        host_ip: vec![16777343],
        internal_ip: vec![16777226],
        namespace: "ns".into(),
        restart_count,
        ..Default::default()
    })
}

fn container(name: &str) -> SysFlow {
    SysFlow::Container(Container {
        id: "c1".into(),
        name: name.into(),
        image: "img:1".into(),
        imageid: "sha256:1".into(),
        r#type: ContainerType::Docker,
        privileged: false,
        pod_id: Some("pod-1".into()),
        imagerepo: None,
    })
}

/// A process record: `exe`, `uid` (user name "root" for 0, else "alice").
pub fn process(oid: Oid, poid: Option<Oid>, state: ObjectState, exe: &str, uid: i32) -> SysFlow {
    SysFlow::Process(Process {
        state,
        oid,
        poid,
        ts: oid.create_ts,
        exe: exe.into(),
        exe_args: String::new(),
        uid,
        user_name: if uid == 0 { "root" } else { "alice" }.into(),
        gid: uid,
        group_name: if uid == 0 { "root" } else { "users" }.into(),
        tty: false,
        container_id: Some("c1".into()),
        entry: false,
        cwd: "/".into(),
        env: vec!["A=1".into()],
    })
}

fn file() -> SysFlow {
    SysFlow::File(File {
        state: ObjectState::Created,
        oid: Foid::of("c1", "/etc/hosts"),
        ts: T0,
        restype: 'f' as i32,
        path: "/etc/hosts".into(),
        container_id: Some("c1".into()),
    })
}

/// FileFlow number `fd` of process `oid`.
fn flow(oid: Oid, fd: i32) -> SysFlow {
    let ts = T0 + 10_000 + fd as i64;
    SysFlow::FileFlow(FileFlow {
        proc_oid: oid,
        ts,
        tid: oid.hpid,
        op_flags: OpFlags(OpFlags::OPEN | OpFlags::READ | OpFlags::CLOSE),
        open_flags: OpenFlags(OpenFlags::RDONLY),
        end_ts: ts + 1,
        file_oid: Foid::of("c1", "/etc/hosts"),
        fd,
        num_r_recv_ops: 1,
        num_w_send_ops: 0,
        num_r_recv_bytes: 10,
        num_w_send_bytes: 0,
    })
}

fn event(oid: Oid, flag: u32) -> SysFlow {
    SysFlow::ProcessEvent(ProcessEvent {
        proc_oid: oid,
        ts: T0 + 9_000,
        tid: oid.hpid,
        op_flags: OpFlags(flag),
        args: Vec::new(),
        ret: 0,
    })
}

/// The stream: flows 1–3 before any change (3 is the child, pid 200), 4 and 5 after the
/// shell's EXEC, 6 after its SETUID, 7 after the parent's EXEC, 8 after a container update,
/// 9 after a pod update, 10 of a process never emitted, 11 after a new header re-emitting
/// the same OIDs with other contents. The PE records of the EXEC and SETUID come between
/// (they have no `fd`). What each flow shows: [`expected`].
pub fn stream() -> Vec<SysFlow> {
    use ObjectState::{Created, Modified};
    vec![
        header("node-a"),
        pod(0),
        container("app"),
        file(),
        process(INIT, None, Created, "/sbin/init", 0),
        process(SHELL, Some(INIT), Created, "/bin/sh", 1000),
        process(OTHER, Some(SHELL), Created, "/bin/cat", 1000),
        flow(SHELL, 1),
        flow(SHELL, 2),
        flow(OTHER, 3),
        process(SHELL, Some(INIT), Modified, "/usr/bin/sudo", 1000),
        event(SHELL, OpFlags::EXEC),
        flow(SHELL, 4),
        flow(OTHER, 5),
        process(SHELL, Some(INIT), Modified, "/usr/bin/sudo", 0),
        event(SHELL, OpFlags::SETUID),
        flow(SHELL, 6),
        process(INIT, None, Modified, "/lib/systemd/systemd", 0),
        flow(SHELL, 7),
        container("app-v2"),
        flow(SHELL, 8),
        pod(1),
        flow(SHELL, 9),
        flow(GHOST, 10),
        header("node-b"),
        pod(0),
        container("app-b"),
        file(),
        process(INIT, None, Created, "/sbin/init", 0),
        process(SHELL, Some(INIT), Created, "/bin/zsh", 1000),
        flow(SHELL, 11),
    ]
}

/// What a flow of [`stream`] should show; `None` where the entity is absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub fd: i32,
    pub node: &'static str,
    pub pid: i64,
    /// The process's exe and uid.
    pub proc: Option<(&'static str, i32)>,
    /// The parent's exe.
    pub parent: Option<&'static str>,
    pub container: Option<&'static str>,
    pub pod_restarts: Option<i64>,
}

/// The table of [`stream`]'s docs: fd, node.id, pid, exe, uid, parent exe, container name,
/// pod restart count ("-": absent).
const TABLE: &str = "
1  node-a 100 /bin/sh       1000 /sbin/init           app    0
2  node-a 100 /bin/sh       1000 /sbin/init           app    0
3  node-a 200 /bin/cat      1000 /bin/sh              app    0
4  node-a 100 /usr/bin/sudo 1000 /sbin/init           app    0
5  node-a 200 /bin/cat      1000 /usr/bin/sudo        app    0
6  node-a 100 /usr/bin/sudo 0    /sbin/init           app    0
7  node-a 100 /usr/bin/sudo 0    /lib/systemd/systemd app    0
8  node-a 100 /usr/bin/sudo 0    /lib/systemd/systemd app-v2 0
9  node-a 100 /usr/bin/sudo 0    /lib/systemd/systemd app-v2 1
10 node-a 300 -             -    -                    -      -
11 node-b 100 /bin/zsh      1000 /sbin/init           app-b  0
";

/// The expected values of each flow of [`stream`], in stream order.
pub fn expected() -> Vec<Expected> {
    let opt = |s: &'static str| (s != "-").then_some(s);
    TABLE
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&'static str> = l.split_whitespace().collect();
            let num = |s: &str| s.parse::<i64>().expect("a number in the table");
            Expected {
                fd: num(c[0]) as i32,
                node: c[1],
                pid: num(c[2]),
                proc: opt(c[3]).map(|exe| (exe, num(c[4]) as i32)),
                parent: opt(c[5]),
                container: opt(c[6]),
                pod_restarts: opt(c[7]).map(num),
            }
        })
        .collect()
}

/// Checks the FileFlows among sf-processor JSON documents (the exporter's `format: json`,
/// nested or `flat`) of [`stream`] against [`expected`]: node, process, ancestry, parent,
/// container and pod as they are at each record. Panics naming the flow that differs.
pub fn check_sf_json(docs: &[serde_json::Value], flat: bool) {
    use serde_json::{json, Value};
    let expected = expected();
    let mut checked = 0;
    for v in docs {
        let get = |sec: &str, k: &str| -> Value {
            if flat {
                v[format!("sf.{sec}.{k}")].clone()
            } else {
                v[sec][k].clone()
            }
        };
        let ty = if flat { &v["sf.type"] } else { &v["type"] };
        if ty != "FF" {
            continue;
        }
        let fd = get("file", "fd").as_i64().expect("file.fd") as i32;
        let e = expected
            .iter()
            .find(|e| e.fd == fd)
            .expect("an expected flow");
        assert_eq!(get("node", "id"), e.node, "fd {fd}");
        assert_eq!(get("proc", "pid"), e.pid, "fd {fd}");
        assert_eq!(get("proc", "exe"), e.proc.map_or("", |p| p.0), "fd {fd}");
        assert_eq!(get("proc", "uid"), e.proc.map_or(0, |p| p.1), "fd {fd}");
        let user = match e.proc {
            None => "",
            Some((_, 0)) => "root",
            _ => "alice",
        };
        assert_eq!(get("proc", "user"), user, "fd {fd}");
        match e.proc {
            Some((exe, _)) => {
                let aexe = get("proc", "aexe");
                assert_eq!(aexe[0], exe, "fd {fd}");
                assert_eq!(aexe[1], e.parent.unwrap_or(""), "fd {fd}");
            }
            None => assert_eq!(get("proc", "aexe"), json!([]), "fd {fd}"),
        }
        // Nested documents leave out the sections of absent entities.
        if flat || e.parent.is_some() {
            assert_eq!(get("pproc", "exe"), e.parent.unwrap_or(""), "fd {fd}");
        }
        if flat || e.container.is_some() {
            assert_eq!(
                get("container", "name"),
                e.container.unwrap_or(""),
                "fd {fd}"
            );
            assert_eq!(
                get("pod", "restartcnt"),
                e.pod_restarts.unwrap_or(0),
                "fd {fd}"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, expected.len(), "flows checked");
}

/// An entity of a flat record, for [`sharing`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shared {
    Proc,
    PProc,
    Ancestry,
    Container,
    Pod,
    Header,
}

/// A flat FileFlow whose every value (record, process, parent, ancestry, file, container,
/// pod, header) differs with `n`, joined as the flattener joins.
pub fn distinct(n: i64) -> sysflow_model::flat::FlatRecord {
    use std::sync::Arc;
    let oid = Oid {
        create_ts: T0 + n,
        hpid: n,
    };
    let poid = Oid {
        create_ts: T0 + 1000 + n,
        hpid: 1000 + n,
    };
    let p = |oid: Oid, poid: Option<Oid>, exe: String| Process {
        state: if n % 2 == 0 {
            ObjectState::Created
        } else {
            ObjectState::Modified
        },
        oid,
        poid,
        ts: oid.create_ts,
        exe,
        exe_args: format!("-n {n}"),
        uid: n as i32,
        user_name: format!("u{n}"),
        gid: n as i32 + 1,
        group_name: format!("g{n}"),
        tty: n % 2 == 0,
        container_id: Some(format!("c{n}")),
        entry: n % 2 == 1,
        cwd: format!("/w{n}"),
        env: vec![format!("N={n}")],
    };
    let proc = Arc::new(p(oid, Some(poid), format!("/bin/p{n}")));
    let pproc = Arc::new(p(poid, None, format!("/bin/pp{n}")));
    // The collector's socket form, so that the symlink part differs too.
    let path = format!("{n:x}->{:x} /d{n}/f{n}", n + 16);
    let file = Arc::new(File {
        state: ObjectState::Created,
        oid: Foid::of(&format!("c{n}"), &path),
        ts: T0,
        restype: if n % 2 == 0 { 'f' } else { 'd' } as i32,
        path,
        container_id: Some(format!("c{n}")),
    });
    sysflow_model::flat::FlatRecord {
        index: n as u64,
        rec: SysFlow::FileFlow(FileFlow {
            proc_oid: oid,
            ts: T0 + 10 * n,
            tid: n + 7,
            op_flags: OpFlags(if n % 2 == 0 {
                OpFlags::READ
            } else {
                OpFlags::WRITE
            }),
            open_flags: OpenFlags(n as u32 % 2),
            end_ts: T0 + 11 * n,
            file_oid: file.oid,
            fd: n as i32,
            num_r_recv_ops: n,
            num_w_send_ops: n + 1,
            num_r_recv_bytes: n + 2,
            num_w_send_bytes: n + 3,
        }),
        header: Some(Arc::new(SfHeader {
            version: 4 + n % 2,
            exporter: format!("node{n}"),
            ip: format!("10.0.0.{n}"),
            filename: format!("/t/{n}.sf"),
        })),
        ancestry: Arc::from(vec![proc.clone(), pproc.clone()]),
        proc: Some(proc),
        pproc: Some(pproc),
        file: Some(file),
        newfile: None,
        container: Some(Arc::new(Container {
            id: format!("c{n}"),
            name: format!("name{n}"),
            image: format!("img{n}"),
            imageid: format!("sha{n}"),
            r#type: if n % 2 == 0 {
                ContainerType::Docker
            } else {
                ContainerType::Crio
            },
            privileged: n % 2 == 0,
            pod_id: Some(format!("pod{n}")),
            imagerepo: None,
        })),
        pod: Some(Arc::new(Pod {
            ts: T0 + n,
            id: format!("pod{n}"),
            name: format!("web{n}"),
            node_name: format!("n{n}"),
            host_ip: vec![n],
            internal_ip: vec![n + 1],
            namespace: format!("ns{n}"),
            restart_count: n,
            labels: Vec::new(),
            selectors: Vec::new(),
            services: vec![Service {
                name: format!("s{n}"),
                id: format!("sid{n}"),
                namespace: format!("ns{n}"),
                port_list: vec![Port {
                    port: n as i32,
                    target_port: n as i32 + 1,
                    node_port: n as i32 + 2,
                    proto: "TCP".into(),
                }],
                cluster_ip: vec![n],
            }],
        })),
    }
}

/// [`distinct`] as a FileEvent (RENAME) with a new file.
pub fn distinct_rename(n: i64) -> sysflow_model::flat::FlatRecord {
    let mut r = distinct(n);
    let path = format!("{n:x}->{:x} /e{n}/g{n}", n + 32);
    let newfile = std::sync::Arc::new(File {
        state: ObjectState::Created,
        oid: Foid::of(&format!("c{n}"), &path),
        ts: T0,
        restype: if n % 2 == 0 { 'd' } else { 'f' } as i32,
        path,
        container_id: Some(format!("c{n}")),
    });
    if let SysFlow::FileFlow(f) = &r.rec {
        r.rec = SysFlow::FileEvent(FileEvent {
            proc_oid: f.proc_oid,
            ts: f.ts,
            tid: f.tid,
            op_flags: OpFlags(OpFlags::RENAME),
            file_oid: f.file_oid,
            ret: n as i32,
            new_file_oid: Some(newfile.oid),
        });
    }
    r.newfile = Some(newfile);
    r
}

/// `other` with one entity of `base` in its place (the same `Arc`), joined as the flattener
/// joins (the record's process OID, the process's parent OID follow).
pub fn sharing(
    base: &sysflow_model::flat::FlatRecord,
    other: &sysflow_model::flat::FlatRecord,
    what: Shared,
) -> sysflow_model::flat::FlatRecord {
    use std::sync::Arc;
    let mut r = other.clone();
    match what {
        Shared::Proc => {
            r.proc = base.proc.clone();
            if let Some(p) = &base.proc {
                match &mut r.rec {
                    SysFlow::FileFlow(x) => x.proc_oid = p.oid,
                    SysFlow::FileEvent(x) => x.proc_oid = p.oid,
                    _ => {}
                }
            }
        }
        Shared::PProc => {
            r.pproc = base.pproc.clone();
            if let (Some(p), Some(pp)) = (&r.proc, &base.pproc) {
                let mut p = (**p).clone();
                p.poid = Some(pp.oid);
                r.proc = Some(Arc::new(p));
            }
        }
        Shared::Ancestry => r.ancestry = base.ancestry.clone(),
        Shared::Container => r.container = base.container.clone(),
        Shared::Pod => r.pod = base.pod.clone(),
        Shared::Header => r.header = base.header.clone(),
    }
    r
}
