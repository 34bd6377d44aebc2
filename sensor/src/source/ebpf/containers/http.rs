//! A small HTTP/1.1 client over a Unix socket: what the Docker Engine API (and podman's
//! Docker-compatible API) needs, and no more. GET requests with `Connection: close`, bodies by
//! `Content-Length`, chunked transfer coding or end of stream; a deadline on every request;
//! bounded sizes. A long-lived response (the event stream) is read chunk by chunk with
//! [`Stream`].
//!
//! Hand-written rather than hyper + hyperlocal: the sensor is synchronous (threads and
//! bounded channels, no async runtime), it sends a handful of GETs per container, and these
//! ~200 lines avoid tokio, hyper and their dependencies (docs/dependencies.md).

use std::{
    io::{Read, Write},
    os::unix::net::UnixStream,
    path::Path,
    time::{Duration, Instant},
};

/// Largest header block accepted.
const MAX_HEAD: usize = 64 << 10;
/// Largest body accepted (a container inspect is a few KiB; a list of every container on a
/// busy host a few MiB).
const MAX_BODY: usize = 16 << 20;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("connecting to {0}: {1}")]
    Connect(String, #[source] std::io::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("malformed response: {0}")]
    Malformed(&'static str),
    #[error("response larger than {0} bytes")]
    TooLarge(usize),
}

impl HttpError {
    /// True when nothing listens at the socket (absent, refused): the runtime is not there.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, HttpError::Connect(..))
    }
}

/// A complete response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Connect to `socket` and send `GET path`; the stream has `timeout` as read/write timeout.
fn send(socket: &Path, path: &str, timeout: Duration) -> Result<UnixStream, HttpError> {
    let mut s = UnixStream::connect(socket)
        .map_err(|e| HttpError::Connect(socket.display().to_string(), e))?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: sysflow-sensor\r\n\
         Accept: application/json\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes())?;
    Ok(s)
}

/// Status and framing of a response head.
struct Head {
    status: u16,
    chunked: bool,
    length: Option<usize>,
}

fn parse_head(head: &[u8]) -> Result<Head, HttpError> {
    let text = std::str::from_utf8(head).map_err(|_| HttpError::Malformed("head not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut f = status_line.split(' ');
    let version = f.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(HttpError::Malformed("not an HTTP/1.x status line"));
    }
    let status = f
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or(HttpError::Malformed("bad status code"))?;
    let (mut chunked, mut length) = (false, None);
    for l in lines {
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if k.eq_ignore_ascii_case("transfer-encoding") {
            chunked = v.to_ascii_lowercase().contains("chunked");
        } else if k.eq_ignore_ascii_case("content-length") {
            length = Some(
                v.parse()
                    .map_err(|_| HttpError::Malformed("bad Content-Length"))?,
            );
        }
    }
    Ok(Head {
        status,
        chunked,
        length,
    })
}

/// Read until `buf` holds the end of the head; returns the head's length (with CRLFCRLF).
fn read_head(s: &mut UnixStream, buf: &mut Vec<u8>, deadline: Instant) -> Result<usize, HttpError> {
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(i + 4);
        }
        if buf.len() > MAX_HEAD {
            return Err(HttpError::TooLarge(MAX_HEAD));
        }
        if read_more(s, buf, deadline)? == 0 {
            return Err(HttpError::Malformed("connection closed in the head"));
        }
    }
}

/// One read into `buf` within the deadline; 0 at end of stream.
fn read_more(s: &mut UnixStream, buf: &mut Vec<u8>, deadline: Instant) -> Result<usize, HttpError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(HttpError::Timeout(Duration::ZERO));
    }
    s.set_read_timeout(Some(left))?;
    let mut chunk = [0u8; 8192];
    match s.read(&mut chunk) {
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(n)
        }
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Err(HttpError::Timeout(left))
        }
        Err(e) => Err(e.into()),
    }
}

/// Send `GET path` and read the response head by `deadline`: the stream, the head and the
/// body bytes read with it.
fn exchange(
    socket: &Path,
    path: &str,
    timeout: Duration,
    deadline: Instant,
) -> Result<(UnixStream, Head, Vec<u8>), HttpError> {
    let mut s = send(socket, path, timeout)?;
    let mut buf = Vec::new();
    let n = read_head(&mut s, &mut buf, deadline)?;
    let head = parse_head(&buf[..n])?;
    let rest = buf.split_off(n);
    Ok((s, head, rest))
}

