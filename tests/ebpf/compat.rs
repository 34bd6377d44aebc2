//! ia32 (compat) syscalls under the eBPF collector: this 64-bit test thread issues 32-bit
//! syscalls with `int $0x80` (ia32 numbers, arguments in ebx/ecx/edx/esi/edi/ebp, pointers
//! below 4 GiB) and the records must be those of the same workload done natively. An ia32
//! number must never be taken for the x86-64 syscall of the same number (ia32 read = 3 is
//! x86-64 close).
//!
//! Needs root, the embedded probes and ia32 emulation in the kernel; otherwise each test
//! prints `SKIPPED: ...` and returns.

use std::{
    fs,
    io::{Read, Write},
    net::{TcpListener, UdpSocket},
    os::unix::ffi::OsStrExt,
    path::Path,
};

use sysflow_model::{OpFlags, OpenFlags, SysFlow};
use testkit::ebpf::{all, file_flows, file_path, lock, net_flows, tid, Recording};
use testkit::ia32::{self, nr, sys, Low, AT_FDCWD};

use super::start;

/// Start the sensor when both BPF and ia32 emulation are available.
fn start_compat(name: &str) -> Option<Recording> {
    if let Err(why) = ia32::available() {
        eprintln!("SKIPPED: {name}: {why}");
        return None;
    }
    start(name, &[])
}

fn s(p: &Path) -> String {
    p.to_string_lossy().to_string()
}

const O_WRONLY: u32 = 0o1;
const O_RDWR: u32 = 0o2;
const O_CREAT: u32 = 0o100;
const O_TRUNC: u32 = 0o1000;

#[test]
fn ebpf_ia32_file_io_is_a_file_flow() {
    let _g = lock();
    let Some(rec) = start_compat("ia32io") else {
        return;
    };
    let me = tid();
    let w = rec.dir.join("w");
    fs::create_dir(&w).expect("mkdir");
    let (a, c) = (w.join("a.txt"), w.join("c.txt"));
    let mut low = Low::new();
    let (pa, pc) = (low.path(&a), low.path(&c));
    let data = low.bytes(b"hello world");
    let buf = low.buf(64);
    // SAFETY (every block below): ia32 syscalls on paths and buffers of the arena.
    let fa = unsafe { sys(nr::OPEN, &[pa, O_WRONLY | O_CREAT | O_TRUNC, 0o644]) };
    assert!(fa >= 0, "ia32 open: {fa}");
    let fa_u = fa as u32;
    assert_eq!(unsafe { sys(nr::WRITE, &[fa_u, data, 5]) }, 5);
    // A 32-bit iovec is {u32 base, u32 len}: " world" then "he".
    let wiov = low.u32s(&[data + 5, 6, data, 2]);
    assert_eq!(unsafe { sys(nr::WRITEV, &[fa_u, wiov, 2]) }, 8);
    // pwrite64(fd, buf, count, pos_lo, pos_hi) at offset 100.
    assert_eq!(unsafe { sys(nr::PWRITE64, &[fa_u, data, 3, 100, 0]) }, 3);
    assert_eq!(unsafe { sys(nr::CLOSE, &[fa_u]) }, 0);

    let fr = unsafe { sys(nr::OPENAT, &[AT_FDCWD, pa, 0]) };
    assert!(fr >= 0, "ia32 openat: {fr}");
    let fr_u = fr as u32;
    assert_eq!(unsafe { sys(nr::READ, &[fr_u, buf, 4]) }, 4);
    let riov = low.u32s(&[buf, 2, buf + 2, 3]);
    assert_eq!(unsafe { sys(nr::READV, &[fr_u, riov, 2]) }, 5);
    assert_eq!(unsafe { sys(nr::PREAD64, &[fr_u, buf, 3, 100, 0]) }, 3);
    assert_eq!(low.read(buf, 3), b"hel");
    assert_eq!(unsafe { sys(nr::CLOSE, &[fr_u]) }, 0);

    let fc = unsafe { sys(nr::CREAT, &[pc, 0o644]) };
    assert!(fc >= 0, "ia32 creat: {fc}");
    let fc_u = fc as u32;
    assert_eq!(unsafe { sys(nr::WRITE, &[fc_u, data, 2]) }, 2);
    let fd = unsafe { sys(nr::DUP, &[fc_u]) };
    assert!(fd >= 0, "ia32 dup: {fd}");
    assert_eq!(unsafe { sys(nr::WRITE, &[fd as u32, data, 1]) }, 1);
    // fcntl64(F_DUPFD_CLOEXEC = 1030, 700) and dup3(fd, 710, O_CLOEXEC).
    let fe = unsafe { sys(nr::FCNTL64, &[fc_u, 1030, 700]) };
    assert!(fe >= 700, "ia32 fcntl64: {fe}");
    assert_eq!(unsafe { sys(nr::WRITE, &[fe as u32, data, 4]) }, 4);
    assert_eq!(unsafe { sys(nr::DUP3, &[fc_u, 710, 0o2000000]) }, 710);
    assert_eq!(unsafe { sys(nr::WRITE, &[710, data, 6]) }, 6);
    for f in [fc_u, fd as u32, fe as u32, 710] {
        assert_eq!(unsafe { sys(nr::CLOSE, &[f]) }, 0);
    }
    let recs = rec.stop_checked();
    let (o, r, wr, cl) = (OpFlags::OPEN, OpFlags::READ, OpFlags::WRITE, OpFlags::CLOSE);
    let wflags = OpenFlags::WRONLY | OpenFlags::CREAT | OpenFlags::TRUNC;
    let cx = OpenFlags::CLOEXEC;
    assert_eq!(
        file_flows(&recs, &w, me),
        vec![
            (s(&a), fa, o | wr | cl, wflags, 0, 0, 3, 16),
            (s(&a), fr, o | r | cl, OpenFlags::RDONLY, 3, 12, 0, 0),
            (s(&c), fc, o | wr | cl, wflags, 0, 0, 1, 2),
            (s(&c), fd, wr | cl, wflags, 0, 0, 1, 1),
            (s(&c), fe, wr | cl, wflags | cx, 0, 0, 1, 4),
            (s(&c), 710, wr | cl, wflags | cx, 0, 0, 1, 6),
        ]
    );
}

