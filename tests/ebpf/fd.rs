//! Descriptor bookkeeping of the eBPF collector: duplicated descriptors (dup, dup2, dup3,
//! fcntl F_DUPFD_CLOEXEC) join the flow of their file or socket, dup2 onto an open descriptor
//! ends what was there; mmap and setns on a file are flow operations; the default
//! `filereadmode` drops reads under /dev but keeps a file created there unwritten.
//!
//! Needs root and the embedded probes; otherwise prints `SKIPPED: ...` and returns.

use std::{
    ffi::CString,
    fs,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    os::{fd::AsRawFd, unix::ffi::OsStrExt},
    path::Path,
};

use sysflow_model::{OpFlags, OpenFlags, SysFlow};
use testkit::ebpf::{all, file_flows, lock, net_flows, pid, tid};

use super::start;

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("path without NUL")
}

/// `open(2)` with explicit flags; panics on failure (test workload).
fn open(p: &Path, flags: i32) -> i32 {
    let c = cpath(p);
    // SAFETY: valid NUL-terminated path.
    let fd = unsafe { libc::open(c.as_ptr(), flags, 0o644) };
    assert!(fd >= 0, "open {}", p.display());
    fd
}

fn write(fd: i32, b: &[u8]) {
    // SAFETY: valid buffer of b.len() bytes.
    let n = unsafe { libc::write(fd, b.as_ptr().cast(), b.len()) };
    assert_eq!(n, b.len() as isize);
}

fn close(fd: i32) {
    // SAFETY: closing a descriptor this test opened.
    assert_eq!(unsafe { libc::close(fd) }, 0);
}

#[test]
fn ebpf_duplicated_descriptors_join_their_flows() {
    let _g = lock();
    let Some(rec) = start("dup", &[]) else {
        return;
    };
    let me = tid();
    let w = rec.dir.join("w");
    fs::create_dir(&w).expect("mkdir");
    let (a, c, d) = (w.join("a.txt"), w.join("c.txt"), w.join("d.txt"));
    let wr = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC;
    // SAFETY (all blocks below): plain syscalls on descriptors this test owns.
    let fa = open(&a, wr | libc::O_CLOEXEC);
    write(fa, b"12");
    let fb = unsafe { libc::dup(fa) };
    assert!(fb >= 0);
    write(fb, b"abc");
    close(fa);
    close(fb);
    let fc = open(&c, wr);
    let fd = open(&d, wr);
    write(fd, b"x");
    assert_eq!(
        unsafe { libc::dup2(fc, fd) },
        fd,
        "dup2 onto an open descriptor"
    );
    write(fd, b"yy");
    close(fd);
    assert_eq!(unsafe { libc::dup3(fc, 900, libc::O_CLOEXEC) }, 900);
    write(900, b"zzz");
    close(900);
    let ff = unsafe { libc::fcntl(fc, libc::F_DUPFD_CLOEXEC, 800) };
    assert!(ff >= 800);
    write(ff, b"wwww");
    close(ff);
    close(fc);
    let recs = rec.stop_checked();
    let s = |p: &Path| p.to_string_lossy().to_string();
    let (o, wf, cl, tr) = (
        OpFlags::OPEN,
        OpFlags::WRITE,
        OpFlags::CLOSE,
        OpFlags::TRUNCATE,
    );
    let of = OpenFlags::WRONLY | OpenFlags::CREAT | OpenFlags::TRUNC;
    let cx = OpenFlags::CLOEXEC;
    assert_eq!(
        file_flows(&recs, &w, me),
        vec![
            (s(&a), fa, o | wf | cl, of | cx, 0, 0, 1, 2),
            // The copy has the file's open flags but its own close-on-exec bit.
            (s(&a), fb, wf | cl, of, 0, 0, 1, 3),
            // dup2 ended d.txt's flow on that descriptor …
            (s(&d), fd, o | wf | tr, of, 0, 0, 1, 1),
            // … and the descriptor now writes to c.txt.
            (s(&c), fd, wf | cl, of, 0, 0, 1, 2),
            (s(&c), 900, wf | cl, of | cx, 0, 0, 1, 3),
            (s(&c), ff, wf | cl, of | cx, 0, 0, 1, 4),
            (s(&c), fc, o | cl, of, 0, 0, 0, 0),
        ]
    );
}

#[test]
fn ebpf_duplicated_socket_keeps_its_role() {
    let _g = lock();
    let Some(rec) = start("dupsock", &[]) else {
        return;
    };
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let client = std::thread::spawn(move || {
        let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        c.write_all(b"ping!").expect("client write");
        let mut buf = [0u8; 3];
        c.read_exact(&mut buf).expect("client read");
        c.local_addr().expect("local").port()
    });
    let (mut s, _) = l.accept().expect("accept");
    let mut buf = [0u8; 5];
    s.read_exact(&mut buf).expect("server read");
    // try_clone is fcntl(F_DUPFD_CLOEXEC): the copy is still the server end.
    let mut s2 = s.try_clone().expect("clone");
    s2.write_all(b"pon").expect("server write");
    let (sfd, s2fd) = (s.as_raw_fd(), s2.as_raw_fd());
    drop(s2);
    drop(s);
    let cport = client.join().expect("client");
    let (files, _) = rec.stop();
    let recs = all(files);
    let me = tid();
    let mut server: Vec<_> = net_flows(&recs, port as i32)
        .into_iter()
        .filter(|f| f.tid == me)
        .map(|f| {
            (
                f.fd,
                f.op_flags.0,
                f.sport,
                f.dport,
                f.num_r_recv_bytes,
                f.num_w_send_bytes,
            )
        })
        .collect();
    server.sort();
    let (p, c) = (port as i32, cport as i32);
    assert_eq!(
        server,
        vec![
            // s = client, d = server on the accepted descriptor and on its copy.
            (
                sfd,
                OpFlags::ACCEPT | OpFlags::READ | OpFlags::CLOSE,
                c,
                p,
                5,
                0
            ),
            (s2fd, OpFlags::WRITE | OpFlags::CLOSE, c, p, 0, 3),
        ]
    );
    assert!(recs
        .iter()
        .any(|r| matches!(r, SysFlow::Process(p2) if p2.oid.hpid == pid())));
}

