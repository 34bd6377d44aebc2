//! A real S3-compatible server for tests: the `moto` server from PyPI on 127.0.0.1, with IAM
//! authentication switched on after the fixtures are uploaded, so signatures and
//! permissions are checked for real.
//!
//! Found via `$MOTO_SERVER`, else `<repo>/.venv-analytics/bin/moto_server`; the `python` beside it
//! (which has boto3, a moto dependency) uploads the fixtures. Shared by the unit tests of
//! `sensor/src/source/s3` and the print tests (`tests/print/s3.rs`, `parquet.rs`).

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use sysflow_model::avro::{Codec, Writer};
use sysflow_model::flags::{OpFlags, OpenFlags};
use sysflow_model::record::*;

/// Access keys created on the server.
#[derive(Debug, Clone)]
pub struct Creds {
    /// Access key id.
    pub id: String,
    /// Secret access key.
    pub secret: String,
}

/// A running moto server with the fixture buckets uploaded and authentication on.
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Allowed everything on S3.
    pub analyst: Creds,
    /// A user without any policy.
    pub nobody: Creds,
    /// Where the fixture buckets were written locally (`<dir>/<bucket>/<key>`).
    pub fixtures: PathBuf,
    /// The watchdog's stdin: when this process exits the pipe closes and the server stops.
    _guard: Mutex<(Child, ChildStdin)>,
}

/// `(moto_server, python)` or `None` when moto is not installed.
pub fn moto_paths() -> Option<(PathBuf, PathBuf)> {
    let server = match std::env::var_os("MOTO_SERVER") {
        Some(s) => PathBuf::from(s),
        None => crate::analytics_tool("moto_server"),
    };
    if !server.is_file() {
        return None;
    }
    let py = server.with_file_name("python");
    let py = if py.is_file() {
        py
    } else {
        PathBuf::from("python3")
    };
    Some((server, py))
}

/// The shared server of this test binary (started once), or `None` after printing
/// "SKIPPED: moto not installed".
pub fn moto() -> Option<&'static Moto> {
    static M: OnceLock<Option<Moto>> = OnceLock::new();
    let m = M.get_or_init(|| {
        let (server, py) = moto_paths()?;
        Some(start(&server, &py))
    });
    if m.is_none() {
        println!(
            "SKIPPED: moto not installed (pip install 'moto[server]' into <repo>/.venv-analytics or set MOTO_SERVER)"
        );
    }
    m.as_ref()
}

const WATCHDOG: &str = r#"
import subprocess, sys
p = subprocess.Popen([sys.argv[1], "-H", "127.0.0.1", "-p", sys.argv[2]],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print("started", flush=True)
sys.stdin.read()
p.terminate()
try:
    p.wait(10)
except Exception:
    p.kill()
"#;

const SETUP: &str = r#"
import boto3, json, os, sys, urllib.request
ep = sys.argv[1]; root = sys.argv[2]
kw = dict(endpoint_url=ep, region_name="us-east-1", aws_access_key_id="setup", aws_secret_access_key="setup")
iam = boto3.client("iam", **kw)
s3 = boto3.client("s3", **kw)
out = {}
for user, allowed in (("analyst", True), ("nobody", False)):
    iam.create_user(UserName=user)
    if allowed:
        iam.put_user_policy(UserName=user, PolicyName="s3all", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    k = iam.create_access_key(UserName=user)["AccessKey"]
    out[user] = {"id": k["AccessKeyId"], "secret": k["SecretAccessKey"]}
for bucket in sorted(os.listdir(root)):
    s3.create_bucket(Bucket=bucket)
    base = os.path.join(root, bucket)
    for d, _, files in os.walk(base):
        for f in files:
            path = os.path.join(d, f)
            key = os.path.relpath(path, base)
            with open(path, "rb") as fh:
                s3.put_object(Bucket=bucket, Key=key, Body=fh.read())
# From now on every request must be signed by a known key with a permitting policy.
urllib.request.urlopen(urllib.request.Request(ep + "/moto-api/reset-auth", data=b"0", method="POST",
                                              headers={"Content-Type": "text/plain"})).read()
print(json.dumps(out))
"#;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on 127.0.0.1")
}

