//! The `socket` driver: a Unix SOCK_SEQPACKET server that takes one collector at a time, one
//! bare v5 SysFlow datum per message (reference §7.3).
//!
//! Differences from the original, on purpose: a stale socket file is removed only if it *is* a
//! socket (a symlink or any other file is refused); messages of any size are received whole
//! (the size is peeked with `MSG_PEEK | MSG_TRUNC` and the buffer grown); an undecodable
//! message is counted, logged and skipped, never forwarded half-decoded, and the connection
//! stays up.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use anyhow::{bail, Context};

use super::{decode, Sink};
use crate::run::stats::StageStats;

/// Largest message accepted; bigger ones are consumed, counted as undecodable and skipped.
pub const MAX_MESSAGE: usize = 64 << 20;
/// How often blocking waits look at the stop flag.
const POLL_MS: i32 = 200;

/// Socket server options.
#[derive(Debug, Clone)]
pub struct SocketOptions {
    pub path: PathBuf,
    /// Mode of the socket file (default 0600).
    pub mode: u32,
}

/// The bound, listening socket; removes its file when dropped.
pub struct Listener {
    fd: OwnedFd,
    path: PathBuf,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

impl Listener {
    /// Prepares the path (stale socket removed, parent created) and listens.
    pub fn bind(opts: &SocketOptions) -> anyhow::Result<Listener> {
        let path = &opts.path;
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => {
                bail!(
                    "{} is a symbolic link; refusing to replace it",
                    path.display()
                )
            }
            Ok(m) if m.file_type().is_socket() => {
                std::fs::remove_file(path)
                    .with_context(|| format!("cannot remove stale socket {}", path.display()))?;
            }
            Ok(_) => bail!(
                "{} exists and is not a socket; refusing to replace it",
                path.display()
            ),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot inspect {}", path.display())),
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create directory {}", dir.display()))?;
        }
        let bytes = path.as_os_str().as_bytes();
        if bytes.contains(&0) {
            bail!("socket path {} contains a NUL byte", path.display());
        }
        // SAFETY: sockaddr_un is plain old data.
        let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        if bytes.len() >= addr.sun_path.len() {
            bail!(
                "socket path {} is too long (max {} bytes)",
                path.display(),
                addr.sun_path.len() - 1
            );
        }
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
            *d = *s as libc::c_char;
        }
        // SAFETY: plain socket creation; the fd is owned right away.
        let fd = cvt(unsafe {
            libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0)
        })
        .context("socket(AF_UNIX, SOCK_SEQPACKET)")?;
        // SAFETY: fd is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: addr is a valid sockaddr_un of the given size.
        cvt(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_un).cast(),
                std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
            )
        })
        .with_context(|| format!("cannot bind {}", path.display()))?;
        let l = Listener {
            fd,
            path: path.clone(),
        };
        // The mode is set before listen(), so no client can connect while it is wider.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(opts.mode))
            .with_context(|| format!("cannot chmod {}", path.display()))?;
        // SAFETY: valid listening fd.
        cvt(unsafe { libc::listen(l.fd.as_raw_fd(), 4) }).context("listen")?;
        Ok(l)
    }

    /// Accepts the next collector, or `None` once `stop` is set.
    fn accept(&self, stop: &AtomicBool) -> io::Result<Option<OwnedFd>> {
        loop {
            if stop.load(Relaxed) {
                return Ok(None);
            }
            if !wait_readable(self.fd.as_raw_fd())? {
                continue;
            }
            // SAFETY: valid listening fd; peer address not wanted.
            let rc = unsafe {
                libc::accept4(
                    self.fd.as_raw_fd(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    libc::SOCK_CLOEXEC,
                )
            };
            match cvt(rc) {
                // SAFETY: accept4 returned a new descriptor we own.
                Ok(c) => return Ok(Some(unsafe { OwnedFd::from_raw_fd(c) })),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                    ) => {}
                Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Waits up to [`POLL_MS`] for `fd` to become readable.
fn wait_readable(fd: RawFd) -> io::Result<bool> {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut p, 1, POLL_MS) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(false)
        } else {
            Err(e)
        };
    }
    Ok(n > 0)
}

/// Outcome of reading one message.
enum Msg {
    /// `len` bytes are in the buffer.
    Data(usize),
    /// Nothing queued right now.
    Empty,
    /// The collector disconnected.
    Closed,
    /// A message larger than [`MAX_MESSAGE`], consumed and discarded.
    TooLarge(usize),
}

