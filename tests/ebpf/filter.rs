//! In-kernel exclusion by process name (`--exclude-comm`): the I/O of a thread renamed to an
//! excluded name never reaches the ring (counted as `filtered`, not as drops), while another
//! thread of the same process is recorded as usual.
//!
//! Event classes (`--events`): what is left out is not reported, and with none at all the
//! `sys_exit` program is not attached.
//!
//! Needs root and the embedded probes; otherwise prints `SKIPPED: ...` and returns.

use std::{collections::HashMap, ffi::CString, fs, os::unix::ffi::OsStrExt, path::Path};

use sysflow_model::{OpFlags, SysFlow};
use testkit::ebpf::{all, assert_self_contained, file_path, lock, pid, tcp_exchange};

use super::start;

const QUIET: &str = "sfx-quiet";
const LOUD: &str = "sfx-loud";
/// Writes per thread, and bytes per write.
const WRITES: i64 = 3;
const CHUNK: &[u8] = b"hello";

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("path without NUL")
}

/// In a new thread named `name` (prctl(PR_SET_NAME), as a program renames one thread):
/// create `<name>.txt`, write it `WRITES` times, close it, unlink `<name>-gone`, then run
/// `/bin/sh -c 'echo hi > <name>-exec.txt'` (its comm becomes `sh` at exec). Returns the
/// thread id and the shell's pid.
fn workload(dir: &Path, name: &'static str) -> (i64, i64) {
    let file = cpath(&dir.join(format!("{name}.txt")));
    let gone = cpath(&dir.join(format!("{name}-gone")));
    let script = format!("echo hi > {}/{name}-exec.txt", dir.display());
    std::thread::spawn(move || {
        let cname = CString::new(name).expect("name");
        // SAFETY (all blocks): plain syscalls on this thread's own name, paths and descriptor.
        unsafe {
            assert_eq!(libc::prctl(libc::PR_SET_NAME, cname.as_ptr()), 0);
            let fd = libc::open(
                file.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
                0o644,
            );
            assert!(fd >= 0, "open");
            for _ in 0..WRITES {
                let n = libc::write(fd, CHUNK.as_ptr().cast(), CHUNK.len());
                assert_eq!(n, CHUNK.len() as isize);
            }
            assert_eq!(libc::close(fd), 0);
            assert_eq!(libc::unlink(gone.as_ptr()), 0, "unlink");
        }
        let mut sh = std::process::Command::new("/bin/sh")
            .args(["-c", &script])
            .spawn()
            .expect("spawn sh");
        assert!(sh.wait().expect("wait sh").success());
        // SAFETY: gettid has no preconditions.
        (unsafe { libc::gettid() } as i64, sh.id() as i64)
    })
    .join()
    .expect("workload thread")
}

/// (path, opflags, write ops, write bytes) of `tid`'s file flows, and (path, opflags) of its
/// file events, under `dir`.
type Seen = (Vec<(String, u32, i64, i64)>, Vec<(String, u32)>);

/// What the shell run by the thread did: its EXEC event was seen, and the paths under `dir`
/// of its file flows with their opflags OR-ed and their write bytes summed (the shell moves
/// the descriptor of a redirection with dup, so one file may have several flows).
fn shell(recs: &[SysFlow], dir: &Path, sh: i64) -> (bool, Vec<String>, u32, i64) {
    let dir = dir.to_string_lossy().to_string();
    let exec = recs.iter().any(|r| {
        matches!(r, SysFlow::ProcessEvent(e)
            if e.proc_oid.hpid == sh && e.op_flags.0 & OpFlags::EXEC != 0)
    });
    let (mut paths, mut flags, mut bytes) = (Vec::new(), 0, 0);
    for r in recs {
        if let SysFlow::FileFlow(f) = r {
            let path = file_path(recs, &f.file_oid);
            if f.proc_oid.hpid == sh && path.starts_with(&dir) {
                if !paths.contains(&path) {
                    paths.push(path);
                }
                flags |= f.op_flags.0 & (OpFlags::OPEN | OpFlags::WRITE | OpFlags::CLOSE);
                bytes += f.num_w_send_bytes;
            }
        }
    }
    (exec, paths, flags, bytes)
}

fn seen(recs: &[SysFlow], dir: &Path, tid: i64) -> Seen {
    let dir = dir.to_string_lossy().to_string();
    let mut flows = Vec::new();
    let mut events = Vec::new();
    for r in recs {
        match r {
            SysFlow::FileFlow(f) if f.tid == tid && f.proc_oid.hpid == pid() => flows.push((
                file_path(recs, &f.file_oid),
                f.op_flags.0,
                f.num_w_send_ops,
                f.num_w_send_bytes,
            )),
            SysFlow::FileEvent(f) if f.tid == tid && f.proc_oid.hpid == pid() => {
                events.push((file_path(recs, &f.file_oid), f.op_flags.0))
            }
            _ => {}
        }
    }
    flows.retain(|f| f.0.starts_with(&dir));
    events.retain(|e| e.0.starts_with(&dir));
    (flows, events)
}

