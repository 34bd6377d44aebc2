//! Capabilities after the attach: the real `sensor run --input ebpf` and `sensor record` keep
//! only CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE (plus CAP_BPF on kernels that refuse map reads
//! without it) in every thread, with the bounding set reduced alike, no ambient or inheritable
//! capability and no_new_privs set; events still flow afterwards (including a write on a
//! descriptor another user opened before the sensor, which is resolved through /proc), the
//! exit summary still reads the drop counters, and `--keep-caps` leaves everything in place.
//!
//! Needs root and a sensor built after `cargo xtask build-ebpf --release`; otherwise it prints
//! `SKIPPED: ...` and returns.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use sysflow_model::{avro::Reader, OpFlags, SysFlow};
use testkit::ebpf::{lock, start_failed};
use testkit::run::{rule_ids, spawn_lines};

use super::sensor;

const CAP_DAC_READ_SEARCH: u32 = 2;
const CAP_SETUID: u32 = 7;
const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_MODULE: u32 = 16;
const CAP_SYS_PTRACE: u32 = 19;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;
/// The user the pre-existing descriptor holder runs as (nobody).
const OTHER_UID: u32 = 65534;

fn bit(c: u32) -> u64 {
    1 << c
}

/// A running sensor whose stdout (`true`) and stderr (`false`) lines arrive on `rx`.
struct Sensor {
    child: Child,
    rx: Receiver<(bool, String)>,
    log: Vec<String>,
}

impl Sensor {
    /// Starts the sensor and waits (bounded) for `ready` on stderr; `None` after printing
    /// SKIPPED when the probes cannot be loaded here.
    // The child is waited for on every path (here when it exits, in `stop` otherwise).
    #[allow(clippy::zombie_processes)]
    fn start(name: &str, mut cmd: Command, ready: &str) -> Option<Sensor> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("SKIPPED: {name}: loading eBPF probes needs root");
            return None;
        }
        let (child, rx) = spawn_lines(&mut cmd);
        let mut s = Sensor {
            child,
            rx,
            log: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match s.rx.recv_timeout(Duration::from_millis(200)) {
                // Only stderr (the log) is kept: exported alerts are looked at by the tests.
                Ok((true, _)) => {}
                Ok((false, l)) => {
                    let done = l.contains(ready);
                    s.log.push(l);
                    if done {
                        return Some(s);
                    }
                }
                Err(_) => {
                    if let Ok(Some(_)) = s.child.try_wait() {
                        s.log.extend(s.rx.try_iter().map(|(_, l)| l));
                        let all = s.log.join("\n");
                        start_failed(name, &all);
                        return None;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "{name}: sensor not ready:\n{}",
                        s.log.join("\n")
                    );
                }
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, wait, and return everything logged.
    fn stop(mut self) -> String {
        // Let the probes' last events reach the ring before the sensor drains it.
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let st = self.child.wait().expect("wait sensor");
        // The reader threads end at EOF; collect what they still have.
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Ok((is_out, l)) = self
            .rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if !is_out {
                self.log.push(l);
            }
        }
        let log = self.log.join("\n");
        assert_eq!(st.code(), Some(0), "{log}");
        log
    }
}

/// `key: value` lines of a `/proc/.../status` file, capability masks as numbers.
fn status(path: &Path) -> Option<[u64; 6]> {
    let s = std::fs::read_to_string(path).ok()?;
    let get = |key: &str| -> u64 {
        let v = s
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("{key} missing in {}", path.display()))
            .trim();
        u64::from_str_radix(v, 16).unwrap_or_else(|e| panic!("{key} {v:?}: {e}"))
    };
    Some([
        get("CapInh:"),
        get("CapPrm:"),
        get("CapEff:"),
        get("CapBnd:"),
        get("CapAmb:"),
        get("NoNewPrivs:"),
    ])
}

/// The status of the process and of each of its threads (a thread gone meanwhile is skipped).
fn all_statuses(pid: u32) -> Vec<(PathBuf, [u64; 6])> {
    let mut paths = vec![PathBuf::from(format!("/proc/{pid}/status"))];
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).expect("task dir") {
        paths.push(t.expect("task").path().join("status"));
    }
    paths
        .into_iter()
        .filter_map(|p| status(&p).map(|s| (p, s)))
        .collect()
}