/// Reads one whole message without blocking, growing `buf` to the message's size.
fn recv_msg(fd: RawFd, buf: &mut Vec<u8>) -> io::Result<Msg> {
    loop {
        // MSG_TRUNC on a peek returns the real length of the next message; with a zero-length
        // buffer nothing is copied (the data is copied once, by the recvmsg below).
        // SAFETY: a zero-length receive into a valid pointer.
        let n = unsafe {
            libc::recv(
                fd,
                buf.as_mut_ptr().cast(),
                0,
                libc::MSG_PEEK | libc::MSG_TRUNC | libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock => Ok(Msg::Empty),
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::ConnectionReset => Ok(Msg::Closed),
                _ => Err(e),
            };
        }
        let want = n as usize;
        if want == 0 {
            // A zero-length read is end of stream (the collector never sends empty messages);
            // consume a possible empty datagram so it is not seen again.
            // SAFETY: zero-length receive.
            unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), 0, libc::MSG_DONTWAIT) };
            return Ok(Msg::Closed);
        }
        let too_large = want > MAX_MESSAGE;
        if !too_large && buf.len() < want {
            buf.resize(want.next_power_of_two(), 0);
        }
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: msghdr is plain old data; we fill in one iovec.
        let mut mh: libc::msghdr = unsafe { std::mem::zeroed() };
        mh.msg_iov = &mut iov;
        mh.msg_iovlen = 1;
        // SAFETY: valid fd and msghdr pointing at buf.
        let got = unsafe { libc::recvmsg(fd, &mut mh, libc::MSG_DONTWAIT) };
        if got < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if too_large {
            return Ok(Msg::TooLarge(want));
        }
        if mh.msg_flags & libc::MSG_TRUNC != 0 {
            // Cannot happen after sizing the buffer from the peek; never pass a cut message on.
            return Ok(Msg::TooLarge(want));
        }
        return Ok(Msg::Data(got as usize));
    }
}

/// Serves collectors one after another until `stop` is set or the pipeline goes away.
pub fn run(opts: &SocketOptions, sink: &mut Sink, stop: &AtomicBool) -> anyhow::Result<()> {
    let listener = Listener::bind(opts)?;
    tracing::info!("listening on {} (SOCK_SEQPACKET)", opts.path.display());
    let mut buf = vec![0u8; 64 * 1024];
    let mut conns = 0u64;
    while let Some(conn) = listener.accept(stop).context("accept")? {
        conns += 1;
        tracing::info!("collector connected (connection {conns})");
        match serve(conn.as_raw_fd(), &mut buf, sink, stop) {
            Ok(true) => tracing::info!("collector disconnected (connection {conns})"),
            Ok(false) => break,
            Err(e) => tracing::warn!("connection {conns}: {e}; waiting for the next collector"),
        }
        if sink.flush().is_err() {
            break;
        }
    }
    let _ = sink.flush();
    Ok(())
}

/// Reads one connection; `Ok(true)` when the collector left, `Ok(false)` when we must stop.
fn serve(fd: RawFd, buf: &mut Vec<u8>, sink: &mut Sink, stop: &AtomicBool) -> io::Result<bool> {
    loop {
        if stop.load(Relaxed) {
            return Ok(false);
        }
        match recv_msg(fd, buf)? {
            Msg::Data(n) => {
                StageStats::add(&sink.stats.input, 1);
                match decode::decode_datum(&buf[..n]) {
                    Ok(rec) => {
                        if sink.push(rec).is_err() {
                            return Ok(false);
                        }
                    }
                    Err(e) => bad_message(sink, &format!("{n}-byte message not decodable: {e:#}")),
                }
            }
            Msg::TooLarge(n) => {
                StageStats::add(&sink.stats.input, 1);
                bad_message(
                    sink,
                    &format!("{n}-byte message exceeds the {MAX_MESSAGE}-byte limit"),
                );
            }
            Msg::Closed => return Ok(true),
            Msg::Empty => {
                // Idle: hand the partial batch on before waiting, so records are not held back.
                if sink.flush().is_err() {
                    return Ok(false);
                }
                wait_readable(fd)?;
            }
        }
    }
}

fn bad_message(sink: &Sink, what: &str) {
    let n = sink.stats.decode_errors.fetch_add(1, Relaxed) + 1;
    if n <= 10 || n.is_multiple_of(1000) {
        tracing::warn!("skipping {what} ({n} undecodable so far)");
    }
}
