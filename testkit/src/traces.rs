//! Generated SysFlow traces and rule files for the reliability tests and the fuzz seed
//! corpora (`cargo xtask fuzz`). Every record type appears, with strings, arrays, maps and
//! optional values, so that flips and cuts reach every decoder path.

use sysflow_model::avro::{Codec, Writer};
use sysflow_model::record::*;
use sysflow_model::{OpFlags, OpenFlags};

const T0: i64 = 1_600_000_000_000_000_000;
const BASH: Oid = Oid {
    create_ts: T0,
    hpid: 7130,
};
const CLIENT: Oid = Oid {
    create_ts: T0 + 5,
    hpid: 13824,
};
const LOCALHOST: i32 = 16777343;

fn process(oid: Oid, poid: Option<Oid>, exe: &str, args: &str) -> Process {
    Process {
        state: ObjectState::Created,
        oid,
        poid,
        ts: oid.create_ts,
        exe: exe.into(),
        exe_args: args.into(),
        uid: 1000,
        user_name: "alice".into(),
        gid: 1000,
        group_name: "users".into(),
        tty: true,
        container_id: Some("c1".into()),
        entry: false,
        cwd: "/home/alice".into(),
        env: vec!["A=1".into(), "LD_PRELOAD=/x.so".into()],
    }
}

fn file(path: &str, restype: char) -> File {
    File {
        state: ObjectState::Created,
        oid: Foid::of("c1", path),
        ts: T0 + 20,
        restype: restype as i32,
        path: path.into(),
        container_id: Some("c1".into()),
    }
}

/// Entities: header, pod, container, two processes, two files.
pub fn entities() -> Vec<SysFlow> {
    vec![
        SysFlow::Header(SfHeader {
            version: 5,
            exporter: "reliability".into(),
            ip: "10.0.0.1".into(),
            filename: "/traces/gen.sf".into(),
        }),
        SysFlow::Pod(Pod {
            ts: T0,
            id: "pod-1".into(),
            name: "web".into(),
            node_name: "n1".into(),
            host_ip: vec![LOCALHOST as i64],
            internal_ip: vec![1, 2],
            namespace: "ns".into(),
            restart_count: 2,
            labels: vec![("app".into(), "web".into())],
            selectors: vec![("tier".into(), "fe".into())],
            services: vec![Service {
                name: "svc".into(),
                id: "s1".into(),
                namespace: "ns".into(),
                port_list: vec![Port {
                    port: 80,
                    target_port: 8080,
                    node_port: 30080,
                    proto: "TCP".into(),
                }],
                cluster_ip: vec![167772161],
            }],
        }),
        SysFlow::Container(Container {
            id: "c1".into(),
            name: "cont".into(),
            image: "nginx:1".into(),
            imageid: "sha256:abc".into(),
            r#type: ContainerType::Crio,
            privileged: true,
            pod_id: Some("pod-1".into()),
            imagerepo: None,
        }),
        SysFlow::Process(process(BASH, None, "/bin/bash", "-l")),
        SysFlow::Process(process(CLIENT, Some(BASH), "/usr/bin/curl", "-s http://x")),
        SysFlow::File(file("/etc/passwd", 'f')),
        SysFlow::File(file("/tmp/new", 'f')),
    ]
}

