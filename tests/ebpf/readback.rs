//! A trace recorded by the eBPF collector reads back the same through our reader + flattener
//! and through the real Python `sysprint` (`-o json`): every event and flow of the file, in
//! order, field by field (type, state, opflags, ret, times, process and parent, file, network
//! endpoints, counters, header).
//!
//! Needs root, the embedded probes and sysprint (`testkit::sysprint`: `$SYSPRINT`, `.venv`,
//! /opt/sfvenv); otherwise prints `SKIPPED: ...` and returns.

use std::{
    fs,
    io::{Read, Write},
    net::UdpSocket,
    path::Path,
    process::Command,
};

use serde_json::{json, Value};
use sysflow_model::{avro::Reader, flat::FlatRecord, Flattener, SysFlow, TableConfig};
use testkit::ebpf::{lock, pid, tcp_exchange};

use super::start;

/// sysprint's `getIpIntStr`: the int's bytes from least significant up.
fn ip_str(ip: i32) -> String {
    let b = ip.to_le_bytes();
    format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
}

/// What sysprint must print for `f`, restricted to the fields compared (sysprint's names).
fn expected(f: &FlatRecord) -> Value {
    let (ty, opflags, ret, ts, end_ts, tid) = match &f.rec {
        SysFlow::ProcessEvent(e) => ("PE", e.op_flags.0, json!(e.ret), e.ts, None, e.tid),
        SysFlow::FileEvent(e) => ("FE", e.op_flags.0, json!(e.ret), e.ts, None, e.tid),
        SysFlow::FileFlow(e) => ("FF", e.op_flags.0, Value::Null, e.ts, Some(e.end_ts), e.tid),
        SysFlow::NetworkFlow(e) => ("NF", e.op_flags.0, Value::Null, e.ts, Some(e.end_ts), e.tid),
        other => panic!("unexpected flat record {other:?}"),
    };
    let proc = f.proc.as_ref().map(|p| {
        json!({
            "pid": p.oid.hpid, "tid": tid, "uid": p.uid, "gid": p.gid,
            "user": p.user_name, "group": p.group_name, "exe": p.exe, "args": p.exe_args,
            "cwd": p.cwd, "tty": p.tty, "createts": p.oid.create_ts,
        })
    });
    let pproc = f.pproc.as_ref().map(|p| {
        json!({ "pid": p.oid.hpid, "exe": p.exe, "args": p.exe_args, "createts": p.oid.create_ts })
    });
    let empty_pproc = json!({ "pid": null, "exe": "", "args": "", "createts": "" });
    let (fd, openflags) = match &f.rec {
        SysFlow::FileFlow(e) => (json!(e.fd), json!(e.open_flags.0)),
        SysFlow::NetworkFlow(e) => (json!(e.fd), json!("")),
        _ => (json!(""), json!("")),
    };
    let file = json!({
        "fd": fd,
        "path": f.file.as_ref().map(|x| x.path.as_str()).unwrap_or(""),
        "newpath": f.newfile.as_ref().map(|x| x.path.as_str()).unwrap_or(""),
        "type": f.file.as_ref().map(|x| char::from(x.restype as u8).to_string()).unwrap_or_default(),
        "openflags": openflags,
    });
    let net = match &f.rec {
        SysFlow::NetworkFlow(n) => json!({
            "proto": n.proto, "sport": n.sport, "dport": n.dport,
            "sip": ip_str(n.sip), "dip": ip_str(n.dip),
        }),
        _ => json!({ "proto": "", "sport": null, "dport": null, "sip": "", "dip": "" }),
    };
    let flow = match &f.rec {
        SysFlow::FileFlow(x) => json!({
            "rbytes": x.num_r_recv_bytes, "rops": x.num_r_recv_ops,
            "wbytes": x.num_w_send_bytes, "wops": x.num_w_send_ops,
        }),
        SysFlow::NetworkFlow(x) => json!({
            "rbytes": x.num_r_recv_bytes, "rops": x.num_r_recv_ops,
            "wbytes": x.num_w_send_bytes, "wops": x.num_w_send_ops,
        }),
        _ => json!({ "rbytes": null, "rops": null, "wbytes": null, "wops": null }),
    };
    let header = f.header.as_ref().expect("record after a header");
    json!({
        "type": ty,
        "state": f.proc.as_ref().map(|p| p.state.name()).unwrap_or(""),
        "opflags_bitmap": opflags,
        "ret": ret,
        "ts_uts": ts,
        "endts_uts": end_ts,
        "proc": proc.expect("every record's process is in the file"),
        "pproc": pproc.unwrap_or(empty_pproc),
        "file": file,
        "net": net,
        "flow": flow,
        "container": { "id": f.container.as_ref().map(|c| c.id.as_str()).unwrap_or("") },
        "node": { "id": header.exporter, "ip": header.ip },
        "filename": header.filename,
        "schema": header.version,
    })
}

/// Every leaf of `want` equals the same path in `got`; returns the differing paths.
fn diff(want: &Value, got: &Value, path: &str, out: &mut Vec<String>) {
    match want {
        Value::Object(m) => {
            for (k, v) in m {
                let sub = format!("{path}.{k}");
                match got.get(k) {
                    Some(g) => diff(v, g, &sub, out),
                    None => out.push(format!("{sub}: missing in sysprint")),
                }
            }
        }
        _ if want != got => out.push(format!("{path}: ours {want}, sysprint {got}")),
        _ => {}
    }
}

