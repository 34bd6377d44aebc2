//! Bad input: each fault gives an error naming the file and the byte offset, exit status 1,
//! every record before the fault printed; `--keep-going` goes on with the next file.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;

use sysflow_model::avro::{Codec, Writer};
use sysflow_model::record::*;
use sysflow_model::OpFlags;
use testkit::print::*;

use super::ours;

/// A v5 trace: header + process in block 1, PEs 0..3 in block 2, PEs 3..6 in block 3.
fn trace(codec: Codec) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), codec).expect("writer");
    let oid = Oid {
        create_ts: 1_600_000_000_000_000_000,
        hpid: 4242,
    };
    w.write(&SysFlow::Header(SfHeader {
        version: 5,
        exporter: "bad-input-test".into(),
        ip: "10.0.0.1".into(),
        filename: "t.sf".into(),
    }))
    .expect("write");
    w.write(&SysFlow::Process(Process {
        oid,
        exe: "/bin/victim".into(),
        ..Default::default()
    }))
    .expect("write");
    w.flush().expect("flush");
    for i in 0..6 {
        w.write(&SysFlow::ProcessEvent(ProcessEvent {
            proc_oid: oid,
            ts: 1_600_000_000_000_000_000 + i,
            tid: 4242,
            op_flags: OpFlags(OpFlags::EXEC),
            args: vec![],
            ret: i as i32,
        }))
        .expect("write");
        if i == 2 {
            w.flush().expect("flush");
        }
    }
    w.finish().expect("finish")
}

/// Offsets where each sync marker starts (the first one ends the header).
fn syncs(b: &[u8]) -> Vec<usize> {
    let sync = &b[b.len() - 16..];
    (0..=b.len() - 16)
        .filter(|&i| &b[i..i + 16] == sync)
        .collect()
}

fn write(dir: &Path, name: &str, b: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, b).expect("write trace");
    p
}

fn print(paths: &[&Path], keep_going: bool) -> Output {
    let mut a: Vec<&OsStr> = vec![
        OsStr::new("-o"),
        OsStr::new("json"),
        OsStr::new("-c"),
        OsStr::new("ret,node.id"),
    ];
    if keep_going {
        a.push(OsStr::new("--keep-going"));
    }
    a.extend(paths.iter().map(|p| p.as_os_str()));
    run(&ours(), &a)
}

/// Asserts exit 1, the file and offset in stderr, and the `ret`s printed.
fn check(out: &Output, file: &Path, offset: Option<usize>, what: &str, rets: &[i64]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{what}: {err}");
    assert!(
        err.contains(&file.display().to_string()),
        "{what}: no file name in {err:?}"
    );
    assert!(err.contains("byte"), "{what}: no offset in {err:?}");
    if let Some(o) = offset {
        assert!(
            err.contains(&format!("byte {o}")),
            "{what}: expected byte {o} in {err:?}"
        );
    }
    assert!(!err.contains("panicked"), "{what}: panic");
    let got: Vec<i64> = json_lines(&out.stdout)
        .iter()
        .map(|r| r["ret"].as_i64().expect("ret"))
        .collect();
    assert_eq!(got, rets, "{what}: records before the fault");
}

#[test]
fn every_fault_is_reported_with_file_and_offset() {
    let tmp = temp_dir("bad");
    let good = trace(Codec::Deflate);
    let s = syncs(&good);
    assert_eq!(s.len(), 4, "header + 3 blocks");
    let ok = write(&tmp, "ok.sf", &good);
    let out = print(&[&ok], false);
    assert!(out.status.success());
    assert_eq!(json_lines(&out.stdout).len(), 6);

    // Truncated inside block 3.
    let cut = s[2] + 16 + 5;
    let p = write(&tmp, "trunc.sf", &good[..cut]);
    check(&print(&[&p], false), &p, Some(cut), "truncated", &[0, 1, 2]);

    // Corrupt deflate data in block 3: 0xff starts a block of the reserved type 3.
    let mut b = good.clone();
    let data = s[2] + 16 + 2;
    b[data..s[3]].fill(0xff);
    let p = write(&tmp, "corrupt.sf", &b);
    check(&print(&[&p], false), &p, None, "corrupt block", &[0, 1, 2]);

    // Bad sync marker after block 3.
    let mut b = good.clone();
    b[s[3]] ^= 0xff;
    let p = write(&tmp, "badsync.sf", &b);
    check(
        &print(&[&p], false),
        &p,
        Some(s[3]),
        "bad sync",
        &[0, 1, 2, 3, 4, 5],
    );

    // Wrong magic.
    let mut b = good.clone();
    b[0] = b'X';
    let p = write(&tmp, "magic.sf", &b);
    check(&print(&[&p], false), &p, Some(0), "wrong magic", &[]);

    // Empty file.
    let p = write(&tmp, "empty.sf", b"");
    check(&print(&[&p], false), &p, Some(0), "empty", &[]);
}

#[test]
fn unknown_record_name_is_reported() {
    let tmp = temp_dir("unknown");
    // Null codec: datums are plain bytes. A NetworkEvent whose schema name is renamed (same
    // length) becomes a union branch the reader does not know.
    let mut w = Writer::new(Vec::new(), Codec::Null).expect("writer");
    let oid = Oid {
        create_ts: 1,
        hpid: 7,
    };
    w.write(&SysFlow::Header(SfHeader {
        version: 5,
        exporter: "u".into(),
        ..Default::default()
    }))
    .expect("w");
    w.write(&SysFlow::Process(Process {
        oid,
        ..Default::default()
    }))
    .expect("w");
    w.write(&SysFlow::ProcessEvent(ProcessEvent {
        proc_oid: oid,
        ret: 1,
        ..Default::default()
    }))
    .expect("w");
    w.flush().expect("flush");
    w.write(&SysFlow::NetworkEvent(NetworkEvent {
        proc_oid: oid,
        ret: 2,
        ..Default::default()
    }))
    .expect("w");
    w.write(&SysFlow::ProcessEvent(ProcessEvent {
        proc_oid: oid,
        ret: 3,
        ..Default::default()
    }))
    .expect("w");
    let mut b = w.finish().expect("finish");
    let from = b"\"NetworkEvent\"";
    let pos = b
        .windows(from.len())
        .position(|x| x == from)
        .expect("NetworkEvent in schema");
    b[pos..pos + from.len()].copy_from_slice(b"\"NetworkEvenX\"");
    let p = write(&tmp, "unknown.sf", &b);
    let out = print(&[&p], false);
    check(&out, &p, None, "unknown record", &[1]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("NetworkEvenX"));
}

#[test]
fn non_trace_file_in_directory_and_keep_going() {
    let tmp = temp_dir("dirbad");
    let good = trace(Codec::Deflate);
    write(&tmp, "1.sf", &good);
    let bad = write(&tmp, "2.txt", b"this is not a trace\n");
    write(&tmp, "3.sf", &good);
    // Without --keep-going: the first file, then the error, then stop.
    let out = print(&[&tmp], false);
    check(&out, &bad, Some(0), "non-trace in dir", &[0, 1, 2, 3, 4, 5]);
    // With it: both good files, still exit 1.
    let out = print(&[&tmp], true);
    check(
        &out,
        &bad,
        Some(0),
        "keep-going",
        &[0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5],
    );
    // A file truncated inside its third block followed by a good one.
    let s = syncs(&good);
    let t = write(&tmp, "4.sf", &good[..s[2] + 21]);
    let out = print(&[&t, &tmp.join("1.sf")], true);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("4.sf"));
    assert_eq!(json_lines(&out.stdout).len(), 3 + 6);
}