/// The `i`-th event or flow (cycling through every type), all of process CLIENT.
pub fn event(i: i64) -> SysFlow {
    let ts = T0 + 100 + i;
    let passwd = Foid::of("c1", "/etc/passwd");
    match i % 7 {
        0 => SysFlow::ProcessEvent(ProcessEvent {
            proc_oid: CLIENT,
            ts,
            tid: 13825,
            op_flags: OpFlags(OpFlags::EXEC),
            args: vec!["-s".into(), format!("arg{i}")],
            ret: 0,
        }),
        1 => SysFlow::FileFlow(FileFlow {
            proc_oid: CLIENT,
            ts,
            tid: 13824,
            op_flags: OpFlags(OpFlags::OPEN | OpFlags::READ | OpFlags::CLOSE),
            open_flags: OpenFlags(OpenFlags::RDONLY),
            end_ts: ts + 10,
            file_oid: passwd,
            fd: 3,
            num_r_recv_ops: 2,
            num_w_send_ops: 0,
            num_r_recv_bytes: 80,
            num_w_send_bytes: 0,
        }),
        2 => SysFlow::FileEvent(FileEvent {
            proc_oid: CLIENT,
            ts,
            tid: 13824,
            op_flags: OpFlags(OpFlags::RENAME),
            file_oid: passwd,
            ret: 0,
            new_file_oid: Some(Foid::of("c1", "/tmp/new")),
        }),
        3 => SysFlow::NetworkFlow(NetworkFlow {
            proc_oid: CLIENT,
            ts,
            tid: 13824,
            op_flags: OpFlags(OpFlags::CONNECT | OpFlags::WRITE),
            end_ts: ts + 5,
            sip: LOCALHOST,
            sport: 40556,
            dip: LOCALHOST,
            dport: 8080,
            proto: 6,
            fd: 5,
            num_r_recv_ops: 1,
            num_w_send_ops: 3,
            num_r_recv_bytes: 80,
            num_w_send_bytes: 90,
        }),
        4 => SysFlow::NetworkEvent(NetworkEvent {
            proc_oid: CLIENT,
            ts,
            tid: 13824,
            op_flags: OpFlags(OpFlags::CONNECT),
            sip: LOCALHOST,
            sport: 1,
            dip: 0,
            dport: 2,
            proto: 17,
            ret: -111,
        }),
        5 => SysFlow::ProcessFlow(ProcessFlow {
            proc_oid: CLIENT,
            ts,
            num_threads_cloned: 3,
            op_flags: OpFlags(OpFlags::CLONE),
            end_ts: ts + 50,
            num_threads_exited: 1,
            num_clone_errors: 0,
        }),
        _ => SysFlow::K8sEvent(K8sEvent {
            kind: K8sComponent::Pods,
            action: K8sAction::Added,
            ts,
            message: r#"{"type":"ADDED","items":[{"name":"web-1"}]}"#.into(),
        }),
    }
}

/// Entities then `events` events, in blocks of `per_block` records (block boundaries from
/// explicit flushes, so the first block is small and every byte of it is cheap to sweep).
pub fn records(events: i64) -> Vec<SysFlow> {
    let mut v = entities();
    v.extend((0..events).map(event));
    v
}

/// An Avro container of `recs` with `codec`, a block every `per_block` records.
pub fn trace(codec: Codec, recs: &[SysFlow], per_block: usize) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), codec).expect("writer on a Vec");
    for (i, r) in recs.iter().enumerate() {
        w.write(r).expect("write to a Vec");
        if (i + 1) % per_block.max(1) == 0 {
            w.flush().expect("flush to a Vec");
        }
    }
    w.finish().expect("finish to a Vec")
}

/// Policy texts in the Falco dialect for the policy fuzz seeds: lists, macros, rules with
/// every operator family, append/override, exceptions-ish shapes, tags and priorities.
pub fn policies() -> Vec<(&'static str, String)> {
    vec![
        (
            "basic.yaml",
            r#"- list: shells
  items: [bash, sh, zsh, "dash"]
- macro: spawned_shell
  condition: sf.opflags = EXEC and sf.proc.name in (shells)
- rule: Shell spawned
  desc: a shell was started
  condition: spawned_shell and not sf.proc.exe startswith /usr/local
  output: "shell %sf.proc.name by %sf.proc.user (%sf.proc.cmdline)"
  priority: WARNING
  tags: [process, mitre_execution]
"#
            .into(),
        ),
        (
            "ops.yaml",
            r#"- rule: Many ops
  desc: operators
  condition: >
    (sf.type in (FF, FE) and sf.file.path pmatch (/etc, /root))
    or (sf.net.dport >= 1024 and sf.net.dport < 65535 and sf.net.proto = 6)
    or sf.proc.cmdline contains "curl" or sf.proc.args icontains "-S"
    or sf.file.name endswith .so or sf.proc.exe glob "/usr/*/python*"
    or exists sf.container.id or sf.proc.uid != 0
    or sf.pproc.name in (sshd, "login") and sf.ret < 0
  action: [alert]
  priority: high
- filter: noise
  condition: sf.proc.name = cron
"#
            .into(),
        ),
        (
            "append.yaml",
            r#"- list: bins
  items: [ls]
- list: bins
  append: true
  items: [cat]
- macro: m
  condition: sf.proc.name in (bins)
- macro: m
  append: true
  condition: or sf.proc.name = vi
- rule: R
  desc: d
  condition: m
  output: out
  priority: info
  enabled: false
- rule: R
  enabled: true
"#
            .into(),
        ),
    ]
}