/// What one thread's workload must produce.
fn expected(dir: &Path, name: &str) -> Seen {
    let p = |f: String| dir.join(f).to_string_lossy().to_string();
    (
        vec![(
            p(format!("{name}.txt")),
            OpFlags::OPEN | OpFlags::WRITE | OpFlags::CLOSE,
            WRITES,
            WRITES * CHUNK.len() as i64,
        )],
        vec![(p(format!("{name}-gone")), OpFlags::UNLINK)],
    )
}

fn summary_map(summary: &str) -> HashMap<String, u64> {
    summary
        .trim_start_matches("sensor: ")
        .split_whitespace()
        .filter_map(|t| t.split_once('='))
        .filter_map(|(k, v)| Some((k.to_string(), v.trim_end_matches("/s").parse().ok()?)))
        .collect()
}

/// What one run produced: (seen, expected) for the quiet and the loud thread, the summary.
struct Run {
    quiet: Seen,
    want_quiet: Seen,
    loud: Seen,
    want_loud: Seen,
    summary: HashMap<String, u64>,
}

/// Runs both threads' workloads under a sensor started with `extra`; checks that the shells
/// they ran are recorded (their comm is `sh`, not excluded) and returns the rest.
fn run(name: &str, extra: &[&str]) -> Option<Run> {
    let rec = start(name, extra)?;
    let dir = rec.dir.join("w");
    fs::create_dir(&dir).expect("mkdir");
    for n in [QUIET, LOUD] {
        fs::write(dir.join(format!("{n}-gone")), b"x").expect("victim file");
    }
    let (quiet, quiet_sh) = workload(&dir, QUIET);
    let (loud, loud_sh) = workload(&dir, LOUD);
    let (files, summary) = rec.stop();
    for (_, recs) in &files {
        assert_self_contained(recs);
    }
    let recs = all(files);
    let m = summary_map(&summary);
    assert!(m.contains_key("filtered"), "summary: {summary}");
    assert_eq!(m.get("drops"), Some(&0), "summary: {summary}");
    for (n, sh) in [(QUIET, quiet_sh), (LOUD, loud_sh)] {
        // Life-cycle events are never filtered, and the exec renamed the child to `sh`.
        let want = (
            true,
            vec![dir
                .join(format!("{n}-exec.txt"))
                .to_string_lossy()
                .to_string()],
            OpFlags::OPEN | OpFlags::WRITE | OpFlags::CLOSE,
            3,
        );
        assert_eq!(shell(&recs, &dir, sh), want, "shell run by {n}");
    }
    Some(Run {
        quiet: seen(&recs, &dir, quiet),
        want_quiet: expected(&dir, QUIET),
        loud: seen(&recs, &dir, loud),
        want_loud: expected(&dir, LOUD),
        summary: m,
    })
}

#[test]
fn ebpf_excluded_comm_is_filtered_in_the_kernel() {
    let _g = lock();
    let Some(r) = run("exclude", &["--exclude-comm", QUIET]) else {
        return;
    };
    assert_eq!(r.loud, r.want_loud, "the other thread is recorded as usual");
    assert_eq!(r.quiet, (vec![], vec![]), "nothing of the excluded thread");
    // open, 3 writes, close, unlink (plus whatever else the thread and the shell's child did
    // under that name before the exec).
    let quiet_syscalls = 1 + WRITES as u64 + 1 + 1;
    let m = &r.summary;
    assert!(m["filtered"] >= quiet_syscalls, "{m:?}");
}

/// The same workload without the flag: both threads' records are there and nothing is
/// filtered (the check above can fail).
#[test]
fn ebpf_without_exclusion_both_threads_are_recorded() {
    let _g = lock();
    let Some(r) = run("noexclude", &[]) else {
        return;
    };
    assert_eq!(r.loud, r.want_loud);
    assert_eq!(r.quiet, r.want_quiet);
    assert_eq!(r.summary["filtered"], 0, "{:?}", r.summary);
}

#[test]
fn ebpf_too_long_comm_is_refused() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sensor"))
        .args([
            "record",
            "-w",
            "/nonexistent/x.sf",
            "--exclude-comm",
            "sixteen-bytes-xx",
        ])
        .output()
        .expect("run sensor");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("sixteen-bytes-xx") && err.contains("15 bytes"),
        "{err}"
    );
}

/// What a run with `--events` recorded of [`mixed_workload`]: file flows and file events
/// under the directory, network flows on the port, SETUID events of this process, and the
/// child's EXEC.
#[derive(Debug, PartialEq)]
struct Kinds {
    file_flows: bool,
    file_events: bool,
    net_flows: bool,
    setuid: bool,
    child_exec: bool,
}

/// The kinds expected with the child's EXEC, which every class list keeps.
fn want(file_flows: bool, file_events: bool, net_flows: bool, setuid: bool) -> Kinds {
    Kinds {
        file_flows,
        file_events,
        net_flows,
        setuid,
        child_exec: true,
    }
}

