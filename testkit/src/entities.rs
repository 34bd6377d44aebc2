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