/// Bare conditions for the expression-parser fuzz seeds.
pub fn conditions() -> Vec<&'static str> {
    vec![
        "sf.opflags = EXEC and sf.proc.name in (bash, sh)",
        "not (sf.file.path startswith /etc or sf.file.path endswith .conf)",
        "sf.net.dport in (22, 80, 443) and sf.net.sip != 127.0.0.1",
        "sf.proc.cmdline contains \"a \\\"b\\\"\" and sf.proc.tty = true",
        "exists sf.container.id and sf.container.privileged = true",
        "sf.proc.aname[2] = bash or sf.pproc.exe pmatch (/bin, /usr/bin)",
        "((((sf.ret < 0))))",
        "sf.file.name glob '*.sh' and sf.proc.args icontains -c",
    ]
}

/// sysprint `-f` queries (sfql names) for the sfql fuzz seeds.
pub fn sfql_queries() -> Vec<&'static str> {
    vec![
        "type = PE and opflags = EXEC and proc.exe = /bin/bash",
        "sf.type in (FF, NF) and not file.path startswith /proc",
        "net.dport = 443 or net.sport > 1024 and proc.args contains -c",
        "proc.aname contains bash and container.id exists",
        "pproc.exe pmatch (/usr/bin, /bin) and ret != 0",
        "pf.nthreads > 1 or pf.nexits >= 1",
    ]
}

/// pipeline.json texts for the config fuzz seeds: both key generations, drivers, every
/// exporter kind, a fan-out.
pub fn pipelines() -> Vec<&'static str> {
    vec![
        r#"{"pipeline":[
  {"processor":"sysflowreader","handler":"flattener","in":"sysflow sysflowchan","out":"flat flattenerchan"},
  {"processor":"policyengine","in":"flat flattenerchan","out":"evt eventchan","policies":"/etc/sysflow/policies","mode":"alert","monitor":"local"},
  {"processor":"exporter","in":"evt eventchan","export":"syslog","proto":"tcp","tag":"sysflow","host":"localhost","port":"514","format":"json"}]}"#,
        r#"{"drivers":[{"driver":"socket","path":"/sock/sysflow.sock"}],"pipeline":[
  {"processor":"sysflowreader","handler":"flattener","in":"sysflow sysflowchan","out":"flat flattenerchan","filter.enabled":"on","filter.maxage":"24h"},
  {"processor":"policyengine","in":"flat flattenerchan","out":"evt eventchan","mode":"enrich","concurrency":"4"},
  {"processor":"exporter","in":"evt eventchan","export":"file","file.path":"/tmp/out.json","file.truncate":"true","format":"ecs","flat":"true","buffer":"10"}]}"#,
        r#"{"pipeline":[
  {"processor":"sysflowreader","in":"sysflow sysflowchan","out":"flat flattenerchan"},
  {"processor":"policyengine","in":"flat flattenerchan","out":"evt eventchan","mode":"filter"},
  {"processor":"exporter","in":"evt eventchan","export":"terminal","type":"alert"},
  {"processor":"exporter","in":"evt eventchan","export":"file","syslog.proto":"tls","syslog.insecure":"true"}]}"#,
    ]
}