#[test]
fn ebpf_ia32_mmap2_and_old_mmap_of_a_file_are_flow_operations() {
    let _g = lock();
    let Some(rec) = start_compat("ia32mmap") else {
        return;
    };
    let me = tid();
    let w = rec.dir.join("w");
    fs::create_dir(&w).expect("mkdir");
    let (m2, m1) = (w.join("m2.bin"), w.join("m1.bin"));
    fs::write(&m2, [7u8; 4096]).expect("write m2");
    fs::write(&m1, [7u8; 4096]).expect("write m1");
    let mut low = Low::new();
    let (p2, p1) = (low.path(&m2), low.path(&m1));
    const PROT_READ: u32 = 1;
    const MAP_PRIVATE: u32 = 2;
    // A mapping address or -errno (the last page of the address space is never mapped).
    let mapped = |r: i32| (r as u32) < 0xffff_f000;
    // SAFETY (every block below): ia32 calls on files of this test and arena memory; the
    // mappings are unmapped again and never touched.
    let f2 = unsafe { sys(nr::OPEN, &[p2, 0]) };
    assert!(f2 >= 0);
    // mmap2(addr, len, prot, flags, fd, pgoff): fd in edi.
    let a2 = unsafe { sys(nr::MMAP2, &[0, 4096, PROT_READ, MAP_PRIVATE, f2 as u32, 0]) };
    assert!(mapped(a2), "ia32 mmap2: {a2}");
    assert_eq!(unsafe { sys(nr::MUNMAP, &[a2 as u32, 4096]) }, 0);
    assert_eq!(unsafe { sys(nr::CLOSE, &[f2 as u32]) }, 0);
    let f1 = unsafe { sys(nr::OPEN, &[p1, 0]) };
    assert!(f1 >= 0);
    // Old mmap: one pointer to {addr, len, prot, flags, fd, offset}.
    let arg = low.u32s(&[0, 4096, PROT_READ, MAP_PRIVATE, f1 as u32, 0]);
    let a1 = unsafe { sys(nr::MMAP, &[arg]) };
    assert!(mapped(a1), "ia32 old mmap: {a1}");
    assert_eq!(unsafe { sys(nr::MUNMAP, &[a1 as u32, 4096]) }, 0);
    assert_eq!(unsafe { sys(nr::CLOSE, &[f1 as u32]) }, 0);
    let (files, _) = rec.stop();
    let recs = all(files);
    let flows: Vec<_> = file_flows(&recs, &w, me)
        .into_iter()
        // The ia32 read-only opens (the files were written natively before).
        .filter(|f| f.3 == OpenFlags::RDONLY)
        .map(|f| (f.0, f.1, f.2))
        .collect();
    let omc = OpFlags::OPEN | OpFlags::MMAP | OpFlags::CLOSE;
    assert_eq!(flows, vec![(s(&m2), f2, omc), (s(&m1), f1, omc)]);
}