/// Write and rename a file, a TCP exchange on 127.0.0.1, setuid(0) (root keeps its ids), and
/// run /bin/true. Returns the port and the child's pid.
fn mixed_workload(dir: &Path) -> (u16, i64) {
    fs::write(dir.join("ev.txt"), b"abc").expect("write");
    fs::rename(dir.join("ev.txt"), dir.join("ev2.txt")).expect("rename");
    let (port, _) = tcp_exchange("127.0.0.1:0");
    // SAFETY: setuid to the current uid (root) changes nothing.
    assert_eq!(unsafe { libc::setuid(0) }, 0);
    let mut child = std::process::Command::new("/bin/true")
        .spawn()
        .expect("spawn true");
    assert!(child.wait().expect("wait true").success());
    (port, child.id() as i64)
}

/// Run [`mixed_workload`] under `sensor record --events <events>`; the banner and the kinds.
fn events_run(name: &str, events: &str) -> Option<(String, Kinds)> {
    let rec = start(name, &["--events", events])?;
    let banner = rec.banner.clone();
    let dir = rec.dir.join("w");
    fs::create_dir(&dir).expect("mkdir");
    let (port, child) = mixed_workload(&dir);
    let (files, summary) = rec.stop();
    for (_, recs) in &files {
        assert_self_contained(recs);
    }
    assert_eq!(summary_map(&summary).get("drops"), Some(&0), "{summary}");
    let recs = all(files);
    let d = dir.to_string_lossy().to_string();
    let under = |foid| file_path(&recs, foid).starts_with(&d);
    let port = port as i32;
    let me = pid();
    let k = Kinds {
        file_flows: recs
            .iter()
            .any(|r| matches!(r, SysFlow::FileFlow(f) if under(&f.file_oid))),
        file_events: recs
            .iter()
            .any(|r| matches!(r, SysFlow::FileEvent(f) if under(&f.file_oid))),
        net_flows: recs.iter().any(|r| {
            matches!(r, SysFlow::NetworkFlow(n)
                if n.proc_oid.hpid == me && (n.sport == port || n.dport == port))
        }),
        setuid: recs.iter().any(|r| {
            matches!(r, SysFlow::ProcessEvent(e)
                if e.proc_oid.hpid == me && e.op_flags.0 & OpFlags::SETUID != 0)
        }),
        child_exec: recs.iter().any(|r| {
            matches!(r, SysFlow::ProcessEvent(e)
                if e.proc_oid.hpid == child && e.op_flags.0 & OpFlags::EXEC != 0)
        }),
    };
    Some((banner, k))
}

#[test]
fn ebpf_events_none_records_the_process_life_cycle_only() {
    let _g = lock();
    let Some((banner, k)) = events_run("evnone", "none") else {
        return;
    };
    // exec, fork, exit and cgroup attach; no sys_exit program.
    assert!(banner.contains("(4 probes attached"), "{banner}");
    assert_eq!(k, want(false, false, false, false));
}

#[test]
fn ebpf_events_select_files_sockets_and_setuid_separately() {
    let _g = lock();
    let Some((banner, net)) = events_run("evnet", "net") else {
        return;
    };
    assert!(banner.contains("(5 probes attached"), "{banner}");
    assert_eq!(net, want(false, false, true, false));
    let Some((_, file)) = events_run("evfile", "file,setuid") else {
        return;
    };
    assert_eq!(file, want(true, true, false, true));
    // The default reports all of them (the checks above can fail).
    let Some((_, every)) = events_run("evall", "all") else {
        return;
    };
    assert_eq!(every, want(true, true, true, true));
}

/// Without setuid events (`--events none`), a child still gets the credentials of the thread
/// that forked it (from the fork event), not the parent's last reported ones: one thread of
/// this root process becomes nobody with a raw setresuid (its own credentials only) and runs
/// /bin/true.
#[test]
fn ebpf_child_gets_the_forking_threads_credentials_without_setuid_events() {
    let _g = lock();
    let Some(rec) = start("evuid", &["--events", "none"]) else {
        return;
    };
    let child = std::thread::spawn(|| {
        // SAFETY: the raw syscall changes this thread's credentials only; the thread ends here.
        let r = unsafe { libc::syscall(libc::SYS_setresuid, 65534, 65534, 65534) };
        assert_eq!(r, 0, "setresuid");
        let mut c = std::process::Command::new("/bin/true")
            .spawn()
            .expect("spawn true");
        assert!(c.wait().expect("wait true").success());
        c.id() as i64
    })
    .join()
    .expect("nobody thread");
    let (files, _) = rec.stop();
    let recs = all(files);
    let uids: Vec<i32> = recs
        .iter()
        .filter_map(|r| match r {
            SysFlow::Process(p) if p.oid.hpid == child => Some(p.uid),
            _ => None,
        })
        .collect();
    // CREATED at the clone, MODIFIED at the exec: both as nobody.
    assert!(uids.len() >= 2, "{uids:?}");
    assert!(uids.iter().all(|&u| u == 65534), "{uids:?}");
}
