//! `sensor run --metrics ADDR`: the pipeline's counters for Prometheus at `/metrics`, and
//! `/healthz` (the process answers) and `/readyz` (the pipeline runs and its input is
//! connected) for liveness and readiness probes.
//!
//! Served by hyper on a one-thread tokio runtime of its own (the `metrics` thread): a scrape
//! or probe never waits for the pipeline, and slow or idle clients cost a task each, bounded
//! in number and in time, rather than a thread. Counters are read from the pipeline's
//! [`Registry`] at each scrape ([`collect`]); nothing is added to the record path.

mod check;
mod collect;
mod http;

pub use check::{healthcheck, HealthcheckArgs, ENV_ADDR};
pub use collect::PREFIX;

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;

use anyhow::Context;

use crate::config::DriverKind;
use crate::pipeline::{Registry, StageStats};

/// Where the pipeline is in its life, for `/readyz`.
const STARTING: u8 = 0;
const RUNNING: u8 = 1;
const FINISHED: u8 = 2;

/// What the endpoint reads: the counters and the state of the run.
#[derive(Debug)]
pub struct State {
    registry: Registry,
    input: DriverKind,
    /// The driver's counters (connections of the socket driver).
    driver: Arc<StageStats>,
    /// Set by SIGINT/SIGTERM: the pipeline drains and takes no more input.
    stop: Arc<AtomicBool>,
    phase: AtomicU8,
}

impl State {
    /// The state of a run reading `input`, counted in `registry` (`driver`: the driver's own
    /// stage counters), stopping when `stop` is set.
    pub fn new(
        registry: Registry,
        input: DriverKind,
        driver: Arc<StageStats>,
        stop: Arc<AtomicBool>,
    ) -> State {
        State {
            registry,
            input,
            driver,
            stop,
            phase: AtomicU8::new(STARTING),
        }
    }

    fn input_name(&self) -> &'static str {
        match self.input {
            DriverKind::File => "file",
            DriverKind::Socket => "socket",
            DriverKind::Ebpf => "ebpf",
            DriverKind::Kafka => "kafka",
        }
    }

    fn connections(&self) -> u64 {
        self.driver.connections.load(Relaxed)
    }

    /// `Ok(what runs)` when the pipeline runs and its input is connected, else why not.
    fn readiness(&self) -> Result<String, String> {
        if self.stop.load(Relaxed) {
            return Err("stopping: no more input, draining the pipeline".into());
        }
        match self.phase.load(Relaxed) {
            STARTING => return Err("starting: the pipeline is being built".into()),
            FINISHED => return Err("the input has ended; draining the pipeline".into()),
            _ => {}
        }
        let input = self.input_name();
        match (self.input, self.connections()) {
            (DriverKind::Socket, 0) => Err("no collector connected to the socket".into()),
            (DriverKind::Socket, n) => Ok(format!("input socket, {n} collector(s) connected")),
            _ => Ok(format!("input {input}")),
        }
    }
}

/// A running endpoint.
#[derive(Debug)]
pub struct Endpoint {
    /// The address it listens on (the port chosen by the system when 0 was given).
    pub addr: SocketAddr,
    state: Arc<State>,
}

impl Endpoint {
    /// The pipeline is built and its input is being read.
    pub fn running(&self) {
        self.state.phase.store(RUNNING, Relaxed);
    }

    /// The input has ended; what is left drains.
    pub fn finished(&self) {
        self.state.phase.store(FINISHED, Relaxed);
    }
}

/// Resolves `ADDR` of `--metrics`: `HOST:PORT` (`127.0.0.1:9090`, `[::1]:9090`,
/// `localhost:9090`) or `:PORT` for every IPv4 interface, as Go programs spell it.
pub fn resolve(addr: &str) -> anyhow::Result<SocketAddr> {
    let spelled = match addr.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => addr.to_string(),
    };
    spelled
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .with_context(|| format!("metrics address {addr:?}: expected HOST:PORT or :PORT"))
}

/// The endpoint's socket, bound but not yet served.
#[derive(Debug)]
pub struct Listener(TcpListener);

impl Listener {
    /// Binds `addr` (an address taken or not permitted fails here, before anything starts).
    pub fn bind(addr: SocketAddr) -> anyhow::Result<Listener> {
        let l =
            TcpListener::bind(addr).with_context(|| format!("metrics: cannot listen on {addr}"))?;
        l.set_nonblocking(true)
            .context("metrics: cannot make the listener non-blocking")?;
        Ok(Listener(l))
    }

    /// Serves the endpoint on a thread of its own for as long as the process runs.
    pub fn serve(self, state: State) -> anyhow::Result<Endpoint> {
        let addr = self.0.local_addr().context("metrics: listener address")?;
        let state = Arc::new(state);
        let app = Arc::new(http::App::new(state.clone()));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .context("metrics: cannot start the tokio runtime")?;
        let listener = self.0;
        std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || rt.block_on(http::serve(listener, app)))
            .context("metrics: cannot start the server thread")?;
        tracing::info!("metrics on http://{addr}/metrics (liveness /healthz, readiness /readyz)");
        Ok(Endpoint { addr, state })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(input: DriverKind) -> State {
        let r = Registry::default();
        let d = r.stage("driver");
        State::new(r, input, d, Arc::new(AtomicBool::new(false)))
    }

    #[test]
    fn ready_only_while_running_with_a_connected_input() {
        let s = state(DriverKind::Socket);
        assert!(s.readiness().unwrap_err().starts_with("starting"));
        s.phase.store(RUNNING, Relaxed);
        assert_eq!(
            s.readiness(),
            Err("no collector connected to the socket".into())
        );
        s.driver.connections.store(2, Relaxed);
        assert_eq!(
            s.readiness(),
            Ok("input socket, 2 collector(s) connected".into())
        );
        s.stop.store(true, Relaxed);
        assert!(s.readiness().unwrap_err().starts_with("stopping"));
        let f = state(DriverKind::File);
        f.phase.store(RUNNING, Relaxed);
        assert_eq!(f.readiness(), Ok("input file".into()));
        f.phase.store(FINISHED, Relaxed);
        assert!(f.readiness().is_err());
    }

    #[test]
    fn addresses_as_operators_write_them() {
        assert_eq!(
            resolve("127.0.0.1:9090").unwrap(),
            "127.0.0.1:9090".parse().unwrap()
        );
        assert_eq!(resolve(":9090").unwrap(), "0.0.0.0:9090".parse().unwrap());
        assert_eq!(resolve("[::1]:0").unwrap(), "[::1]:0".parse().unwrap());
        for bad in ["9090", "127.0.0.1", "host:port", ""] {
            let e = resolve(bad).unwrap_err().to_string();
            assert!(e.contains("expected HOST:PORT"), "{bad}: {e}");
        }
    }
}
