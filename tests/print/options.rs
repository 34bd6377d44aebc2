//! `-c`, `-l`, `-k`, `-K`, `-A`, several paths and directories, against the real sysprint
//! where it agrees by design, and on their own where we deliberately differ.

use std::ffi::OsStr;
use std::path::Path;

use testkit::print::*;
use testkit::{sysprint_or_skip, traces_dir};

use super::{ours, sensor};

fn same(real: &Path, argv: &[&OsStr]) {
    let a = run(real, argv);
    let b = run(&ours(), argv);
    assert!(
        b.status.success(),
        "{argv:?}: {}",
        String::from_utf8_lossy(&b.stderr)
    );
    assert!(
        a.stdout == b.stdout,
        "{argv:?} differs\n--- sysprint\n{}\n--- ours\n{}",
        String::from_utf8_lossy(&a.stdout[..a.stdout.len().min(3000)]),
        String::from_utf8_lossy(&b.stdout[..b.stdout.len().min(3000)])
    );
}

fn os<'a>(v: &'a [&'a str]) -> Vec<&'a OsStr> {
    v.iter().map(OsStr::new).collect()
}

#[test]
fn options_match_sysprint() {
    let (Some(dir), Some(real)) = (traces_dir(), sysprint_or_skip()) else {
        return;
    };
    let k8s = dir.join("k8s_small.sf");
    let rename = dir.join("rename.sf");
    let (k8s, rename) = (k8s.to_str().expect("utf8"), rename.to_str().expect("utf8"));
    let httpd = dir.join("httpd.sf");
    let tcp = dir.join("tcp.sf");
    let (httpd, tcp) = (httpd.to_str().expect("utf8"), tcp.to_str().expect("utf8"));
    for argv in [
        &["-l"][..],
        &[
            "-o",
            "json",
            "-c",
            "proc.pid,type,proc.exe,idx,proc.name,bogus,proc.pid",
            k8s,
        ],
        &[
            "-o",
            "flatjson",
            "-c",
            "proc.pid,type,pod.services,tags",
            k8s,
        ],
        &["-k", k8s],
        &["-K", k8s],
        &["-A", httpd],
        &["-A", rename],
        &[
            "-c",
            "proc.pid,type,proc.exe,proc.tty,pod.hostip,tags,ts",
            k8s,
        ],
        &["-c", "ts,proc.exe,proc.env,type", rename],
        &["-o", "json", httpd, tcp, rename],
        &[httpd, tcp, rename],
    ] {
        same(&real, &os(argv));
    }
}

#[test]
fn directories_print_in_digit_order() {
    let Some(dir) = traces_dir() else {
        return;
    };
    let tmp = temp_dir("dir");
    std::fs::copy(dir.join("httpd.sf"), tmp.join("t.20.sf")).expect("copy");
    std::fs::copy(dir.join("tcp.sf"), tmp.join("t.3.sf")).expect("copy");
    std::fs::copy(dir.join("alpine.sf"), tmp.join("t.100.sf")).expect("copy");
    let b = run(
        &ours(),
        &[OsStr::new("-o"), OsStr::new("json"), tmp.as_os_str()],
    );
    assert!(b.status.success());
    // tcp (10 records), then httpd (5), then alpine (24).
    let recs = json_lines(&b.stdout);
    let nodes: Vec<&str> = recs
        .iter()
        .map(|r| r["node"]["id"].as_str().expect("id"))
        .collect();
    assert_eq!(recs.len(), 39);
    assert_eq!(nodes[0], "tests");
    assert_eq!(nodes[10], "gladiator-1");
    if let Some(real) = sysprint_or_skip() {
        same(
            &real,
            &[OsStr::new("-o"), OsStr::new("json"), tmp.as_os_str()],
        );
        same(&real, &[tmp.as_os_str()]);
    }
}

#[test]
fn json_file_output_holds_all_paths_in_one_array() {
    let Some(dir) = traces_dir() else {
        return;
    };
    let tmp = temp_dir("wjson");
    let out = tmp.join("out.json");
    let b = run(
        &ours(),
        &[
            OsStr::new("-o"),
            OsStr::new("json"),
            OsStr::new("-w"),
            out.as_os_str(),
            dir.join("httpd.sf").as_os_str(),
            dir.join("tcp.sf").as_os_str(),
        ],
    );
    assert!(b.status.success());
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("out.json")).expect("one JSON array");
    assert_eq!(v.as_array().map(Vec::len), Some(15));
}

#[test]
fn sensor_print_takes_the_same_flags() {
    let Some(dir) = traces_dir() else {
        return;
    };
    let t = dir.join("httpd.sf");
    let argv = [
        OsStr::new("-o"),
        OsStr::new("flatjson"),
        OsStr::new("-c"),
        OsStr::new("type,proc.pid"),
        t.as_os_str(),
    ];
    let a = run(&ours(), &argv);
    let mut sargv = vec![OsStr::new("print")];
    sargv.extend(argv);
    let b = run(&sensor(), &sargv);
    assert!(a.status.success() && b.status.success());
    assert_eq!(a.stdout, b.stdout);
    assert!(
        String::from_utf8_lossy(&a.stdout).starts_with("{\"type\": \"FF\", \"proc.pid\": 49035}\n")
    );
}

#[test]
fn unsupported_options_fail_clearly() {
    for (argv, msg) in [
        // A bad query fails before any input is read, with its column (tests/print/sfql.rs).
        (
            &["-f", "proc.pid = = 1", "x.sf"][..],
            "-f:1:12: unexpected '='",
        ),
        // S3 input works now (tests/print_s3.rs); a bad flag value still fails before any I/O.
        (
            &["-i", "s3", "-e", "127.0.0.1", "--secure", "maybe", "bucket"][..],
            "Boolean value expected",
        ),
        (&["-o", "csv", "x.sf"][..], "required for CSV"),
    ] {
        let b = run(&ours(), &os(argv));
        assert_eq!(b.status.code(), Some(1), "{argv:?}");
        assert!(
            String::from_utf8_lossy(&b.stderr).contains(msg),
            "{argv:?}: {}",
            String::from_utf8_lossy(&b.stderr)
        );
    }
}
