//! `sensor healthcheck`: asks a running sensor's `/healthz` (the image's `HEALTHCHECK`, which
//! has no curl or wget to do it).

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{bail, Context};

/// The environment variable `--metrics` is also read from.
pub const ENV_ADDR: &str = "SENSOR_METRICS";

/// How long the whole check may take.
const TIMEOUT: Duration = Duration::from_secs(3);

/// Arguments of `sensor healthcheck`.
#[derive(clap::Args, Debug)]
pub struct HealthcheckArgs {
    /// Metrics address of the sensor to ask (what its `--metrics` was); an unspecified host
    /// (`0.0.0.0`, `::`, `:PORT`) means this host's loopback.
    #[arg(long, env = ENV_ADDR, value_name = "ADDR")]
    pub metrics: String,
    /// Ask `/readyz` rather than `/healthz`.
    #[arg(long)]
    pub ready: bool,
}

/// Exit code 0 when the sensor answers 200, else an error saying what it answered.
pub fn healthcheck(a: HealthcheckArgs) -> anyhow::Result<u8> {
    let mut addr = super::resolve(&a.metrics)?;
    if addr.ip().is_unspecified() {
        addr = SocketAddr::new(
            match addr.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            },
            addr.port(),
        );
    }
    let path = if a.ready { "/readyz" } else { "/healthz" };
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT)
        .with_context(|| format!("cannot connect to {addr}"))?;
    s.set_read_timeout(Some(TIMEOUT))?;
    s.set_write_timeout(Some(TIMEOUT))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .with_context(|| format!("cannot ask {addr}"))?;
    let mut answer = Vec::new();
    s.take(64 * 1024)
        .read_to_end(&mut answer)
        .with_context(|| format!("no answer from {addr}"))?;
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.lines().next().unwrap_or_default();
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default().trim();
    if status.split_whitespace().nth(1) != Some("200") {
        bail!("http://{addr}{path}: {status}: {body}");
    }
    println!("{body}");
    Ok(0)
}