/// `GET path` on the HTTP server at Unix socket `socket`, the whole exchange within `timeout`.
pub fn get(socket: &Path, path: &str, timeout: Duration) -> Result<Response, HttpError> {
    let deadline = Instant::now() + timeout;
    let (mut s, head, mut raw) = exchange(socket, path, timeout, deadline)?;
    let body = if head.chunked {
        let mut out = Vec::new();
        loop {
            match dechunk(&mut raw, &mut out)? {
                Chunks::End => break out,
                Chunks::More => {
                    if out.len() > MAX_BODY {
                        return Err(HttpError::TooLarge(MAX_BODY));
                    }
                    if read_more(&mut s, &mut raw, deadline)? == 0 {
                        return Err(HttpError::Malformed("connection closed in a chunk"));
                    }
                }
            }
        }
    } else {
        let want = head.length.unwrap_or(MAX_BODY + 1);
        if head.length.is_some_and(|l| l > MAX_BODY) {
            return Err(HttpError::TooLarge(MAX_BODY));
        }
        while raw.len() < want {
            if read_more(&mut s, &mut raw, deadline)? == 0 {
                if head.length.is_some() {
                    return Err(HttpError::Malformed("connection closed in the body"));
                }
                break;
            }
            if raw.len() > MAX_BODY {
                return Err(HttpError::TooLarge(MAX_BODY));
            }
        }
        raw.truncate(want);
        raw
    };
    Ok(Response {
        status: head.status,
        body,
    })
}

enum Chunks {
    /// The last (zero-size) chunk was read.
    End,
    /// More input is needed.
    More,
}

/// Move every complete chunk at the front of `raw` into `out` (chunk extensions and
/// trailers ignored).
fn dechunk(raw: &mut Vec<u8>, out: &mut Vec<u8>) -> Result<Chunks, HttpError> {
    let mut pos = 0;
    let result = loop {
        let Some(eol) = raw[pos..].windows(2).position(|w| w == b"\r\n") else {
            break Chunks::More;
        };
        let line = std::str::from_utf8(&raw[pos..pos + eol])
            .map_err(|_| HttpError::Malformed("chunk size not UTF-8"))?;
        let hex = line.split(';').next().unwrap_or("").trim();
        let size =
            usize::from_str_radix(hex, 16).map_err(|_| HttpError::Malformed("bad chunk size"))?;
        if size > MAX_BODY {
            return Err(HttpError::TooLarge(MAX_BODY));
        }
        let data = pos + eol + 2;
        if size == 0 {
            pos = data;
            break Chunks::End;
        }
        if raw.len() < data + size + 2 {
            break Chunks::More;
        }
        out.extend_from_slice(&raw[data..data + size]);
        pos = data + size + 2;
    };
    raw.drain(..pos);
    Ok(result)
}

/// A response read as it arrives (Docker's `/events`): lines of the de-chunked body.
pub struct Stream {
    sock: UnixStream,
    chunked: bool,
    raw: Vec<u8>,
    body: Vec<u8>,
    ended: bool,
}

impl Stream {
    /// Send `GET path` and read the head (within `timeout`); `Err` unless the status is 200.
    pub fn open(socket: &Path, path: &str, timeout: Duration) -> Result<Stream, HttpError> {
        let (sock, head, raw) = exchange(socket, path, timeout, Instant::now() + timeout)?;
        if head.status != 200 {
            return Err(HttpError::Malformed("event stream refused"));
        }
        Ok(Stream {
            sock,
            chunked: head.chunked,
            raw,
            body: Vec::new(),
            ended: false,
        })
    }

