//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// The read-only reference folder beside the repo (`<repo>/../shared`). Worktrees one level
/// deeper (`<dir>/wt/<name>`) and `$SYSFLOW_SHARED` are accepted too. `None` (with a
/// "SKIPPED" message) when absent.
pub fn shared() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("SYSFLOW_SHARED").map(PathBuf::from),
        Some(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared"
        ))),
        Some(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared"
        ))),
    ];
    let found = candidates
        .into_iter()
        .flatten()
        .find(|p| p.join("traces").is_dir());
    if found.is_none() {
        eprintln!(
            "SKIPPED: ../shared not found at {}",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared")
        );
    }
    found
}

use sysflow_model::*;

fn oid(a: i64, b: i64) -> Oid {
    Oid {
        create_ts: a,
        hpid: b,
    }
}

/// One hand-built value of each of the 12 record types, with non-default values in every
/// field (negative numbers, multi-byte varints, non-ASCII strings, both union branches).
pub fn samples() -> Vec<SysFlow> {
    vec![
        SysFlow::Header(SfHeader {
            version: 5,
            exporter: "node-1".into(),
            ip: "10.1.2.3".into(),
            filename: "/var/log/sysflow/1700000000".into(),
        }),
        SysFlow::Container(Container {
            id: "0123456789ab".into(),
            name: "web".into(),
            image: "nginx:1.25".into(),
            imageid: "sha256:abc".into(),
            r#type: ContainerType::Crio,
            privileged: true,
            pod_id: Some("pod-uid-1".into()),
            imagerepo: None,
        }),
        SysFlow::Process(Process {
            state: ObjectState::Modified,
            oid: oid(1_700_000_000_123_456_789, 4242),
            poid: Some(oid(1_699_999_999_000_000_000, 1)),
            ts: 1_700_000_001_000_000_000,
            exe: "/usr/bin/café".into(),
            exe_args: "-c 'echo hi'".into(),
            uid: -1,
            user_name: "<NA>".into(),
            gid: 1000,
            group_name: "users".into(),
            tty: true,
            container_id: Some("0123456789ab".into()),
            entry: true,
            cwd: "/home/u".into(),
            env: vec!["PATH=/bin".into(), "HOME=/home/u".into()],
        }),
        SysFlow::File(File {
            state: ObjectState::Reup,
            oid: Foid::of("0123456789ab", "/etc/passwd"),
            ts: -5,
            restype: 'f' as i32,
            path: "/etc/passwd".into(),
            container_id: None,
        }),
        SysFlow::ProcessEvent(ProcessEvent {
            proc_oid: oid(7, 8),
            ts: 9,
            tid: 4243,
            op_flags: OpFlags(OpFlags::SETUID),
            args: vec!["0".into()],
            ret: -13,
        }),
        SysFlow::NetworkFlow(NetworkFlow {
            proc_oid: oid(1, 2),
            ts: 3,
            tid: 4,
            op_flags: OpFlags(OpFlags::CONNECT | OpFlags::READ | OpFlags::WRITE),
            end_ts: 5,
            sip: 16777343,
            sport: 54321,
            dip: -1062731519,
            dport: 443,
            proto: 6,
            fd: 7,
            num_r_recv_ops: 8,
            num_w_send_ops: 9,
            num_r_recv_bytes: 1 << 40,
            num_w_send_bytes: i64::MAX,
        }),
        SysFlow::FileFlow(FileFlow {
            proc_oid: oid(11, 12),
            ts: 13,
            tid: 14,
            op_flags: OpFlags(OpFlags::OPEN | OpFlags::READ | OpFlags::CLOSE),
            open_flags: OpenFlags(OpenFlags::RDONLY | OpenFlags::CLOEXEC),
            end_ts: 15,
            file_oid: Foid::of("", "/etc/hosts"),
            fd: 3,
            num_r_recv_ops: 1,
            num_w_send_ops: 0,
            num_r_recv_bytes: 4096,
            num_w_send_bytes: 0,
        }),
        SysFlow::FileEvent(FileEvent {
            proc_oid: oid(21, 22),
            ts: 23,
            tid: 24,
            op_flags: OpFlags(OpFlags::RENAME),
            file_oid: Foid::of("", "/tmp/a"),
            ret: 0,
            new_file_oid: Some(Foid::of("", "/tmp/b")),
        }),
        SysFlow::NetworkEvent(NetworkEvent {
            proc_oid: oid(31, 32),
            ts: 33,
            tid: 34,
            op_flags: OpFlags(OpFlags::ACCEPT),
            sip: 1,
            sport: 2,
            dip: 3,
            dport: 4,
            proto: 17,
            ret: -1,
        }),
        SysFlow::ProcessFlow(ProcessFlow {
            proc_oid: oid(41, 42),
            ts: 43,
            num_threads_cloned: 44,
            op_flags: OpFlags(OpFlags::CLONE | OpFlags::EXIT),
            end_ts: 45,
            num_threads_exited: 46,
            num_clone_errors: 47,
        }),
        SysFlow::Pod(Pod {
            ts: 51,
            id: "uid-1".into(),
            name: "web-0".into(),
            node_name: "node-1".into(),
            host_ip: vec![3232235777],
            internal_ip: vec![167772161, 1 << 33],
            namespace: "default".into(),
            restart_count: 2,
            labels: vec![("app".into(), "web".into())],
            selectors: vec![("tier".into(), "front".into())],
            services: vec![Service {
                name: "web".into(),
                id: "svc-1".into(),
                namespace: "default".into(),
                port_list: vec![Port {
                    port: 80,
                    target_port: 8080,
                    node_port: 30080,
                    proto: "TCP".into(),
                }],
                cluster_ip: vec![167837953],
            }],
        }),
        SysFlow::K8sEvent(K8sEvent {
            kind: K8sComponent::Pods,
            action: K8sAction::Deleted,
            ts: 61,
            message: "{\"kind\":\"Pod\"}\n\0".into(),
        }),
    ]
}
