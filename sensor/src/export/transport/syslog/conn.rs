//! Connections to the syslog server: UDP, TCP, and TLS (rustls; CA from `syslog.ca` or the
//! system bundle, or no verification with `syslog.insecure: true` as the original does).

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use crate::config::{ExporterConfig, SyslogProto};
use crate::export::buffer::deliver::{Sent, Sink};
use crate::export::buffer::Frames;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
const SYSTEM_CA: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Where and how to connect.
pub struct Target {
    host: String,
    port: u16,
    proto: SyslogProto,
    tls: Option<Arc<ClientConfig>>,
}

pub enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Target {
    pub fn new(cfg: &ExporterConfig) -> anyhow::Result<Target> {
        let tls = match cfg.syslog_proto {
            SyslogProto::Tls => Some(Arc::new(tls_config(cfg)?)),
            _ => None,
        };
        Ok(Target {
            host: cfg.syslog_host.clone(),
            port: cfg.syslog_port,
            proto: cfg.syslog_proto,
            tls,
        })
    }

    pub fn addr(&self) -> String {
        format!("{:?}://{}:{}", self.proto, self.host, self.port).to_lowercase()
    }

    fn resolve(&self) -> io::Result<Vec<SocketAddr>> {
        Ok((self.host.as_str(), self.port).to_socket_addrs()?.collect())
    }

    pub fn connect(&self) -> io::Result<Conn> {
        let addrs = self.resolve()?;
        let mut last = io::Error::new(io::ErrorKind::NotFound, "host resolves to no address");
        for a in addrs {
            match self.connect_one(a) {
                Ok(c) => return Ok(c),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn connect_one(&self, a: SocketAddr) -> io::Result<Conn> {
        if self.proto == SyslogProto::Udp {
            let bind: SocketAddr = if a.is_ipv4() {
                ([0, 0, 0, 0], 0).into()
            } else {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
            };
            let s = UdpSocket::bind(bind)?;
            s.connect(a)?;
            return Ok(Conn::Udp(s));
        }
        let tcp = TcpStream::connect_timeout(&a, CONNECT_TIMEOUT)?;
        tcp.set_nodelay(true)?;
        tcp.set_write_timeout(Some(WRITE_TIMEOUT))?;
        let Some(cfg) = &self.tls else {
            return Ok(Conn::Tcp(tcp));
        };
        let name = ServerName::try_from(self.host.clone())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let conn = ClientConnection::new(cfg.clone(), name).map_err(io::Error::other)?;
        let mut s = StreamOwned::new(conn, tcp);
        // Handshake now, so certificate problems surface as connect errors.
        tcp_read_timeout(&s.sock, Some(CONNECT_TIMEOUT))?;
        while s.conn.is_handshaking() {
            s.conn.complete_io(&mut s.sock)?;
        }
        tcp_read_timeout(&s.sock, None)?;
        Ok(Conn::Tls(Box::new(s)))
    }
}

fn tcp_read_timeout(s: &TcpStream, t: Option<Duration>) -> io::Result<()> {
    s.set_read_timeout(t)
}

impl Conn {
    fn fd(&self) -> RawFd {
        match self {
            Conn::Udp(s) => s.as_raw_fd(),
            Conn::Tcp(s) => s.as_raw_fd(),
            Conn::Tls(s) => s.sock.as_raw_fd(),
        }
    }

    /// True when the server has closed (or reset) the connection: a syslog server never sends
    /// anything, so readable means end of stream, and an error means a reset or (UDP) a
    /// refused datagram.
    pub fn peer_closed(&self) -> bool {
        let mut p = libc::pollfd {
            fd: self.fd(),
            events: libc::POLLIN | libc::POLLRDHUP,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        let n = unsafe { libc::poll(&mut p, 1, 0) };
        if n <= 0 {
            return false;
        }
        if let Conn::Udp(s) = self {
            // Clear the pending ICMP error; the socket itself stays usable.
            let _ = s.take_error();
            return false;
        }
        p.revents & (libc::POLLIN | libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
    }

    /// Writes every record of `chunk`; on success the kernel (and the TLS layer) took them.
    fn write_chunk(&mut self, chunk: &Frames) -> Sent {
        match self {
            Conn::Udp(s) => {
                for (i, m) in chunk.iter().enumerate() {
                    match s.send(m) {
                        Ok(_) => {}
                        Err(error) if error.raw_os_error() == Some(libc::EMSGSIZE) => {
                            return Sent::Rejected { index: i, error }
                        }
                        Err(error) => {
                            return Sent::Lost {
                                confirmed: i,
                                error,
                            }
                        }
                    }
                }
                Sent::All
            }
            Conn::Tcp(s) => whole(s.write_all(chunk.bytes())),
            Conn::Tls(s) => whole(s.write_all(chunk.bytes()).and_then(|()| s.flush())),
        }
    }
}

/// A stream write either took every record or none is confirmed (some may have reached the
/// server: they are sent again, at least once).
fn whole(r: io::Result<()>) -> Sent {
    match r {
        Ok(()) => Sent::All,
        Err(error) => Sent::Lost {
            confirmed: 0,
            error,
        },
    }
}

/// The syslog server as the delivery thread's [`Sink`].
pub struct SyslogSink {
    target: Target,
    conn: Option<Conn>,
}

impl SyslogSink {
    pub fn new(target: Target) -> SyslogSink {
        SyslogSink { target, conn: None }
    }
}

impl Sink for SyslogSink {
    fn peer(&self) -> String {
        format!("syslog {}", self.target.addr())
    }

    fn is_up(&mut self) -> bool {
        if self.conn.as_ref().is_some_and(Conn::peer_closed) {
            self.conn = None;
        }
        self.conn.is_some()
    }

    fn connect(&mut self) -> io::Result<()> {
        self.conn = None;
        self.conn = Some(self.target.connect()?);
        Ok(())
    }

    fn disconnect(&mut self) {
        self.conn = None;
    }

    fn send(&mut self, chunk: &Frames) -> Sent {
        match self.conn.as_mut() {
            Some(c) => c.write_chunk(chunk),
            None => Sent::Lost {
                confirmed: 0,
                error: io::Error::from(io::ErrorKind::NotConnected),
            },
        }
    }
}

fn tls_config(cfg: &ExporterConfig) -> anyhow::Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS setup")?;
    if cfg.syslog_insecure {
        tracing::warn!("syslog.insecure: the TLS server certificate is not verified");
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
            .with_no_client_auth());
    }
    let ca = cfg.syslog_ca.clone().unwrap_or_else(|| SYSTEM_CA.into());
    let mut roots = rustls::RootCertStore::empty();
    for c in read_certs(&ca)? {
        roots
            .add(c)
            .with_context(|| format!("syslog.ca: bad certificate in {}", ca.display()))?;
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

fn read_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("syslog.ca: cannot read {}", path.display()))?
        .collect();
    let certs = certs.with_context(|| format!("syslog.ca: bad PEM in {}", path.display()))?;
    if certs.is_empty() {
        anyhow::bail!("syslog.ca: no certificate in {}", path.display());
    }
    Ok(certs)
}

/// Accepts any server certificate (`syslog.insecure: true`); signatures are still checked so
/// the handshake itself is sound.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