    /// The next complete line of the body, waiting at most `wait` for more input:
    /// `Ok(None)` when none arrived in time, `Err` when the stream ended or failed.
    pub fn next_line(&mut self, wait: Duration) -> Result<Option<String>, HttpError> {
        loop {
            if self.chunked {
                if let Chunks::End = dechunk(&mut self.raw, &mut self.body)? {
                    self.ended = true;
                }
            } else {
                self.body.append(&mut self.raw);
            }
            if let Some(i) = self.body.iter().position(|&c| c == b'\n') {
                let line: Vec<u8> = self.body.drain(..=i).collect();
                return Ok(Some(String::from_utf8_lossy(&line).trim().to_string()));
            }
            if self.ended {
                return Err(HttpError::Malformed("event stream ended"));
            }
            if self.body.len() > MAX_BODY || self.raw.len() > MAX_BODY {
                return Err(HttpError::TooLarge(MAX_BODY));
            }
            match read_more(&mut self.sock, &mut self.raw, Instant::now() + wait) {
                Ok(0) => return Err(HttpError::Malformed("event stream ended")),
                Ok(_) => {}
                Err(HttpError::Timeout(_)) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    /// A socket path in a fresh directory, removed with it when dropped.
    struct Sock(std::path::PathBuf);

    impl Sock {
        fn new(name: &str) -> Sock {
            let dir = std::env::temp_dir().join(format!("sfx-http-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Sock(dir.join("s.sock"))
        }
    }

    impl std::ops::Deref for Sock {
        type Target = Path;
        fn deref(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Sock {
        fn drop(&mut self) {
            if let Some(d) = self.0.parent() {
                let _ = std::fs::remove_dir_all(d);
            }
        }
    }

    /// A one-shot server on a fresh socket answering every connection with `reply` (written
    /// in pieces, to exercise the reassembly).
    fn server(name: &str, reply: &'static [u8], conns: usize) -> Sock {
        let sock = Sock::new(name);
        let path = sock.0.clone();
        let l = UnixListener::bind(&path).unwrap();
        std::thread::spawn(move || {
            for _ in 0..conns {
                let (mut c, _) = l.accept().unwrap();
                let mut req = [0u8; 1024];
                let _ = c.read(&mut req);
                for piece in reply.chunks(7) {
                    let _ = c.write_all(piece);
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        });
        sock
    }

    const T: Duration = Duration::from_secs(5);

    #[test]
    fn content_length_and_chunked_bodies() {
        let p = server(
            "cl",
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"a\":[1,2]}",
            1,
        );
        let r = get(&p, "/x", T).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"{\"a\":[1,2]}"[..]));
        let p = server(
            "ch",
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"me\r\nA;x=y\r\nssage\":1}\n\r\n0\r\n\r\n",
            1,
        );
        let r = get(&p, "/x", T).unwrap();
        assert_eq!(
            (r.status, r.body.as_slice()),
            (404, &b"{\"message\":1}\n"[..])
        );
    }

    #[test]
    fn errors_are_reported_not_panics() {
        let missing = std::env::temp_dir().join("sfx-http-no-such.sock");
        let e = get(&missing, "/", T).unwrap_err();
        assert!(e.is_unreachable(), "{e}");
        let p = server("bad", b"SSH-2.0-nope\r\n\r\n", 1);
        assert!(matches!(get(&p, "/", T), Err(HttpError::Malformed(_))));
        let p = server(
            "short",
            b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{}",
            1,
        );
        assert!(get(&p, "/", T).is_err());
        let p = server(
            "badchunk",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            1,
        );
        assert!(matches!(get(&p, "/", T), Err(HttpError::Malformed(_))));
    }

    #[test]
    fn a_silent_server_times_out() {
        let path = Sock::new("silent");
        let _l = UnixListener::bind(&*path).unwrap();
        let t0 = Instant::now();
        let e = get(&path, "/", Duration::from_millis(200)).unwrap_err();
        assert!(matches!(e, HttpError::Timeout(_)), "{e}");
        assert!(t0.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn a_stream_yields_lines_across_chunks() {
        let p = server(
            "stream",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n{\"a\":1\r\n3\r\n}\n{\r\n6\r\n\"b\":2}\r\n1\r\n\n\r\n0\r\n\r\n",
            1,
        );
        let mut s = Stream::open(&p, "/events", T).unwrap();
        let mut lines = Vec::new();
        loop {
            match s.next_line(T) {
                Ok(Some(l)) => lines.push(l),
                Ok(None) => continue,
                Err(_) => break,
            }
        }
        assert_eq!(lines, ["{\"a\":1}", "{\"b\":2}"]);
    }
}