fn start(server: &Path, py: &Path) -> Moto {
    let port = free_port();
    let mut child = Command::new(py)
        .arg("-c")
        .arg(WATCHDOG)
        .arg(server)
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("cannot start the moto watchdog");
    let stdin = child.stdin.take().expect("piped stdin");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("watchdog output");
    assert_eq!(line.trim(), "started", "moto watchdog did not start");
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "moto_server did not listen on {port} within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let endpoint = format!("http://127.0.0.1:{port}");

    let fixtures =
        std::env::temp_dir().join(format!("sf-s3-fixtures-{}-{port}", std::process::id()));
    let _ = std::fs::remove_dir_all(&fixtures);
    write_fixtures(&fixtures);
    let out = Command::new(py)
        .arg("-c")
        .arg(SETUP)
        .arg(&endpoint)
        .arg(&fixtures)
        .output()
        .expect("cannot run the fixture upload");
    assert!(
        out.status.success(),
        "fixture upload failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("setup output is JSON");
    let creds = |u: &str| Creds {
        id: v[u]["id"].as_str().expect("id").to_string(),
        secret: v[u]["secret"].as_str().expect("secret").to_string(),
    };
    Moto {
        endpoint,
        port,
        analyst: creds("analyst"),
        nobody: creds("nobody"),
        fixtures,
        _guard: Mutex::new((child, stdin)),
    }
}

/// One fixture trace: what it holds, to check what is read back.
#[derive(Debug, Clone, Copy)]
pub struct TraceSpec {
    /// Header exporter, unique per trace.
    pub exporter: &'static str,
    /// Pid of its process.
    pub pid: i64,
    /// Number of EXEC events (plus one FileFlow).
    pub events: usize,
}

/// Fixture buckets: `(bucket, key, Some(trace) | None for a non-trace object)`.
pub const OBJECTS: &[(&str, &str, Option<TraceSpec>)] = &[
    (
        "traces",
        "node1/2.sf",
        Some(TraceSpec {
            exporter: "n1-2",
            pid: 12,
            events: 3,
        }),
    ),
    (
        "traces",
        "node1/10.sf",
        Some(TraceSpec {
            exporter: "n1-10",
            pid: 110,
            events: 5,
        }),
    ),
    (
        "traces",
        "node2/with space+plus&amp.sf",
        Some(TraceSpec {
            exporter: "n2-sp",
            pid: 21,
            events: 1,
        }),
    ),
    (
        "traces",
        "node2/1.sf",
        Some(TraceSpec {
            exporter: "n2-1",
            pid: 20,
            events: 2,
        }),
    ),
    (
        "mixed",
        "a.sf",
        Some(TraceSpec {
            exporter: "mixed-a",
            pid: 31,
            events: 2,
        }),
    ),
    ("mixed", "b.txt", None),
    (
        "mixed",
        "c.sf",
        Some(TraceSpec {
            exporter: "mixed-c",
            pid: 33,
            events: 4,
        }),
    ),
    // Top-level keys only: the real sysprint lists buckets non-recursively.
    (
        "flat",
        "1.sf",
        Some(TraceSpec {
            exporter: "flat-1",
            pid: 41,
            events: 2,
        }),
    ),
    (
        "flat",
        "2.sf",
        Some(TraceSpec {
            exporter: "flat-2",
            pid: 42,
            events: 3,
        }),
    ),
];

/// Keys of `bucket` under `prefix` in S3 key order (UTF-8 byte order).
pub fn expected_keys(bucket: &str, prefix: &str) -> Vec<(&'static str, Option<TraceSpec>)> {
    let mut v: Vec<_> = OBJECTS
        .iter()
        .filter(|o| o.0 == bucket && o.1.starts_with(prefix))
        .map(|o| (o.1, o.2))
        .collect();
    v.sort_by_key(|o| o.0);
    v
}

fn write_fixtures(root: &Path) {
    for (bucket, key, spec) in OBJECTS {
        let path = root.join(bucket).join(key);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        match spec {
            Some(s) => std::fs::write(&path, trace_bytes(s)).expect("write trace"),
            None => std::fs::write(&path, b"just some notes, not an Avro file\n").expect("write"),
        }
    }
}

/// A small v5 trace: header, process, `events` EXEC events, one FileFlow writing a file.
pub fn trace_bytes(s: &TraceSpec) -> Vec<u8> {
    let oid = Oid {
        create_ts: 1_700_000_000_000_000_000,
        hpid: s.pid,
    };
    let mut w = Writer::new(Vec::new(), Codec::Deflate).expect("writer");
    let mut put = |r: SysFlow| w.write(&r).expect("write record");
    put(SysFlow::Header(SfHeader {
        version: 5,
        exporter: s.exporter.to_string(),
        ip: "127.0.0.1".into(),
        filename: format!("{}.sf", s.exporter),
    }));
    put(SysFlow::Process(Process {
        oid,
        ts: oid.create_ts,
        exe: "/bin/sh".into(),
        exe_args: "-c true".into(),
        uid: 0,
        user_name: "root".into(),
        group_name: "root".into(),
        cwd: "/".into(),
        ..Default::default()
    }));
    let path = format!("/tmp/{}.log", s.exporter);
    let foid = Foid::of("", &path);
    put(SysFlow::File(File {
        oid: foid,
        ts: oid.create_ts,
        restype: i32::from(b'f'),
        path,
        ..Default::default()
    }));
    for i in 0..s.events {
        put(SysFlow::ProcessEvent(ProcessEvent {
            proc_oid: oid,
            ts: oid.create_ts + 1000 * (i as i64 + 1),
            tid: s.pid,
            op_flags: OpFlags(OpFlags::EXEC),
            args: Vec::new(),
            ret: 0,
        }));
    }
    put(SysFlow::FileFlow(FileFlow {
        proc_oid: oid,
        ts: oid.create_ts + 500_000,
        tid: s.pid,
        op_flags: OpFlags(OpFlags::OPEN | OpFlags::WRITE | OpFlags::CLOSE),
        open_flags: OpenFlags(OpenFlags::WRONLY | OpenFlags::CREAT),
        end_ts: oid.create_ts + 900_000,
        file_oid: foid,
        fd: 3,
        num_r_recv_ops: 0,
        num_w_send_ops: 2,
        num_r_recv_bytes: 0,
        num_w_send_bytes: 64,
    }));
    w.finish().expect("finish")
}