/// Kernels from 6.5 on check privileges only when creating maps and loading programs, so
/// reading a map through a held fd needs no capability.
fn kernel_reads_maps_unprivileged() -> bool {
    let rel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut it = rel.split(|c: char| !c.is_ascii_digit());
    let major: u32 = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let minor: u32 = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    (major, minor) >= (6, 5)
}

/// The set the sensor must keep, as a mask; checks the sensor's reason for CAP_BPF.
fn expected_kept(log: &str) -> u64 {
    let bpf = log.contains("CAP_BPF kept for the drop counters");
    if kernel_reads_maps_unprivileged() {
        assert!(
            !bpf,
            "CAP_BPF kept on a kernel that does not need it:\n{log}"
        );
    }
    bit(CAP_DAC_READ_SEARCH) | bit(CAP_SYS_PTRACE) | if bpf { bit(CAP_BPF) } else { 0 }
}

fn assert_reduced(pid: u32, log: &str) {
    let kept = expected_kept(log);
    assert!(
        !log.contains("threads already run"),
        "the drop ran after other threads had started:\n{log}"
    );
    let sts = all_statuses(pid);
    assert!(sts.len() >= 2, "no thread status read");
    for (p, [inh, prm, eff, bnd, amb, nnp]) in sts {
        let p = p.display();
        assert_eq!(eff, kept, "{p}: CapEff {eff:x}, want {kept:x}");
        assert_eq!(prm, kept, "{p}: CapPrm {prm:x}, want {kept:x}");
        assert_eq!(bnd, kept, "{p}: CapBnd {bnd:x}, want {kept:x}");
        assert_eq!(inh, 0, "{p}: CapInh {inh:x}");
        assert_eq!(amb, 0, "{p}: CapAmb {amb:x}");
        assert_eq!(nnp, 1, "{p}: NoNewPrivs {nnp}");
        for c in [
            CAP_SYS_ADMIN,
            CAP_PERFMON,
            CAP_NET_ADMIN,
            CAP_SYS_MODULE,
            CAP_SETUID,
        ] {
            assert_eq!(eff & bit(c), 0, "{p}: capability {c} still effective");
        }
    }
}

/// A shell of another user that opened `path` as its stdout before the sensor started; on
/// "go" it writes to it, on "close" it closes it. The sensor never saw the open, so it must
/// read `/proc/<pid>/fd/1` of another user's process after its drop. (No `>&N` redirection
/// after the start: dash would dup2 and restore the descriptor around the write, and the
/// sensor reads /proc after the fact.)
struct Holder {
    child: Child,
    stdin: ChildStdin,
}

impl Holder {
    fn start(dir: &Path, path: &Path) -> Holder {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::write(path, "").expect("create");
        std::os::unix::fs::chown(path, Some(OTHER_UID), Some(OTHER_UID)).expect("chown");
        let mut child = Command::new("/bin/sh")
            .args([
                "-c",
                "exec 3>&1 1>>\"$1\"; echo ready >&3; exec 3>&-; \
                 read go; echo written; read close; exec 1>&-; read done",
                "sh",
            ])
            .arg(path)
            .uid(OTHER_UID)
            .gid(OTHER_UID)
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn holder");
        let stdin = child.stdin.take().expect("stdin");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("holder ready");
        assert_eq!(line.trim(), "ready");
        Holder { child, stdin }
    }

    fn say(&mut self, what: &str) {
        self.stdin.write_all(what.as_bytes()).expect("holder stdin");
    }

    fn end(mut self) {
        let _ = self.stdin.write_all(b"done\n");
        drop(self.stdin);
        let _ = self.child.wait();
    }
}

/// Create, write and unlink `fresh`, and run a marked shell (fork + exec).
fn workload(fresh: &Path, marker: &str) {
    std::fs::write(fresh, "data\n").expect("write");
    std::fs::remove_file(fresh).expect("unlink");
    let st = Command::new("/bin/sh")
        .args(["-c", &format!("true # {marker}")])
        .status()
        .expect("sh");
    assert!(st.success());
}