/// Our reader + flattener over `p`: the flat records (events and flows), in file order.
fn flatten(p: &Path) -> Vec<FlatRecord> {
    let reader = Reader::new(fs::File::open(p).expect("open trace")).expect("trace header");
    let mut fl = Flattener::new(TableConfig::default());
    let mut out = Vec::new();
    for r in reader {
        if let Some(f) = fl.push(r.expect("trace record")) {
            out.push(f);
        }
    }
    assert_eq!(
        fl.stats().missing_processes,
        0,
        "every process precedes its records"
    );
    assert_eq!(
        fl.stats().missing_files,
        0,
        "every file precedes its records"
    );
    out
}

fn sysprint_json(sp: &Path, trace: &Path) -> Vec<Value> {
    let out = Command::new(sp)
        .args(["-o", "json"])
        .arg(trace)
        .env("TZ", "UTC")
        .output()
        .expect("run sysprint");
    assert!(
        out.status.success(),
        "sysprint failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("sysprint output is UTF-8")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("sysprint line {l:?}: {e}")))
        .collect()
}

/// Files, process, TCP and UDP in one recording.
fn workload(dir: &Path) -> (String, u16, u16) {
    let base = dir.join("w");
    fs::create_dir(&base).expect("mkdir");
    let a = base.join("a.txt");
    fs::File::create(&a)
        .and_then(|mut f| f.write_all(b"hello world"))
        .expect("write");
    let mut s = String::new();
    fs::File::open(&a)
        .and_then(|mut f| f.read_to_string(&mut s))
        .expect("read");
    let b = base.join("b.txt");
    fs::rename(&a, &b).expect("rename");
    fs::hard_link(&b, base.join("hard")).expect("link");
    std::os::unix::fs::symlink(&b, base.join("soft")).expect("symlink");
    fs::remove_file(&b).expect("unlink");
    fs::remove_dir(base.join("missing")).expect_err("rmdir of a missing dir");
    let st = Command::new("/bin/sh")
        .args(["-c", "exit 3"])
        .status()
        .expect("sh");
    assert_eq!(st.code(), Some(3));
    let (tcp_port, _) = tcp_exchange("127.0.0.1:0");
    let u1 = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let u2 = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let udp_port = u2.local_addr().expect("udp addr").port();
    u1.send_to(b"ping", ("127.0.0.1", udp_port)).expect("send");
    let mut buf = [0u8; 8];
    u2.recv_from(&mut buf).expect("recv");
    (a.to_string_lossy().into_owned(), tcp_port, udp_port)
}

#[test]
fn ebpf_trace_reads_back_the_same_in_sysprint() {
    let _g = lock();
    let Some(sp) = testkit::sysprint() else {
        eprintln!("SKIPPED: sysprint not found ($SYSPRINT, <repo>/.venv or /opt/sfvenv)");
        return;
    };
    let Some(rec) = start("readback", &[]) else {
        return;
    };
    let (a_path, tcp_port, udp_port) = workload(&rec.dir);
    let (files, _) = rec.stop();
    assert_eq!(files.len(), 1, "one trace file without rotation");
    let trace = &files[0].0;
    let ours = flatten(trace);
    let theirs = sysprint_json(&sp, trace);
    assert_eq!(
        ours.len(),
        theirs.len(),
        "same number of events and flows in our flattener and in sysprint"
    );
    let mut bad = Vec::new();
    for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
        let mut d = Vec::new();
        diff(&expected(o), t, "", &mut d);
        if !d.is_empty() {
            bad.push(format!("record {i} ({:?}): {}", o.rec, d.join("; ")));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} records differ:\n{}",
        bad.len(),
        ours.len(),
        bad.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
    );

    // The comparison is not vacuous: the workload's records are in sysprint's output.
    let me = pid();
    let mine: Vec<&Value> = theirs.iter().filter(|v| v["proc"]["pid"] == me).collect();
    let has = |pred: &dyn Fn(&Value) -> bool| mine.iter().any(|v| pred(v));
    assert!(
        has(&|v| v["type"] == "FF"
            && v["file"]["path"] == a_path.as_str()
            && v["flow"]["wbytes"] == 11),
        "write flow on a.txt"
    );
    assert!(
        has(&|v| v["type"] == "FF"
            && v["file"]["path"] == a_path.as_str()
            && v["flow"]["rbytes"] == 11),
        "read flow on a.txt"
    );
    assert!(
        has(&|v| v["type"] == "FE"
            && v["opflags"] == "RENAME"
            && v["file"]["path"] == a_path.as_str()),
        "rename"
    );
    assert!(
        has(&|v| v["type"] == "FE" && v["opflags"] == "RMDIR" && v["ret"] == -2),
        "failed rmdir with its return code"
    );
    assert!(
        has(&|v| v["type"] == "NF" && v["net"]["dport"] == tcp_port && v["net"]["proto"] == 6),
        "TCP flow"
    );
    assert!(
        has(&|v| v["type"] == "NF" && v["net"]["dport"] == udp_port && v["net"]["proto"] == 17),
        "UDP flow"
    );
    assert!(
        theirs.iter().any(|v| v["type"] == "PE"
            && v["opflags"] == "EXIT"
            && v["ret"] == 3
            && v["pproc"]["pid"] == me),
        "the shell's EXIT 3 with its parent link"
    );
}