#[test]
fn ebpf_ia32_transfers_and_v2_vectored_calls_are_flow_io() {
    let _g = lock();
    let Some(rec) = start_compat("ia32xfer") else {
        return;
    };
    let me = tid();
    let w = rec.dir.join("w");
    fs::create_dir(&w).expect("mkdir");
    let src = w.join("src.bin");
    fs::write(&src, vec![b'x'; 6000]).expect("write src");
    let dst = w.join("dst.bin");
    let mut low = Low::new();
    let (ps, pd) = (low.path(&src), low.path(&dst));
    let buf = low.buf(256);
    let fds = low.buf(8);
    // SAFETY (every block below): ia32 syscalls on paths and buffers of the arena.
    let a = unsafe { sys(nr::OPEN, &[ps, 0]) } as u32;
    let b = unsafe { sys(nr::OPEN, &[pd, O_WRONLY | O_CREAT | O_TRUNC, 0o644]) } as u32;
    assert!((a as i32) >= 0 && (b as i32) >= 0);
    // sendfile(out, in, NULL, count), sendfile64 likewise.
    assert_eq!(unsafe { sys(nr::SENDFILE, &[b, a, 0, 1000]) }, 1000);
    assert_eq!(unsafe { sys(nr::SENDFILE64, &[b, a, 0, 2000]) }, 2000);
    // copy_file_range(in, NULL, out, NULL, len, 0) and splice through a pipe.
    assert_eq!(
        unsafe { sys(nr::COPY_FILE_RANGE, &[a, 0, b, 0, 500, 0]) },
        500
    );
    assert_eq!(unsafe { sys(nr::PIPE, &[fds]) }, 0);
    let p = low.read(fds, 8);
    let (p0, p1) = (
        u32::from_le_bytes([p[0], p[1], p[2], p[3]]),
        u32::from_le_bytes([p[4], p[5], p[6], p[7]]),
    );
    assert_eq!(unsafe { sys(nr::SPLICE, &[a, 0, p1, 0, 300, 0]) }, 300);
    assert_eq!(unsafe { sys(nr::SPLICE, &[p0, 0, b, 0, 300, 0]) }, 300);
    // preadv2(fd, iov, n, pos_lo, pos_hi, flags) and pwritev2 with 32-bit iovecs.
    let riov = low.u32s(&[buf, 10, buf + 10, 20]);
    assert_eq!(unsafe { sys(nr::PREADV2, &[a, riov, 2, 0, 0, 0]) }, 30);
    assert_eq!(unsafe { sys(nr::PWRITEV2, &[b, riov, 1, 0, 0, 0]) }, 10);
    for f in [a, b, p0, p1] {
        assert_eq!(unsafe { sys(nr::CLOSE, &[f]) }, 0);
    }
    let (files, _) = rec.stop();
    let recs = all(files);
    let flows: Vec<_> = file_flows(&recs, &w, me).into_iter().skip(1).collect();
    let (o, r, wr, cl) = (OpFlags::OPEN, OpFlags::READ, OpFlags::WRITE, OpFlags::CLOSE);
    let wflags = OpenFlags::WRONLY | OpenFlags::CREAT | OpenFlags::TRUNC;
    assert_eq!(
        flows,
        vec![
            (
                s(&src),
                a as i32,
                o | r | cl,
                OpenFlags::RDONLY,
                5,
                3830,
                0,
                0
            ),
            (s(&dst), b as i32, o | wr | cl, wflags, 0, 0, 5, 3810),
        ]
    );
}

