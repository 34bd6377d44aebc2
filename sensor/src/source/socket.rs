//! The `socket` driver: a Unix SOCK_SEQPACKET server, one bare v5 SysFlow datum per message
//! (reference §7.3).
//!
//! Differences from the original, on purpose: a stale socket file is removed only if it *is* a
//! socket (a symlink or any other file is refused); messages of any size are received whole
//! (the size is peeked with `MSG_PEEK | MSG_TRUNC` and the buffer grown); an undecodable
//! message is counted, logged and skipped, never forwarded half-decoded, and the connection
//! stays up; several collectors may be connected at once (the original serves one), so an
//! idle or stalled client cannot lock the others out.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::decode;
use crate::config::SocketOwner;
use crate::pipeline::Intake;
use crate::pipeline::StageStats;

/// Largest message accepted; bigger ones are consumed, counted as undecodable and skipped.
pub const MAX_MESSAGE: usize = 64 << 20;
/// How often the server looks at the stop flag while idle.
const POLL_MS: i32 = 200;

/// Socket server options.
#[derive(Debug, Clone)]
pub struct SocketOptions {
    pub path: PathBuf,
    /// Mode of the socket file (default 0600).
    pub mode: u32,
    /// Owner given to the socket file; `None` leaves it to the user running the sensor.
    pub owner: Option<SocketOwner>,
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
        // Mode and owner are set before listen(), so no client can connect while the mode is
        // wider or the socket belongs to the wrong user. The mode first: once the file belongs
        // to someone else, only root (CAP_FOWNER) could still change it. lchown never follows
        // a symlink someone might have swapped in since bind().
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(opts.mode))
            .with_context(|| format!("cannot chmod {}", path.display()))?;
        if let Some(o) = opts.owner {
            std::os::unix::fs::lchown(path, Some(o.uid), o.gid).with_context(|| {
                let gid = o.gid.map(|g| format!(":{g}")).unwrap_or_default();
                format!("cannot chown {} to {}{gid}", path.display(), o.uid)
            })?;
        }
        // SAFETY: valid listening fd.
        cvt(unsafe { libc::listen(l.fd.as_raw_fd(), 16) }).context("listen")?;
        Ok(l)
    }

    /// Accepts a pending connection (after `poll` said there is one); `None` if it went
    /// away in between.
    fn accept_now(&self) -> io::Result<Option<OwnedFd>> {
        loop {
            // SAFETY: valid listening fd; peer address not wanted.
            let rc = unsafe {
                libc::accept4(
                    self.fd.as_raw_fd(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                )
            };
            match cvt(rc) {
                // SAFETY: accept4 returned a new descriptor we own.
                Ok(c) => return Ok(Some(unsafe { OwnedFd::from_raw_fd(c) })),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.raw_os_error() == Some(libc::ECONNABORTED) =>
                {
                    return Ok(None)
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Outcome of reading one message.
enum Msg {
    /// `len` bytes are in the buffer.
    Data(usize),
    /// Nothing queued right now.
    Empty,
    /// The collector disconnected.
    Closed,
    /// A zero-length message.
    EmptyMessage,
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
            // A zero-length read is either the end of the stream or an empty message (which
            // no collector sends, but any client can): consume it, then ask whether the peer
            // has hung up.
            // SAFETY: zero-length receive.
            unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), 0, libc::MSG_DONTWAIT) };
            let mut p = libc::pollfd {
                fd,
                events: libc::POLLRDHUP,
                revents: 0,
            };
            // SAFETY: one valid pollfd, no wait.
            let n = unsafe { libc::poll(&mut p, 1, 0) };
            if n != 0 && p.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0 {
                // Hung up; an empty message may still have been followed by data.
                let mut b = [0u8; 1];
                // SAFETY: one-byte peek into a local buffer.
                let more = unsafe {
                    libc::recv(
                        fd,
                        b.as_mut_ptr().cast(),
                        1,
                        libc::MSG_PEEK | libc::MSG_DONTWAIT,
                    )
                };
                if more <= 0 {
                    return Ok(Msg::Closed);
                }
            }
            return Ok(Msg::EmptyMessage);
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

/// Collectors connected at once; further connections are closed right away (and logged).
pub const MAX_CLIENTS: usize = 64;
/// Messages read from one connection per poll round.
const FAIR_SHARE: usize = 1024;
/// How long the active collector may stay silent while another one has data waiting before
/// the driver turns to the other one.
const STALL: Duration = Duration::from_secs(2);

/// Serves collectors until `stop` is set or the pipeline goes away.
///
/// One collector is *active* at a time: its stream is read contiguously, because a SysFlow
/// stream is stateful (each connection starts with a header that resets the entity tables,
/// and its events refer to the entities it sent before), so interleaving two streams would
/// break their joins. Several may be connected (up to [`MAX_CLIENTS`]) and wait their turn in
/// their kernel queues; the first one to send becomes active when none is. A client that
/// connects and sends nothing never becomes active, and an active one that stalls for
/// [`STALL`] while another has data waiting loses its turn, so neither can lock the others out.
pub fn run(opts: &SocketOptions, intake: &mut Intake, stop: &AtomicBool) -> anyhow::Result<()> {
    let listener = Listener::bind(opts)?;
    tracing::info!("listening on {} (SOCK_SEQPACKET)", opts.path.display());
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    // (connection number, socket)
    let mut conns: Vec<(u64, OwnedFd)> = Vec::new();
    // Connection number of the active collector and when it last sent something.
    let mut active: Option<u64> = None;
    let mut last_data = Instant::now();
    let mut pfds: Vec<libc::pollfd> = Vec::new();
    'serve: while !stop.load(Relaxed) {
        let stalled = active.is_some() && last_data.elapsed() >= STALL;
        pfds.clear();
        pfds.push(pollin(listener.fd.as_raw_fd()));
        pfds.extend(conns.iter().map(|(no, fd)| {
            // While a collector is active and not stalled, the others are not polled at all
            // (a negative fd is ignored by poll), so their queued data waits without spinning.
            if active.is_none() || stalled || active == Some(*no) {
                pollin(fd.as_raw_fd())
            } else {
                pollin(-1)
            }
        }));
        // SAFETY: pfds is a valid array of pollfd of the given length.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, POLL_MS) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e).context("poll");
        }
        // Connections first (their indexes shift once new ones are added).
        let mut closed = Vec::new();
        for (i, p) in pfds[1..].iter().enumerate() {
            if p.revents == 0 {
                continue;
            }
            let (no, fd) = &conns[i];
            let is_active = active == Some(*no);
            if !is_active && active.is_some() && !stalled {
                continue;
            }
            // A stalled active collector is only replaced by one that has something to say.
            if !is_active && stalled && p.revents & libc::POLLIN == 0 {
                continue;
            }
            if !is_active {
                match active {
                    Some(old) => tracing::warn!(
                        "collector on connection {old} silent for {STALL:?}; serving connection {no}"
                    ),
                    None => tracing::debug!("serving connection {no}"),
                }
                active = Some(*no);
                last_data = Instant::now();
            }
            match serve(fd.as_raw_fd(), &mut buf, intake) {
                Ok(Served::Open(got)) => {
                    if got > 0 {
                        last_data = Instant::now();
                    }
                }
                Ok(Served::Closed) => {
                    tracing::info!("collector disconnected (connection {no})");
                    closed.push(i);
                }
                Ok(Served::Stop) => break 'serve,
                Err(e) => {
                    tracing::warn!("connection {no}: {e}; dropping it");
                    closed.push(i);
                }
            }
            // One stream per round: the rest wait for the active one to finish or stall.
            break;
        }
        for i in closed.into_iter().rev() {
            if active == Some(conns[i].0) {
                active = None;
            }
            conns.remove(i);
        }
        if pfds[0].revents != 0 {
            if let Some(fd) = listener.accept_now().context("accept")? {
                total += 1;
                if conns.len() >= MAX_CLIENTS {
                    tracing::warn!(
                        "connection {total} refused: {MAX_CLIENTS} collectors already connected"
                    );
                } else {
                    tracing::info!("collector connected (connection {total})");
                    conns.push((total, fd));
                }
            }
        }
        // Readiness (`/readyz`) and the connections gauge of the metrics endpoint.
        intake.stats.connections.store(conns.len() as u64, Relaxed);
        // Idle or between rounds: hand the partial batch on, so records are not held back.
        if intake.flush().is_err() {
            break;
        }
    }
    let _ = intake.flush();
    intake.stats.connections.store(0, Relaxed);
    Ok(())
}

fn pollin(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// What reading a connection's queued messages left it in.
enum Served {
    /// Still connected; how many messages were read.
    Open(usize),
    Closed,
    /// The pipeline went away.
    Stop,
}

/// Reads up to [`FAIR_SHARE`] queued messages of one connection without waiting.
fn serve(fd: RawFd, buf: &mut Vec<u8>, intake: &mut Intake) -> io::Result<Served> {
    for got in 0..FAIR_SHARE {
        match recv_msg(fd, buf)? {
            Msg::Data(n) => {
                StageStats::add(&intake.stats.input, 1);
                match decode::decode_datum(&buf[..n]) {
                    Ok(rec) => {
                        if intake.push(rec).is_err() {
                            return Ok(Served::Stop);
                        }
                    }
                    Err(e) => {
                        bad_message(intake, &format!("{n}-byte message not decodable: {e:#}"))
                    }
                }
            }
            Msg::TooLarge(n) => {
                StageStats::add(&intake.stats.input, 1);
                bad_message(
                    intake,
                    &format!("{n}-byte message exceeds the {MAX_MESSAGE}-byte limit"),
                );
            }
            Msg::EmptyMessage => {
                StageStats::add(&intake.stats.input, 1);
                bad_message(intake, "empty message");
            }
            Msg::Closed => return Ok(Served::Closed),
            Msg::Empty => return Ok(Served::Open(got)),
        }
    }
    Ok(Served::Open(FAIR_SHARE))
}

fn bad_message(intake: &Intake, what: &str) {
    let n = intake.stats.decode_errors.fetch_add(1, Relaxed) + 1;
    if n <= 10 || n.is_multiple_of(1000) {
        tracing::warn!("skipping {what} ({n} undecodable so far)");
    }
}
