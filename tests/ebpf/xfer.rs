//! Data moved without a user buffer (sendfile, splice, copy_file_range) and the `*v2` vectored
//! calls under the eBPF collector: each transfer counts on the flow of both descriptors, the
//! source as a read and the destination as a write (or a send on a socket), with the bytes
//! the call moved; pipes in the middle of a splice are not flows (fileOnly).
//!
//! Needs root and the embedded probes; otherwise prints `SKIPPED: ...` and returns.

use std::{
    ffi::CString,
    fs,
    io::Read,
    net::{TcpListener, TcpStream},
    os::{fd::AsRawFd, unix::ffi::OsStrExt},
    path::Path,
};

use sysflow_model::{OpFlags, OpenFlags};
use testkit::ebpf::{file_flows, lock, net_flows, tid};

use super::start;

const SRC_LEN: usize = 10_000;

fn open(p: &Path, flags: i32) -> i32 {
    let c = CString::new(p.as_os_str().as_bytes()).expect("path without NUL");
    // SAFETY: valid NUL-terminated path.
    let fd = unsafe { libc::open(c.as_ptr(), flags, 0o644) };
    assert!(fd >= 0, "open {}", p.display());
    fd
}

fn close(fd: i32) {
    // SAFETY: closing a descriptor this test opened.
    assert_eq!(unsafe { libc::close(fd) }, 0);
}

fn s(p: &Path) -> String {
    p.to_string_lossy().to_string()
}

#[test]
fn ebpf_transfers_count_on_both_descriptors() {
    let _g = lock();
    let Some(rec) = start("xfer", &[]) else {
        return;
    };
    let me = tid();
    let w = rec.dir.join("w");
    fs::create_dir(&w).expect("mkdir");
    let src = w.join("src.bin");
    fs::write(&src, vec![b'x'; SRC_LEN]).expect("write src");
    let (d1, d2, d3, d4) = (w.join("d1"), w.join("d2"), w.join("d3"), w.join("d4"));
    let wr = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC;
    let null = std::ptr::null_mut();
    // SAFETY (every block below): plain syscalls on descriptors and buffers this test owns.

    // sendfile in two calls: 4096 bytes, then the rest.
    let (a, b) = (open(&src, libc::O_RDONLY), open(&d1, wr));
    assert_eq!(unsafe { libc::sendfile(b, a, null, 4096) }, 4096);
    assert_eq!(
        unsafe { libc::sendfile(b, a, null, SRC_LEN) },
        (SRC_LEN - 4096) as isize
    );
    close(a);
    close(b);

    // copy_file_range of 5000 bytes.
    let (c, d) = (open(&src, libc::O_RDONLY), open(&d2, wr));
    assert_eq!(
        unsafe { libc::copy_file_range(c, null, d, null, 5000, 0) },
        5000
    );
    close(c);
    close(d);

    // splice file → pipe → file: the pipe is not a flow.
    let (e, f) = (open(&src, libc::O_RDONLY), open(&d3, wr));
    let mut p = [0i32; 2];
    assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0);
    assert_eq!(unsafe { libc::splice(e, null, p[1], null, 1000, 0) }, 1000);
    assert_eq!(unsafe { libc::splice(p[0], null, f, null, 1000, 0) }, 1000);
    for x in [e, f, p[0], p[1]] {
        close(x);
    }

    // preadv2 at an offset, then at the current position (-1); pwritev2.
    let g = open(&src, libc::O_RDONLY);
    let (mut b1, mut b2) = ([0u8; 100], [0u8; 200]);
    let iov = [
        libc::iovec {
            iov_base: b1.as_mut_ptr().cast(),
            iov_len: b1.len(),
        },
        libc::iovec {
            iov_base: b2.as_mut_ptr().cast(),
            iov_len: b2.len(),
        },
    ];
    assert_eq!(unsafe { libc::preadv2(g, iov.as_ptr(), 2, 0, 0) }, 300);
    assert_eq!(unsafe { libc::preadv2(g, iov.as_ptr(), 1, -1, 0) }, 100);
    close(g);
    let h = open(&d4, wr);
    let data = *b"abcdefg";
    let wiov = [
        libc::iovec {
            iov_base: data.as_ptr() as *mut _,
            iov_len: 3,
        },
        libc::iovec {
            iov_base: data[3..].as_ptr() as *mut _,
            iov_len: 4,
        },
    ];
    assert_eq!(unsafe { libc::pwritev2(h, wiov.as_ptr(), 2, 0, 0) }, 7);
    close(h);

    // sendfile from the file to a TCP socket on loopback.
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let reader = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        let mut got = Vec::new();
        s.read_to_end(&mut got).expect("read to end");
        got.len()
    });
    let i = open(&src, libc::O_RDONLY);
    let sock = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let sfd = sock.as_raw_fd();
    assert_eq!(unsafe { libc::sendfile(sfd, i, null, 3000) }, 3000);
    drop(sock);
    close(i);
    assert_eq!(reader.join().expect("reader"), 3000);

    let recs = rec.stop_checked();
    let (o, r, wf, cl) = (OpFlags::OPEN, OpFlags::READ, OpFlags::WRITE, OpFlags::CLOSE);
    let wflags = OpenFlags::WRONLY | OpenFlags::CREAT | OpenFlags::TRUNC;
    let ro = OpenFlags::RDONLY;
    let n = SRC_LEN as i64;
    let mut flows = file_flows(&recs, &w, me);
    // The std::fs::write that made src.bin comes first.
    assert_eq!(
        flows.first().map(|f| (f.0.clone(), f.6, f.7)),
        Some((s(&src), 1, n))
    );
    flows.remove(0);
    assert_eq!(
        flows,
        vec![
            (s(&src), a, o | r | cl, ro, 2, n, 0, 0),
            (s(&d1), b, o | wf | cl, wflags, 0, 0, 2, n),
            (s(&src), c, o | r | cl, ro, 1, 5000, 0, 0),
            (s(&d2), d, o | wf | cl, wflags, 0, 0, 1, 5000),
            (s(&src), e, o | r | cl, ro, 1, 1000, 0, 0),
            (s(&d3), f, o | wf | cl, wflags, 0, 0, 1, 1000),
            (s(&src), g, o | r | cl, ro, 2, 400, 0, 0),
            (s(&d4), h, o | wf | cl, wflags, 0, 0, 1, 7),
            (s(&src), i, o | r | cl, ro, 1, 3000, 0, 0),
        ]
    );
    let client: Vec<_> = net_flows(&recs, port as i32)
        .into_iter()
        .filter(|f| f.tid == me)
        .map(|f| {
            (
                f.fd,
                f.op_flags.0,
                f.dport,
                f.num_w_send_ops,
                f.num_w_send_bytes,
            )
        })
        .collect();
    assert_eq!(
        client,
        vec![(
            sfd,
            OpFlags::CONNECT | OpFlags::WRITE | OpFlags::CLOSE,
            port as i32,
            1,
            3000
        )]
    );
}