#[test]
fn ebpf_ia32_setuid_calls_are_process_events() {
    let _g = lock();
    let Some(rec) = start_compat("ia32uid") else {
        return;
    };
    let me = tid();
    // Root keeping its ids: every call succeeds and changes nothing (and only this thread's
    // credentials would change anyway: raw syscalls, no glibc broadcast).
    let calls: [(u32, &[u32], &str); 5] = [
        (nr::SETUID32, &[0], "0"),
        (nr::SETREUID32, &[u32::MAX, u32::MAX], "<NA>"),
        (nr::SETRESUID32, &[u32::MAX, 0, u32::MAX], "0"),
        // 16-bit uid calls: 0xffff is -1 ("unchanged"), not uid 65535.
        (nr::SETREUID, &[0xffff, 0xffff], "<NA>"),
        (nr::SETUID, &[0], "0"),
    ];
    for (n, args, _) in calls {
        // SAFETY: setuid-family calls that keep root's ids.
        assert_eq!(unsafe { sys(n, args) }, 0, "ia32 syscall {n}");
    }
    let (files, _) = rec.stop();
    let recs = all(files);
    let got: Vec<(i32, Vec<String>)> = recs
        .iter()
        .filter_map(|r| match r {
            SysFlow::ProcessEvent(e) if e.tid == me && e.op_flags.0 == OpFlags::SETUID => {
                Some((e.ret, e.args.clone()))
            }
            _ => None,
        })
        .collect();
    let want: Vec<(i32, Vec<String>)> = calls
        .iter()
        .map(|(_, _, a)| (0, vec![a.to_string()]))
        .collect();
    assert_eq!(got, want);
}

/// ia32 read (3) is x86-64 close, ia32 lseek (19) x86-64 readv, ia32 getpid (20) x86-64
/// writev: with rdi holding the descriptor, a dispatcher that ignores the ABI would end the
/// flow early and count the pid as written bytes.
#[test]
fn ebpf_ia32_numbers_are_not_taken_for_x86_64_ones() {
    let _g = lock();
    let Some(rec) = start_compat("ia32nr") else {
        return;
    };
    let me = tid();
    let w = rec.dir.join("w");
    fs::create_dir(&w).expect("mkdir");
    let p = w.join("f.txt");
    let cp = std::ffi::CString::new(p.as_os_str().as_bytes()).expect("path");
    // SAFETY (every block below): plain syscalls on a descriptor this test owns and on
    // buffers of the arena.
    let fd = unsafe { libc::open(cp.as_ptr(), (O_RDWR | O_CREAT | O_TRUNC) as i32, 0o644) };
    assert!(fd >= 0);
    assert_eq!(
        unsafe { libc::write(fd, b"0123456789".as_ptr().cast(), 10) },
        10
    );
    let mut low = Low::new();
    let buf = low.buf(16);
    let f = fd as u32;
    // ebx = fd for the ia32 call; edi (= rdi, the first x86-64 argument) = fd as well.
    assert_eq!(unsafe { ia32::int80(nr::LSEEK, [f, 0, 0, 0, f, 0]) }, 0);
    assert_eq!(unsafe { ia32::int80(nr::READ, [f, buf, 4, 0, f, 0]) }, 4);
    assert_eq!(unsafe { ia32::int80(nr::READ, [f, buf, 4, 0, f, 0]) }, 4);
    assert_eq!(low.read(buf, 4), b"4567");
    let pid = unsafe { ia32::int80(nr::GETPID, [f, 0, 0, 0, f, 0]) };
    assert_eq!(pid as u32, std::process::id());
    assert_eq!(unsafe { libc::write(fd, b"abc".as_ptr().cast(), 3) }, 3);
    assert_eq!(unsafe { libc::close(fd) }, 0);
    let (files, _) = rec.stop();
    let recs = all(files);
    let rw = OpenFlags::RDWR | OpenFlags::CREAT | OpenFlags::TRUNC;
    assert_eq!(
        file_flows(&recs, &w, me),
        vec![(
            s(&p),
            fd,
            OpFlags::OPEN | OpFlags::READ | OpFlags::WRITE | OpFlags::CLOSE,
            rw,
            2,
            8,
            2,
            13
        )]
    );
}

