//! The native eBPF collector against real workloads: starts `sensor record`, runs small
//! workloads in this test process (files, fork/exec, setuid, TCP over 127.0.0.1 and ::1,
//! UDP), stops the sensor and asserts the exact records of the workload.
//!
//! Needs root (BPF) and a sensor built after `cargo xtask build-ebpf`; otherwise each test
//! prints `SKIPPED: ...` and returns.

use std::{
    fs,
    io::{Read, Write},
    net::{TcpListener, UdpSocket},
    os::unix::process::CommandExt,
    process::Command,
    time::Duration,
};

use sysflow_model::{OpFlags, SysFlow};
use testkit::ebpf::{
    all, assert_self_contained, file_path, lock, net_flows, pid, tcp_exchange, tid,
};

use super::start;

#[test]
fn ebpf_file_flows_and_events() {
    let _g = lock();
    let Some(rec) = start("files", &[]) else {
        return;
    };
    let me = tid();
    let base = rec.dir.join("w");
    fs::create_dir(&base).expect("mkdir w");
    let a = base.join("a.txt");
    let b = base.join("b.txt");
    fs::File::create(&a)
        .and_then(|mut f| f.write_all(b"hello world"))
        .expect("write a");
    let mut s = String::new();
    fs::File::open(&a)
        .and_then(|mut f| f.read_to_string(&mut s))
        .expect("read a");
    fs::rename(&a, &b).expect("rename");
    fs::hard_link(&b, base.join("hard")).expect("link");
    std::os::unix::fs::symlink(&b, base.join("soft")).expect("symlink");
    fs::create_dir(base.join("d")).expect("mkdir d");
    fs::remove_dir(base.join("d")).expect("rmdir d");
    assert!(fs::remove_dir(base.join("missing")).is_err());
    fs::remove_file(&b).expect("unlink");
    let recs = rec.stop_checked();
    let mine = |r: &&SysFlow| match r {
        SysFlow::FileFlow(f) => f.tid == me,
        SysFlow::FileEvent(f) => f.tid == me,
        _ => false,
    };
    let a_s = a.to_string_lossy().to_string();
    let b_s = b.to_string_lossy().to_string();
    let ffs: Vec<_> = recs
        .iter()
        .filter(mine)
        .filter_map(|r| match r {
            SysFlow::FileFlow(f) if file_path(&recs, &f.file_oid) == a_s => Some(f.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        ffs.len(),
        2,
        "one write flow and one read flow on a.txt: {ffs:?}"
    );
    let w = &ffs[0];
    assert_eq!(
        w.op_flags.0,
        OpFlags::OPEN | OpFlags::WRITE | OpFlags::CLOSE
    );
    assert_eq!(
        (w.num_w_send_ops, w.num_w_send_bytes, w.num_r_recv_ops),
        (1, 11, 0)
    );
    // O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC in PPM bits.
    assert_eq!(w.open_flags.0, 2 | 4 | 256 | 4096);
    assert_eq!(w.proc_oid.hpid, pid());
    assert!(w.end_ts >= w.ts);
    let r = &ffs[1];
    assert_eq!(r.op_flags.0, OpFlags::OPEN | OpFlags::READ | OpFlags::CLOSE);
    assert_eq!((r.num_r_recv_bytes, r.num_w_send_ops), (11, 0));
    assert!(r.num_r_recv_ops >= 1);
    assert_eq!(r.open_flags.0, 1 | 4096);

    let fes: Vec<(u32, String, Option<String>, i32)> = recs
        .iter()
        .filter(mine)
        .filter_map(|r| match r {
            SysFlow::FileEvent(f) => Some((
                f.op_flags.0,
                file_path(&recs, &f.file_oid),
                f.new_file_oid.map(|n| file_path(&recs, &n)),
                f.ret,
            )),
            _ => None,
        })
        .filter(|(_, p, _, _)| p.starts_with(base.to_string_lossy().as_ref()))
        .collect();
    let w = |n: &str| base.join(n).to_string_lossy().to_string();
    assert_eq!(
        fes,
        vec![
            (OpFlags::MKDIR, base.to_string_lossy().to_string(), None, 0),
            (OpFlags::RENAME, a_s.clone(), Some(b_s.clone()), 0),
            (OpFlags::LINK, b_s.clone(), Some(w("hard")), 0),
            (OpFlags::SYMLINK, b_s.clone(), Some(w("soft")), 0),
            (OpFlags::MKDIR, w("d"), None, 0),
            (OpFlags::RMDIR, w("d"), None, 0),
            (OpFlags::RMDIR, w("missing"), None, -2),
            (OpFlags::UNLINK, b_s.clone(), None, 0),
        ]
    );
}

#[test]
fn ebpf_fork_exec_exit_and_setuid() {
    let _g = lock();
    let Some(rec) = start("proc", &[]) else {
        return;
    };
    let me = tid();
    let st = Command::new("/bin/sh")
        .args(["-c", "exit 3"])
        .status()
        .expect("sh");
    assert_eq!(st.code(), Some(3));
    let mut cmd = Command::new("/bin/true");
    // SAFETY: setuid is async-signal-safe; runs in the forked child before exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setuid(65534) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    assert!(cmd.status().expect("true").success());
    let recs = rec.stop_checked();
    let my_oid = recs
        .iter()
        .find_map(|r| match r {
            SysFlow::Process(p) if p.oid.hpid == pid() => Some(p.oid),
            _ => None,
        })
        .expect("test process written");
    // Parent side of both forks: CLONE by this thread, ret = child pid.
    let children: Vec<i64> = recs
        .iter()
        .filter_map(|r| match r {
            SysFlow::ProcessEvent(e)
                if e.proc_oid == my_oid && e.tid == me && e.op_flags.0 == OpFlags::CLONE =>
            {
                Some(e.ret as i64)
            }
            _ => None,
        })
        .collect();
    assert_eq!(children.len(), 2, "two forks seen from the parent");
    let events_of = |hpid: i64| -> Vec<(u32, i32, Vec<String>)> {
        recs.iter()
            .filter_map(|r| match r {
                SysFlow::ProcessEvent(e) if e.proc_oid.hpid == hpid => {
                    Some((e.op_flags.0, e.ret, e.args.clone()))
                }
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        events_of(children[0]),
        vec![
            (OpFlags::CLONE, 0, vec![]),
            (OpFlags::EXEC, 0, vec![]),
            (OpFlags::EXIT, 3, vec![])
        ]
    );
    assert_eq!(
        events_of(children[1]),
        vec![
            (OpFlags::CLONE, 0, vec![]),
            (OpFlags::SETUID, 0, vec!["65534".to_string()]),
            (OpFlags::EXEC, 0, vec![]),
            (OpFlags::EXIT, 0, vec![]),
        ]
    );
    let procs_of = |hpid: i64| -> Vec<sysflow_model::Process> {
        recs.iter()
            .filter_map(|r| match r {
                SysFlow::Process(p) if p.oid.hpid == hpid => Some(p.clone()),
                _ => None,
            })
            .collect()
    };
    let sh = procs_of(children[0]);
    assert_eq!(sh[0].state, sysflow_model::ObjectState::Created);
    assert_eq!(sh[0].poid, Some(my_oid), "child's parent link");
    let last = sh.last().expect("sh process");
    assert_eq!(last.state, sysflow_model::ObjectState::Modified);
    assert_eq!(
        (last.exe.as_str(), last.exe_args.as_str()),
        ("/bin/sh", "-c exit 3")
    );
    let tr = procs_of(children[1]);
    assert_eq!(
        tr.iter().map(|p| (p.state, p.uid)).collect::<Vec<_>>(),
        vec![
            (sysflow_model::ObjectState::Created, 0),
            (sysflow_model::ObjectState::Modified, 65534),
            (sysflow_model::ObjectState::Modified, 65534),
        ]
    );
    assert_eq!(tr[2].exe, "/bin/true");
}

#[test]
fn ebpf_tcp_ipv4_both_sides() {
    let _g = lock();
    let Some(rec) = start("tcp4", &[]) else {
        return;
    };
    let (port, cport) = tcp_exchange("127.0.0.1:0");
    let (files, _) = rec.stop();
    let recs = all(files);
    let flows = net_flows(&recs, port as i32);
    assert_eq!(flows.len(), 2, "client and server flows: {flows:?}");
    let lo = i32::from_le_bytes([127, 0, 0, 1]);
    for f in &flows {
        // s = client, d = server on both sides.
        assert_eq!(
            (f.sip, f.sport, f.dip, f.dport, f.proto),
            (lo, cport as i32, lo, port as i32, 6)
        );
    }
    let client = flows
        .iter()
        .find(|f| f.op_flags.contains(OpFlags::CONNECT))
        .expect("client flow");
    assert_eq!(
        client.op_flags.0,
        OpFlags::CONNECT | OpFlags::WRITE | OpFlags::READ | OpFlags::CLOSE
    );
    assert_eq!(
        (
            client.num_w_send_ops,
            client.num_w_send_bytes,
            client.num_r_recv_bytes
        ),
        (1, 5, 3)
    );
    let server = flows
        .iter()
        .find(|f| f.op_flags.contains(OpFlags::ACCEPT))
        .expect("server flow");
    assert_eq!(
        server.op_flags.0,
        OpFlags::ACCEPT | OpFlags::WRITE | OpFlags::READ | OpFlags::CLOSE
    );
    assert_eq!((server.num_r_recv_bytes, server.num_w_send_bytes), (5, 3));
    assert_ne!(client.tid, server.tid, "flows are per thread");
}

#[test]
fn ebpf_tcp_ipv6_counted_not_written() {
    let _g = lock();
    let Some(rec) = start("tcp6", &[]) else {
        return;
    };
    if TcpListener::bind("[::1]:0").is_err() {
        eprintln!("SKIPPED: no IPv6 loopback");
        let _ = rec.stop();
        return;
    }
    let (port, _) = tcp_exchange("[::1]:0");
    let (files, summary) = rec.stop();
    let recs = all(files);
    assert!(
        net_flows(&recs, port as i32).is_empty(),
        "v5 files cannot carry IPv6 flows"
    );
    let n: u64 = summary
        .split_whitespace()
        .find_map(|w| w.strip_prefix("ipv6_flows="))
        .and_then(|v| v.parse().ok())
        .expect("ipv6 counter in summary");
    assert!(n >= 2, "both IPv6 flows counted: {summary}");
}

#[test]
fn ebpf_udp_exchange() {
    let _g = lock();
    let Some(rec) = start("udp", &[]) else { return };
    let a = UdpSocket::bind("127.0.0.1:0").expect("a");
    let b = UdpSocket::bind("127.0.0.1:0").expect("b");
    let (pa, pb) = (
        a.local_addr().expect("a").port(),
        b.local_addr().expect("b").port(),
    );
    a.send_to(b"ping", ("127.0.0.1", pb)).expect("send");
    let mut buf = [0u8; 16];
    let (n, from) = b.recv_from(&mut buf).expect("recv");
    assert_eq!((n, from.port()), (4, pa));
    drop(a);
    drop(b);
    let (files, _) = rec.stop();
    let recs = all(files);
    let flows = net_flows(&recs, pb as i32);
    assert_eq!(flows.len(), 2, "{flows:?}");
    for f in &flows {
        assert_eq!((f.sport, f.dport, f.proto), (pa as i32, pb as i32, 17));
    }
    let send = flows
        .iter()
        .find(|f| f.op_flags.contains(OpFlags::WRITE))
        .expect("sender");
    assert_eq!(send.op_flags.0, OpFlags::WRITE | OpFlags::CLOSE);
    assert_eq!((send.num_w_send_ops, send.num_w_send_bytes), (1, 4));
    let recv = flows
        .iter()
        .find(|f| f.op_flags.contains(OpFlags::READ))
        .expect("receiver");
    assert_eq!(recv.op_flags.0, OpFlags::READ | OpFlags::CLOSE);
    assert_eq!((recv.num_r_recv_ops, recv.num_r_recv_bytes), (1, 4));
}

#[test]
fn ebpf_rotation_files_are_self_contained_and_read_by_sysprint() {
    let _g = lock();
    let Some(rec) = start("rotate", &["--rotate", "1"]) else {
        return;
    };
    let target = rec.dir.join("x.txt");
    for i in 0..5 {
        fs::write(&target, format!("round {i}")).expect("write");
        std::thread::sleep(Duration::from_millis(500));
    }
    let (files, _) = rec.stop();
    assert!(files.len() >= 2, "rotation produced several files");
    let my_procs = files
        .iter()
        .filter(|(_, r)| {
            r.iter()
                .any(|x| matches!(x, SysFlow::FileFlow(f) if f.proc_oid.hpid == pid()))
        })
        .count();
    assert!(my_procs >= 2, "the workload spans files");
    for (p, r) in &files {
        assert_self_contained(r);
        // Later files re-emit entities as REUP.
        if let Some(sysprint) = testkit::sysprint() {
            let out = Command::new(&sysprint)
                .arg(p)
                .env("TZ", "UTC")
                .output()
                .expect("sysprint");
            assert!(
                out.status.success(),
                "sysprint {}: {}",
                p.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        } else {
            eprintln!("SKIPPED: sysprint check (sysprint not installed; set SYSPRINT)");
        }
    }
    let later = &files[1].1;
    assert!(later
        .iter()
        .any(|x| matches!(x, SysFlow::Process(p) if p.state == sysflow_model::ObjectState::Reup)));
}
