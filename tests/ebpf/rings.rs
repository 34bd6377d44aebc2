//! One ring buffer per CPU (`--cpus-per-ring 1`): a thread that migrates between CPUs writes
//! its events into different rings, and a fork's child starts on another CPU than its
//! parent. The collector must merge the rings back into time order, or a close would be
//! seen before the write that preceded it.
//!
//! Needs root, the embedded probes and at least two CPUs; otherwise prints `SKIPPED: ...`.

use std::{ffi::CString, fs, os::unix::ffi::OsStrExt, path::Path};

use sysflow_model::{OpFlags, SysFlow};
use testkit::ebpf::{all, assert_self_contained, file_path, lock, pid, possible_cpus, tid};

use super::start;

/// Move the calling thread to `cpu`; the kernel migrates it before the call returns.
fn pin(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET stays within it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        assert_eq!(
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set),
            0,
            "sched_setaffinity to CPU {cpu}"
        );
    }
}

fn write_all(fd: i32, b: &[u8]) {
    // SAFETY: valid buffer of b.len() bytes.
    assert_eq!(
        unsafe { libc::write(fd, b.as_ptr().cast(), b.len()) },
        b.len() as isize
    );
}

fn open_w(p: &Path) -> i32 {
    let c = CString::new(p.as_os_str().as_bytes()).expect("path without NUL");
    // SAFETY: valid NUL-terminated path.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_WRONLY | libc::O_CREAT, 0o644) };
    assert!(fd >= 0, "open {}", p.display());
    fd
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[test]
fn ebpf_rings_per_cpu_are_merged_in_time_order() {
    let _g = lock();
    // Before any pinning: available_parallelism follows the thread's affinity.
    let ncpu = cpus();
    if ncpu < 2 {
        eprintln!("SKIPPED: ebpf_rings: needs at least two CPUs");
        return;
    }
    let Some(rec) = start("rings", &["--cpus-per-ring", "1"]) else {
        return;
    };
    let w = rec.dir.join("w");
    fs::create_dir(&w).expect("mkdir");
    const N: usize = 50;
    let me = tid();
    // Each file: opened and written on CPU 1, written again and closed on CPU 0, so its
    // open and first write are in ring 1 and its second write and close in ring 0.
    for i in 0..N {
        pin(1);
        let fd = open_w(&w.join(format!("f{i}")));
        write_all(fd, b"abc");
        pin(0);
        write_all(fd, b"de");
        // SAFETY: closing the descriptor opened above.
        assert_eq!(unsafe { libc::close(fd) }, 0);
    }
    // A fork on CPU 0 whose child runs on CPU 1 and writes a file there.
    pin(0);
    let child_file = w.join("child");
    let cf = CString::new(child_file.as_os_str().as_bytes()).expect("path");
    // SAFETY: the child only makes async-signal-safe syscalls, then _exit.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork");
    if child == 0 {
        // SAFETY: see above.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(1, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
            let fd = libc::open(cf.as_ptr(), libc::O_WRONLY | libc::O_CREAT, 0o644);
            libc::write(fd, b"xyz".as_ptr().cast(), 3);
            libc::close(fd);
            libc::_exit(0);
        }
    }
    let mut status = 0;
    // SAFETY: waiting for the child forked above.
    assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
    let (files, summary) = rec.stop();
    assert!(
        summary.contains(&format!(" rings={}", possible_cpus().min(16))),
        "one ring per CPU: {summary}"
    );
    assert!(summary.contains(" drops=0 "), "{summary}");
    for (_, r) in &files {
        assert_self_contained(r);
    }
    let recs = all(files);
    let dir = w.to_string_lossy().to_string();
    let (o, wr, cl) = (OpFlags::OPEN, OpFlags::WRITE, OpFlags::CLOSE);
    let mut flows: Vec<(String, u32, i64, i64)> = recs
        .iter()
        .filter_map(|r| match r {
            SysFlow::FileFlow(f) if f.tid == me => Some((
                file_path(&recs, &f.file_oid),
                f.op_flags.0,
                f.num_w_send_ops,
                f.num_w_send_bytes,
            )),
            _ => None,
        })
        .filter(|f| f.0.starts_with(&dir))
        .collect();
    flows.sort();
    let mut want: Vec<(String, u32, i64, i64)> = (0..N)
        .map(|i| (format!("{dir}/f{i}"), o | wr | cl, 2, 5))
        .collect();
    want.sort();
    assert_eq!(
        flows, want,
        "each file: one flow, both writes, then the close"
    );
    // The child: its process record names this process as parent, and its file flow is
    // complete although its first events were in another ring than the fork.
    let child_proc = recs.iter().find_map(|r| match r {
        SysFlow::Process(p) if p.oid.hpid == child as i64 => Some(p.clone()),
        _ => None,
    });
    let child_proc = child_proc.expect("the child's process record");
    assert_eq!(child_proc.poid.map(|p| p.hpid), Some(pid()));
    let child_flows: Vec<(String, u32, i64)> = recs
        .iter()
        .filter_map(|r| match r {
            SysFlow::FileFlow(f) if f.proc_oid.hpid == child as i64 => Some((
                file_path(&recs, &f.file_oid),
                f.op_flags.0,
                f.num_w_send_bytes,
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        child_flows,
        vec![(child_file.to_string_lossy().to_string(), o | wr | cl, 3)]
    );
}