#[test]
fn ebpf_mmap_of_a_file_is_a_flow_operation() {
    let _g = lock();
    let Some(rec) = start("mmap", &[]) else {
        return;
    };
    let me = tid();
    let w = rec.dir.join("w");
    fs::create_dir(&w).expect("mkdir");
    let m = w.join("m.bin");
    fs::write(&m, vec![7u8; 8192]).expect("write m");
    let f = fs::File::open(&m).expect("open m");
    let fd = f.as_raw_fd();
    // SAFETY: read-only private mapping of a file of 8192 bytes, unmapped below.
    let first = unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            8192,
            libc::PROT_READ,
            libc::MAP_PRIVATE,
            fd,
            0,
        );
        assert_ne!(p, libc::MAP_FAILED);
        let v = *(p as *const u8);
        libc::munmap(p, 8192);
        v
    };
    assert_eq!(first, 7);
    drop(f);
    let (files, _) = rec.stop();
    let recs = all(files);
    let flows: Vec<_> = file_flows(&recs, &w, me)
        .into_iter()
        .filter(|f| f.0 == m.to_string_lossy())
        .map(|f| (f.1, f.2, f.3))
        .collect();
    assert_eq!(
        flows.last(),
        Some(&(
            fd,
            OpFlags::OPEN | OpFlags::MMAP | OpFlags::CLOSE,
            OpenFlags::RDONLY | OpenFlags::CLOEXEC
        )),
        "flows on m.bin: {flows:?}"
    );
}

#[test]
fn ebpf_setns_is_a_flow_operation_kept_by_the_read_filter() {
    let _g = lock();
    // `sensor record`'s default filereadmode (2): read-only flows under /proc are dropped.
    let Some(rec) = start("setns", &[]) else {
        return;
    };
    let me = tid();
    let ns = Path::new("/proc/self/ns/net");
    let fd = open(ns, libc::O_RDONLY | libc::O_CLOEXEC);
    // SAFETY: joins the network namespace the thread is already in (needs CAP_SYS_ADMIN).
    assert_eq!(unsafe { libc::setns(fd, libc::CLONE_NEWNET) }, 0, "setns");
    close(fd);
    let (files, _) = rec.stop();
    let recs = all(files);
    let flows: Vec<_> = file_flows(&recs, Path::new("/proc/"), me)
        .into_iter()
        .filter(|f| f.0.ends_with("/ns/net"))
        .map(|f| (f.1, f.2, f.3))
        .collect();
    assert_eq!(
        flows,
        [(
            fd,
            OpFlags::OPEN | OpFlags::SETNS | OpFlags::CLOSE,
            OpenFlags::RDONLY | OpenFlags::CLOEXEC
        )],
        "flows on /proc/self/ns/net"
    );
}

#[test]
fn ebpf_default_read_filter_keeps_files_created_below_dev() {
    let _g = lock();
    let Some(rec) = start("devcreate", &[]) else {
        return;
    };
    let me = tid();
    let w = Path::new("/dev/shm").join(format!("sensor-devcreate-{}", pid()));
    fs::create_dir(&w).expect("mkdir below /dev/shm");
    let (made, read) = (w.join("made"), w.join("read"));
    fs::write(&read, b"x").expect("write read");
    // Created and closed unwritten (touch): kept. Opened read-only and read: dropped.
    close(open(
        &made,
        libc::O_WRONLY | libc::O_CREAT | libc::O_CLOEXEC,
    ));
    let mut b = Vec::new();
    fs::File::open(&read)
        .and_then(|mut f| f.read_to_end(&mut b))
        .expect("read");
    let (files, _) = rec.stop();
    let _ = fs::remove_dir_all(&w);
    let recs = all(files);
    let flows: Vec<_> = file_flows(&recs, &w, me)
        .into_iter()
        .map(|f| (f.0, f.2, f.3))
        .collect();
    let made = made.to_string_lossy().to_string();
    let read = read.to_string_lossy().to_string();
    let wr = OpenFlags::WRONLY | OpenFlags::CLOEXEC;
    assert!(
        flows.contains(&(made, OpFlags::OPEN | OpFlags::CLOSE, wr | OpenFlags::CREAT)),
        "no flow of the created file: {flows:?}"
    );
    // The write that made `read` is kept; its read-only open is not.
    assert!(
        !flows
            .iter()
            .any(|f| f.0 == read && f.1 & OpFlags::WRITE == 0),
        "a read-only flow below /dev was kept: {flows:?}"
    );
}