#[test]
fn ebpf_ia32_path_calls_are_file_events() {
    let _g = lock();
    let Some(rec) = start_compat("ia32path") else {
        return;
    };
    let me = tid();
    let w = rec.dir.join("w");
    fs::create_dir(&w).expect("mkdir");
    let j = |n: &str| w.join(n);
    fs::write(j("a"), b"x").expect("write a");
    let mut low = Low::new();
    let mut p = |n: &str| low.path(&j(n));
    let (d, e, a, b, c, c2, hard, soft, hard2, soft2, missing) = (
        p("d"),
        p("e"),
        p("a"),
        p("b"),
        p("c"),
        p("c2"),
        p("hard"),
        p("soft"),
        p("hard2"),
        p("soft2"),
        p("missing"),
    );
    let calls: [(u32, &[u32], i32); 14] = [
        (nr::MKDIR, &[d, 0o755], 0),
        (nr::MKDIRAT, &[AT_FDCWD, e, 0o755], 0),
        (nr::RENAME, &[a, b], 0),
        (nr::RENAMEAT, &[AT_FDCWD, b, AT_FDCWD, c], 0),
        (nr::LINK, &[c, hard], 0),
        (nr::SYMLINK, &[c, soft], 0),
        (nr::LINKAT, &[AT_FDCWD, c, AT_FDCWD, hard2, 0], 0),
        (nr::SYMLINKAT, &[c, AT_FDCWD, soft2], 0),
        (nr::UNLINK, &[hard], 0),
        // unlinkat(AT_FDCWD, soft, 0) and unlinkat(AT_FDCWD, e, AT_REMOVEDIR).
        (nr::UNLINKAT, &[AT_FDCWD, soft, 0], 0),
        (nr::UNLINKAT, &[AT_FDCWD, e, 0x200], 0),
        (nr::RMDIR, &[d], 0),
        (nr::RMDIR, &[missing], -2),
        (nr::RENAMEAT2, &[AT_FDCWD, c, AT_FDCWD, c2, 0], 0),
    ];
    for (n, args, want) in calls {
        // SAFETY: ia32 path calls on strings of the arena.
        assert_eq!(unsafe { sys(n, args) }, want, "ia32 syscall {n}");
    }
    let recs = rec.stop_checked();
    let ws = format!("{}/", s(&w));
    let fes: Vec<(u32, String, Option<String>, i32)> = recs
        .iter()
        .filter_map(|r| match r {
            SysFlow::FileEvent(f) if f.tid == me => Some((
                f.op_flags.0,
                file_path(&recs, &f.file_oid),
                f.new_file_oid.map(|n| file_path(&recs, &n)),
                f.ret,
            )),
            _ => None,
        })
        .filter(|(_, p, _, _)| p.starts_with(&ws))
        .collect();
    let n = |x: &str| s(&j(x));
    assert_eq!(
        fes,
        vec![
            (OpFlags::MKDIR, n("d"), None, 0),
            (OpFlags::MKDIR, n("e"), None, 0),
            (OpFlags::RENAME, n("a"), Some(n("b")), 0),
            (OpFlags::RENAME, n("b"), Some(n("c")), 0),
            (OpFlags::LINK, n("c"), Some(n("hard")), 0),
            (OpFlags::SYMLINK, n("c"), Some(n("soft")), 0),
            (OpFlags::LINK, n("c"), Some(n("hard2")), 0),
            (OpFlags::SYMLINK, n("c"), Some(n("soft2")), 0),
            (OpFlags::UNLINK, n("hard"), None, 0),
            (OpFlags::UNLINK, n("soft"), None, 0),
            (OpFlags::RMDIR, n("e"), None, 0),
            (OpFlags::RMDIR, n("d"), None, 0),
            (OpFlags::RMDIR, n("missing"), None, -2),
            (OpFlags::RENAME, n("c"), Some(n("c2")), 0),
        ]
    );
}

/// Loopback server: for each of `n` connections read 5 bytes, answer 3, wait for EOF.
fn tcp_server(n: usize) -> (u16, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let h = std::thread::spawn(move || {
        for _ in 0..n {
            let (mut s, _) = l.accept().expect("accept");
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).expect("server read");
            s.write_all(b"pon").expect("server write");
            let mut rest = Vec::new();
            s.read_to_end(&mut rest).expect("server eof");
        }
    });
    (port, h)
}

