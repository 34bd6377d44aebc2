//! The native eBPF collector against real workloads: starts `sensor record`, runs small
//! workloads in this test process (files, fork/exec, setuid, TCP over 127.0.0.1 and ::1,
//! UDP), stops the sensor and asserts the exact records of the workload.
//!
//! Needs root (BPF) and a sensor built after `cargo xtask build-ebpf`; otherwise each test
//! prints `SKIPPED: ...` and returns.

use std::{
    collections::HashSet,
    fs,
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream, UdpSocket},
    os::unix::process::CommandExt,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::Mutex,
    time::Duration,
};

use sysflow_model::{avro::Reader, Foid, Oid, OpFlags, SysFlow};

/// One sensor at a time: they would otherwise record each other's output files.
static SERIAL: Mutex<()> = Mutex::new(());

struct Recording {
    child: Child,
    dir: PathBuf,
    stderr: BufReader<std::process::ChildStderr>,
}

fn tid() -> i64 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as i64 }
}

fn pid() -> i64 {
    std::process::id() as i64
}

/// Start `sensor record`; `None` (after printing why) when eBPF is not available here.
// The child is waited for on every path (here when it fails, in `stop` otherwise).
#[allow(clippy::zombie_processes)]
fn start(name: &str, extra: &[&str]) -> Option<Recording> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: {name}: loading eBPF probes needs root");
        return None;
    }
    let dir = std::env::temp_dir().join(format!("sensor-ebpf-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("temp dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sensor"))
        .arg("record")
        .arg("-w")
        .arg(dir.join("trace.sf"))
        .args(extra)
        .env("RUST_LOG", "warn")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sensor");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap_or(0) == 0 {
            let _ = child.wait();
            if seen.contains("built without the eBPF probes") {
                eprintln!(
                    "SKIPPED: {name}: probes not built (run `cargo xtask build-ebpf --release`)"
                );
            } else {
                eprintln!("SKIPPED: {name}: BPF not permitted here: {seen}");
            }
            return None;
        }
        if line.starts_with("sensor: recording to") {
            return Some(Recording { child, dir, stderr });
        }
        seen.push_str(&line);
    }
}

impl Recording {
    /// Stop the sensor; return the records of every trace file (sorted by name) and the
    /// sensor's summary line.
    fn stop(mut self) -> (Vec<(PathBuf, Vec<SysFlow>)>, String) {
        // Let the probes' last events reach the ring before the sensor drains it.
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let mut rest = String::new();
        let _ = self.stderr.read_to_string(&mut rest);
        let status = self.child.wait().expect("wait sensor");
        assert!(status.success(), "sensor failed: {rest}");
        let summary = rest
            .lines()
            .find(|l| l.starts_with("sensor: events="))
            .unwrap_or("")
            .to_string();
        let mut files: Vec<PathBuf> = fs::read_dir(&self.dir)
            .expect("dir")
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        let out = files
            .into_iter()
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("trace.sf"))
            })
            .map(|p| {
                let recs = Reader::new(fs::File::open(&p).expect("open trace"))
                    .expect("trace header")
                    .collect::<Result<Vec<_>, _>>()
                    .expect("trace records");
                (p, recs)
            })
            .collect();
        (out, summary)
    }
}

/// Every event/flow's process and files were written earlier in the same file.
fn assert_self_contained(recs: &[SysFlow]) {
    assert!(matches!(recs.first(), Some(SysFlow::Header(h)) if h.version == 5));
    let mut procs: HashSet<Oid> = HashSet::new();
    let mut files: HashSet<Foid> = HashSet::new();
    for (i, r) in recs.iter().enumerate() {
        match r {
            SysFlow::Process(p) => {
                procs.insert(p.oid);
            }
            SysFlow::File(f) => {
                files.insert(f.oid);
            }
            SysFlow::FileFlow(f) => {
                assert!(files.contains(&f.file_oid), "record {i}: file before FF")
            }
            SysFlow::FileEvent(f) => {
                assert!(files.contains(&f.file_oid), "record {i}: file before FE");
                if let Some(n) = f.new_file_oid {
                    assert!(files.contains(&n), "record {i}: new file before FE");
                }
            }
            _ => {}
        }
        if let Some(oid) = r.proc_oid() {
            assert!(
                procs.contains(oid),
                "record {i}: process {oid:?} not written before {r:?}"
            );
        }
    }
}

fn file_path(recs: &[SysFlow], foid: &Foid) -> String {
    recs.iter()
        .find_map(|r| match r {
            SysFlow::File(f) if f.oid == *foid => Some(f.path.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

fn all(files: Vec<(PathBuf, Vec<SysFlow>)>) -> Vec<SysFlow> {
    files.into_iter().flat_map(|(_, r)| r).collect()
}

fn lock() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

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
    let (files, _) = rec.stop();
    for (_, r) in &files {
        assert_self_contained(r);
    }
    let recs = all(files);
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
    let (files, _) = rec.stop();
    for (_, r) in &files {
        assert_self_contained(r);
    }
    let recs = all(files);
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

fn net_flows(recs: &[SysFlow], port: i32) -> Vec<sysflow_model::NetworkFlow> {
    recs.iter()
        .filter_map(|r| match r {
            SysFlow::NetworkFlow(n)
                if n.proc_oid.hpid == pid() && (n.dport == port || n.sport == port) =>
            {
                Some(n.clone())
            }
            _ => None,
        })
        .collect()
}

fn tcp_exchange(addr: &str) -> (u16, u16) {
    let l = TcpListener::bind(addr).expect("bind");
    let port = l.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).expect("server read");
        s.write_all(b"pon").expect("server write");
    });
    let mut c = TcpStream::connect(l_addr(addr, port)).expect("connect");
    let cport = c.local_addr().expect("local").port();
    c.write_all(b"ping!").expect("client write");
    let mut buf = [0u8; 3];
    c.read_exact(&mut buf).expect("client read");
    drop(c);
    server.join().expect("server");
    (port, cport)
}

fn l_addr(addr: &str, port: u16) -> String {
    let host = addr.rsplit_once(':').map(|x| x.0).unwrap_or(addr);
    format!("{host}:{port}")
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
        let sysprint = std::env::var_os("SYSPRINT")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/opt/sfvenv/bin/sysprint"));
        if sysprint.exists() {
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
            eprintln!(
                "SKIPPED: sysprint check ({} not installed)",
                sysprint.display()
            );
        }
    }
    let later = &files[1].1;
    assert!(later
        .iter()
        .any(|x| matches!(x, SysFlow::Process(p) if p.state == sysflow_model::ObjectState::Reup)));
}