/// The exit summary line (`events=… drops=… drops.<class>=…`), every value a number.
fn assert_summary(log: &str) {
    let line = log
        .lines()
        .find(|l| l.contains("events=") && l.contains(" drops="))
        .unwrap_or_else(|| panic!("no exit summary:\n{log}"));
    let tail = &line[line.find("events=").expect("events=")..];
    let kv: Vec<(&str, &str)> = tail
        .split_whitespace()
        .filter_map(|t| t.split_once('='))
        .collect();
    for k in [
        "events",
        "drops",
        "drops.proc",
        "drops.io",
        "drops.read_fault",
    ] {
        assert!(kv.iter().any(|(key, _)| *key == k), "{k} missing: {line}");
    }
    for (k, v) in &kv {
        let v = v.trim_end_matches("/s");
        assert!(v.parse::<f64>().is_ok(), "{k}={v} is not a number: {line}");
    }
    let events: u64 = kv
        .iter()
        .find(|(k, _)| *k == "events")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    assert!(events > 0, "no event counted: {line}");
    assert!(
        !log.contains("drop counters cannot be read") && !log.contains("could not drop"),
        "{log}"
    );
}

#[test]
fn run_keeps_only_what_it_needs_and_still_reports() {
    let _g = lock();
    let tmp = tempfile::tempdir().unwrap();
    let marker = format!("sensor-privs-run-{}", std::process::id());
    let pre = tmp.path().join("pre-opened.txt");
    let fresh = tmp.path().join("fresh.txt");
    let rules = tmp.path().join("rules.yaml");
    std::fs::write(
        &rules,
        format!(
            "- rule: Marked exec\n  desc: d\n  \
             condition: sf.type = PE and sf.opflags = EXEC and sf.proc.args contains '{marker}'\n  \
             priority: low\n\
             - rule: Fresh write\n  desc: d\n  \
             condition: sf.type = FF and sf.file.path = '{f}' and sf.opflags contains WRITE\n  \
             priority: low\n\
             - rule: Fresh unlink\n  desc: d\n  \
             condition: sf.type = FE and sf.file.path = '{f}' and sf.opflags = UNLINK\n  \
             priority: low\n\
             - rule: Pre-opened write\n  desc: d\n  \
             condition: sf.type = FF and sf.file.path = '{p}' and sf.opflags contains WRITE\n  \
             priority: low\n",
            f = fresh.display(),
            p = pre.display()
        ),
    )
    .unwrap();
    let mut holder = Holder::start(tmp.path(), &pre);
    let mut cmd = sensor();
    cmd.args(["run", "--log", "info", "--input", "ebpf"])
        .env("POLICYENGINE_POLICIES", &rules);
    let Some(mut s) = Sensor::start("run", cmd, "capabilities dropped after attach") else {
        holder.end();
        return;
    };

    // Everything below happens after the drop.
    holder.say("go\n");
    let want = [
        "Marked exec",
        "Fresh write",
        "Fresh unlink",
        "Pre-opened write",
    ];
    let mut seen = std::collections::HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut rounds = 0;
    while seen.len() < want.len() && Instant::now() < deadline {
        workload(&fresh, &marker);
        rounds += 1;
        if rounds == 2 {
            // The sensor had a round to resolve the descriptor: closing it ends the flow.
            holder.say("close\n");
        }
        let until = Instant::now() + Duration::from_millis(1500);
        while let Ok((is_out, l)) =
            s.rx.recv_timeout(until.saturating_duration_since(Instant::now()))
        {
            if !is_out {
                s.log.push(l);
            } else if let Ok(v) = serde_json::from_str::<serde_json::Value>(&l) {
                seen.extend(rule_ids(&v).into_iter().filter(|r| want.contains(&&**r)));
            }
        }
    }
    holder.end();
    // Every pipeline thread exists by now: all of them must hold the reduced sets.
    let log = s.log.join("\n");
    assert_reduced(s.pid(), &log);
    let log = s.stop();
    for w in want {
        assert!(seen.contains(w), "no '{w}' alert after the drop:\n{log}");
    }
    assert_summary(&log);
}

