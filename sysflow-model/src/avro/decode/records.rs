//! Each record's decode layout, declared once: `slot field: "writer field name" | "legacy
//! alias"`. Writer fields not listed are skipped; record fields the writer lacks keep their
//! defaults. The wire kind follows from the field's type (see [`super::layout`]).

use super::layout::layouts;

layouts! {
    Header(SfHeader) {
        0 version: "version",
        1 exporter: "exporter",
        2 ip: "ip",
        3 filename: "filename",
    }
    Container(Container) {
        0 id: "id",
        1 name: "name",
        2 image: "image",
        3 imageid: "imageid",
        4 r#type: "type",
        5 privileged: "privileged",
        6 pod_id: "podId",
        7 imagerepo: "imagerepo",
    }
    Process(Process) {
        // Legacy 4-member schema: `type` (ActionType CREATED/MODIFIED/REUP) instead of `state`.
        0 state: "state" | "type",
        1 oid: "oid",
        2 poid: "poid",
        3 ts: "ts",
        4 exe: "exe",
        5 exe_args: "exeArgs",
        6 uid: "uid",
        7 user_name: "userName",
        8 gid: "gid",
        9 group_name: "groupName",
        10 tty: "tty",
        11 container_id: "containerId",
        12 entry: "entry",
        13 cwd: "cwd",
        14 env: "env",
    }
    File(File) {
        0 state: "state",
        1 oid: "oid",
        2 ts: "ts",
        3 restype: "restype",
        4 path: "path",
        5 container_id: "containerId",
    }
    ProcessEvent(ProcessEvent) {
        0 proc_oid: "procOID",
        1 ts: "ts",
        2 tid: "tid",
        // Legacy 4-member ProcessFlow: `type` (EventType CLONE/EXEC/EXIT) instead of `opFlags`.
        3 op_flags: "opFlags" | "type",
        4 args: "args",
        5 ret: "ret",
    }
    NetworkFlow(NetworkFlow) {
        0 proc_oid: "procOID",
        1 ts: "ts",
        2 tid: "tid",
        3 op_flags: "opFlags",
        4 end_ts: "endTs",
        5 sip: "sip",
        6 sport: "sport",
        7 dip: "dip",
        8 dport: "dport",
        9 proto: "proto",
        10 fd: "fd",
        11 num_r_recv_ops: "numRRecvOps",
        12 num_w_send_ops: "numWSendOps",
        13 num_r_recv_bytes: "numRRecvBytes",
        14 num_w_send_bytes: "numWSendBytes",
    }
    FileFlow(FileFlow) {
        0 proc_oid: "procOID",
        1 ts: "ts",
        2 tid: "tid",
        3 op_flags: "opFlags",
        4 open_flags: "openFlags",
        5 end_ts: "endTs",
        6 file_oid: "fileOID",
        7 fd: "fd",
        8 num_r_recv_ops: "numRRecvOps",
        9 num_w_send_ops: "numWSendOps",
        10 num_r_recv_bytes: "numRRecvBytes",
        11 num_w_send_bytes: "numWSendBytes",
    }
    FileEvent(FileEvent) {
        0 proc_oid: "procOID",
        1 ts: "ts",
        2 tid: "tid",
        3 op_flags: "opFlags",
        4 file_oid: "fileOID",
        5 ret: "ret",
        6 new_file_oid: "newFileOID",
    }
    NetworkEvent(NetworkEvent) {
        0 proc_oid: "procOID",
        1 ts: "ts",
        2 tid: "tid",
        3 op_flags: "opFlags",
        4 sip: "sip",
        5 sport: "sport",
        6 dip: "dip",
        7 dport: "dport",
        8 proto: "proto",
        9 ret: "ret",
    }
    ProcessFlow(ProcessFlow) {
        0 proc_oid: "procOID",
        1 ts: "ts",
        2 num_threads_cloned: "numThreadsCloned",
        3 op_flags: "opFlags",
        4 end_ts: "endTs",
        5 num_threads_exited: "numThreadsExited",
        6 num_clone_errors: "numCloneErrors",
    }
    Pod(Pod) {
        0 ts: "ts",
        1 id: "id",
        2 name: "name",
        3 node_name: "nodeName",
        4 host_ip: "hostIP",
        5 internal_ip: "internalIP",
        6 namespace: "namespace",
        7 restart_count: "restartCount",
        8 labels: "labels",
        9 selectors: "selectors",
        10 services: "services",
    }
    K8sEvent(K8sEvent) {
        0 kind: "kind",
        1 action: "action",
        2 ts: "ts",
        3 message: "message",
    }
}
