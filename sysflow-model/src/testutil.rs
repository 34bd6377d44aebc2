//! Hand-made record sequences for unit tests: a header, a pod, a container, a process tree
//! (init → bash → client), files, then one record of every event/flow type.

use crate::flags::{OpFlags, OpenFlags};
use crate::record::*;

pub const INIT: Oid = Oid {
    create_ts: 1000,
    hpid: 1,
};
pub const BASH: Oid = Oid {
    create_ts: 0,
    hpid: 7130,
};
pub const CLIENT: Oid = Oid {
    create_ts: 0,
    hpid: 13824,
};
/// 127.0.0.1 as SysFlow stores it.
pub const LOCALHOST: i32 = 16777343;

pub fn header() -> SysFlow {
    SysFlow::Header(SfHeader {
        version: 5,
        exporter: "node1".into(),
        ip: "10.0.0.1".into(),
        filename: "/traces/trace.sf".into(),
    })
}

pub fn pod() -> SysFlow {
    SysFlow::Pod(Pod {
        ts: 5,
        id: "pod-1".into(),
        name: " web ".into(),
        node_name: " n1 ".into(),
        host_ip: vec![LOCALHOST as i64],
        internal_ip: vec![1, 2],
        namespace: " ns ".into(),
        restart_count: 2,
        labels: vec![("app".into(), "web".into())],
        selectors: vec![],
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
    })
}

pub fn container() -> SysFlow {
    SysFlow::Container(Container {
        id: "c1".into(),
        name: " cont ".into(),
        image: " nginx:1 ".into(),
        imageid: "sha256:abc".into(),
        r#type: ContainerType::Crio,
        privileged: true,
        pod_id: Some("pod-1".into()),
        imagerepo: None,
    })
}

pub fn process(oid: Oid, poid: Option<Oid>, exe: &str, args: &str) -> Process {
    Process {
        state: ObjectState::Created,
        oid,
        poid,
        ts: 10,
        exe: exe.into(),
        exe_args: args.into(),
        uid: 1000,
        user_name: "alice".into(),
        gid: 1001,
        group_name: "staff".into(),
        tty: false,
        container_id: None,
        entry: false,
        cwd: String::new(),
        env: vec![],
    }
}

pub fn init() -> SysFlow {
    SysFlow::Process(process(INIT, None, "/sbin/init", ""))
}

pub fn bash() -> SysFlow {
    let mut p = process(BASH, Some(INIT), "/usr/bin/bash", "");
    p.entry = true;
    SysFlow::Process(p)
}

pub fn client() -> Process {
    let mut p = process(CLIENT, Some(BASH), " ./client ", " -x 1 ");
    p.uid = -1;
    p.gid = -1;
    p.user_name = "<NA>".into();
    p.group_name = "<NA>".into();
    p.tty = true;
    p.container_id = Some("c1".into());
    p.cwd = " /home/alice ".into();
    p.env = vec!["A=1".into(), "LD_PRELOAD=/x.so".into()];
    p
}

pub fn file(path: &str, restype: char) -> File {
    File {
        state: ObjectState::Created,
        oid: Foid::of("c1", path),
        ts: 20,
        restype: restype as i32,
        path: path.into(),
        container_id: Some("c1".into()),
    }
}

pub fn passwd() -> File {
    file(" /etc/passwd ", 'f')
}

pub fn newfile() -> File {
    file("/tmp/new", 'f')
}

pub fn sock() -> File {
    file("ffff9ce02054c800->ffff9ce02054c000 /sock/sysflow.sock", 'u')
}

pub fn pe() -> SysFlow {
    SysFlow::ProcessEvent(ProcessEvent {
        proc_oid: CLIENT,
        ts: 100,
        tid: 13825,
        op_flags: OpFlags(OpFlags::EXEC),
        args: vec![],
        ret: -2,
    })
}

pub fn ff(foid: Foid) -> SysFlow {
    SysFlow::FileFlow(FileFlow {
        proc_oid: CLIENT,
        ts: 110,
        tid: 13824,
        op_flags: OpFlags(OpFlags::OPEN | OpFlags::READ | OpFlags::CLOSE),
        open_flags: OpenFlags(OpenFlags::RDONLY | OpenFlags::CLOEXEC),
        end_ts: 200,
        file_oid: foid,
        fd: 3,
        num_r_recv_ops: 2,
        num_w_send_ops: 1,
        num_r_recv_bytes: 80,
        num_w_send_bytes: 7,
    })
}

pub fn fe() -> SysFlow {
    SysFlow::FileEvent(FileEvent {
        proc_oid: CLIENT,
        ts: 120,
        tid: 13824,
        op_flags: OpFlags(OpFlags::RENAME),
        file_oid: passwd().oid,
        ret: 0,
        new_file_oid: Some(newfile().oid),
    })
}

pub fn nf() -> SysFlow {
    SysFlow::NetworkFlow(NetworkFlow {
        proc_oid: CLIENT,
        ts: 130,
        tid: 13824,
        op_flags: OpFlags(OpFlags::CONNECT | OpFlags::READ | OpFlags::WRITE),
        end_ts: 230,
        sip: LOCALHOST,
        sport: 40556,
        dip: LOCALHOST,
        dport: 8080,
        proto: 6,
        fd: 5,
        num_r_recv_ops: 2,
        num_w_send_ops: 3,
        num_r_recv_bytes: 80,
        num_w_send_bytes: 90,
    })
}

pub fn ne() -> SysFlow {
    SysFlow::NetworkEvent(NetworkEvent {
        proc_oid: CLIENT,
        ts: 140,
        tid: 13824,
        op_flags: OpFlags(OpFlags::CONNECT),
        sip: LOCALHOST,
        sport: 1,
        dip: 0,
        dport: 2,
        proto: 17,
        ret: -111,
    })
}

pub fn pf() -> SysFlow {
    SysFlow::ProcessFlow(ProcessFlow {
        proc_oid: CLIENT,
        ts: 150,
        num_threads_cloned: 3,
        op_flags: OpFlags(OpFlags::CLONE),
        end_ts: 250,
        num_threads_exited: 1,
        num_clone_errors: 0,
    })
}

pub fn ke() -> SysFlow {
    SysFlow::K8sEvent(K8sEvent {
        kind: K8sComponent::Pods,
        action: K8sAction::Added,
        ts: 300,
        message: r#"{"type":"ADDED","items":[{"namespace":"default","name":"web-1"}]}"#.into(),
    })
}

/// Entities of the fixture in emission order.
pub fn entities() -> Vec<SysFlow> {
    vec![
        header(),
        pod(),
        container(),
        init(),
        bash(),
        SysFlow::Process(client()),
        SysFlow::File(passwd()),
        SysFlow::File(newfile()),
        SysFlow::File(sock()),
    ]
}

/// Counts heap allocations made by the current thread, so tests can assert that a hot path
/// allocates nothing (other test threads do not disturb the count).
pub mod alloc_count {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static COUNT: Cell<u64> = const { Cell::new(0) };
    }

    pub struct Counting;

    // SAFETY: forwards to the system allocator; only counts.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
            // SAFETY: same contract as the caller's.
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: same contract as the caller's.
            unsafe { System.dealloc(ptr, layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
            // SAFETY: same contract as the caller's.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    #[global_allocator]
    static GLOBAL: Counting = Counting;

    /// Allocations made by this thread while running `f`.
    pub fn count<R>(f: impl FnOnce() -> R) -> (R, u64) {
        let before = COUNT.with(|c| c.get());
        let r = f();
        (r, COUNT.with(|c| c.get()) - before)
    }
}