#[test]
fn record_keeps_only_what_it_needs_and_still_rotates() {
    let _g = lock();
    let tmp = tempfile::tempdir().unwrap();
    let marker = format!("sensor-privs-record-{}", std::process::id());
    let pre = tmp.path().join("pre-opened.txt");
    let fresh = tmp.path().join("fresh.txt");
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let mut holder = Holder::start(tmp.path(), &pre);
    let mut cmd = sensor();
    cmd.args(["record", "-G", "1", "-w"])
        .arg(out.join("trace.sf"))
        .env("RUST_LOG", "info");
    let Some(mut s) = Sensor::start("record", cmd, "sensor: recording to") else {
        holder.end();
        return;
    };
    holder.say("go\n");
    workload(&fresh, &marker);
    // Past one rotation, so that a file is created after the drop.
    let until = Instant::now() + Duration::from_millis(2500);
    while let Ok((_, l)) =
        s.rx.recv_timeout(until.saturating_duration_since(Instant::now()))
    {
        s.log.push(l);
    }
    holder.say("close\n");
    holder.end();
    let log = s.log.join("\n");
    assert_reduced(s.pid(), &log);
    let log = s.stop();
    assert_summary(&log);

    let mut files: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 2, "no rotation after the drop: {files:?}");
    let mut recs = Vec::new();
    for f in &files {
        let r = Reader::new(std::fs::File::open(f).unwrap()).unwrap();
        recs.extend(r.map(|r| r.unwrap()));
    }
    let file_oid = |path: &Path| {
        recs.iter()
            .filter_map(|r| match r {
                SysFlow::File(f) if Path::new(&f.path) == path => Some(f.oid),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let (fresh_oids, pre_oids) = (file_oid(&fresh), file_oid(&pre));
    let has = |pred: &dyn Fn(&SysFlow) -> bool| recs.iter().any(pred);
    let marked: Vec<_> = recs
        .iter()
        .filter_map(|r| match r {
            SysFlow::Process(p) if p.exe_args.contains(&marker) => Some(p.oid),
            _ => None,
        })
        .collect();
    assert!(
        has(&|r| matches!(r, SysFlow::ProcessEvent(e)
            if e.op_flags.contains(OpFlags::EXEC) && marked.contains(&e.proc_oid))),
        "no exec record after the drop:\n{log}"
    );
    assert!(
        has(&|r| matches!(r, SysFlow::FileEvent(e)
            if e.op_flags.contains(OpFlags::UNLINK) && fresh_oids.contains(&e.file_oid))),
        "no unlink record after the drop:\n{log}"
    );
    assert!(
        has(&|r| matches!(r, SysFlow::FileFlow(f)
            if f.op_flags.contains(OpFlags::WRITE) && fresh_oids.contains(&f.file_oid))),
        "no write flow after the drop:\n{log}"
    );
    assert!(
        has(&|r| matches!(r, SysFlow::FileFlow(f)
            if f.op_flags.contains(OpFlags::WRITE) && pre_oids.contains(&f.file_oid) && f.fd == 1)),
        "the pre-opened descriptor of uid {OTHER_UID} was not resolved after the drop:\n{log}"
    );
}

#[test]
fn keep_caps_leaves_every_capability() {
    let _g = lock();
    let mut cmd = sensor();
    cmd.args(["run", "--log", "info", "--input", "ebpf", "--keep-caps"]);
    let Some(s) = Sensor::start("keep-caps", cmd, "--keep-caps: capabilities left") else {
        return;
    };
    let sts = all_statuses(s.pid());
    let log = s.stop();
    for (p, [_, _, eff, bnd, _, nnp]) in sts {
        for c in [CAP_SYS_ADMIN, CAP_BPF, CAP_PERFMON] {
            assert_ne!(
                eff & bit(c),
                0,
                "{}: capability {c} dropped:\n{log}",
                p.display()
            );
            assert_ne!(
                bnd & bit(c),
                0,
                "{}: capability {c} not bounded",
                p.display()
            );
        }
        assert_eq!(nnp, 0, "{}: NoNewPrivs set with --keep-caps", p.display());
    }
    assert!(!log.contains("capabilities dropped after attach"), "{log}");
}