#[test]
fn ebpf_ia32_socket_calls_are_network_flows() {
    let _g = lock();
    let Some(rec) = start_compat("ia32net") else {
        return;
    };
    let me = tid();
    let (port, server) = tcp_server(2);
    let udp = UdpSocket::bind("127.0.0.1:0").expect("udp bind");
    let uport = udp.local_addr().expect("udp addr").port();
    let mut low = Low::new();
    let sa = low.sockaddr_lo(port);
    let usa = low.sockaddr_lo(uport);
    let data = low.bytes(b"ping!");
    let buf = low.buf(16);
    const MSG_WAITALL: u32 = 0x100;
    // SAFETY (every block below): ia32 socket calls on sockets this test creates and on
    // buffers and argument arrays of the arena.
    // Direct socket calls (ia32 numbers 359..373).
    let s1 = unsafe { sys(nr::SOCKET, &[2, 1, 0]) };
    assert!(s1 >= 0, "ia32 socket: {s1}");
    let s1u = s1 as u32;
    assert_eq!(unsafe { sys(nr::CONNECT, &[s1u, sa, 16]) }, 0);
    assert_eq!(unsafe { sys(nr::SENDTO, &[s1u, data, 5, 0, 0, 0]) }, 5);
    assert_eq!(
        unsafe { sys(nr::RECVFROM, &[s1u, buf, 3, MSG_WAITALL, 0, 0]) },
        3
    );
    assert_eq!(unsafe { sys(nr::SHUTDOWN, &[s1u, 1]) }, 0);
    assert_eq!(unsafe { sys(nr::CLOSE, &[s1u]) }, 0);
    // The same through socketcall(call, u32 args[]).
    let sc = |low: &mut Low, call: u32, args: &[u32]| {
        let a = low.u32s(args);
        // SAFETY: socketcall with an argument array of the arena.
        unsafe { sys(nr::SOCKETCALL, &[call, a]) }
    };
    let s2 = sc(&mut low, nr::SYS_SOCKET, &[2, 1, 0]);
    assert!(s2 >= 0, "socketcall socket: {s2}");
    let s2u = s2 as u32;
    assert_eq!(sc(&mut low, nr::SYS_CONNECT, &[s2u, sa, 16]), 0);
    assert_eq!(sc(&mut low, nr::SYS_SEND, &[s2u, data, 5, 0]), 5);
    assert_eq!(sc(&mut low, nr::SYS_RECV, &[s2u, buf, 3, MSG_WAITALL]), 3);
    assert_eq!(sc(&mut low, nr::SYS_SHUTDOWN, &[s2u, 1]), 0);
    assert_eq!(unsafe { sys(nr::CLOSE, &[s2u]) }, 0);
    server.join().expect("server");
    // Unconnected UDP: the peer comes from the 32-bit sockaddr pointer (sendto) and from
    // msg_name of a compat msghdr {u32 name, namelen, iov, iovlen, control, controllen, flags}.
    let u = unsafe { sys(nr::SOCKET, &[2, 2, 0]) };
    assert!(u >= 0, "ia32 udp socket: {u}");
    let uu = u as u32;
    assert_eq!(sc(&mut low, nr::SYS_SENDTO, &[uu, data, 5, 0, usa, 16]), 5);
    let iov = low.u32s(&[data, 4]);
    let msg = low.u32s(&[usa, 16, iov, 1, 0, 0, 0]);
    assert_eq!(unsafe { sys(nr::SENDMSG, &[uu, msg, 0]) }, 4);
    assert_eq!(sc(&mut low, nr::SYS_SENDMSG, &[uu, msg, 0]), 4);
    assert_eq!(unsafe { sys(nr::CLOSE, &[uu]) }, 0);
    let mut got = [0u8; 8];
    for want in [5, 4, 4] {
        assert_eq!(udp.recv(&mut got).expect("udp recv"), want);
    }
    let recs = rec.stop_checked();
    let flows = |port: u16| -> Vec<_> {
        net_flows(&recs, port as i32)
            .into_iter()
            .filter(|f| f.tid == me)
            .map(|f| {
                (
                    f.fd,
                    f.op_flags.0,
                    f.dport,
                    f.num_r_recv_ops,
                    f.num_r_recv_bytes,
                    f.num_w_send_ops,
                    f.num_w_send_bytes,
                )
            })
            .collect()
    };
    let (c, r, w, sh, cl) = (
        OpFlags::CONNECT,
        OpFlags::READ,
        OpFlags::WRITE,
        OpFlags::SHUTDOWN,
        OpFlags::CLOSE,
    );
    let p = port as i32;
    assert_eq!(
        flows(port),
        vec![
            (s1, c | w | r | sh | cl, p, 1, 3, 1, 5),
            (s2, c | w | r | sh | cl, p, 1, 3, 1, 5),
        ]
    );
    // The receiving std socket of this thread has its own flow: only the ia32 sender here.
    let sender: Vec<_> = flows(uport).into_iter().filter(|f| f.0 == u).collect();
    assert_eq!(sender, vec![(u, w | cl, uport as i32, 0, 0, 3, 13)]);
}
