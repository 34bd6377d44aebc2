//! `export: syslog`: RFC 5424 as the original frames it (reference §6.4):
//! `<25>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - JSON\n` — PRI 25 (daemon.alert), MSGID =
//! `syslog.tag`, no structured data, newline framing (one datagram per record over UDP).
//!
//! Delivery: records go into a bounded backlog that a writer thread drains. When the server
//! goes away the writer reconnects with exponential back-off (100 ms doubling to 5 s) and the
//! backlog holds records meanwhile; when it overflows the oldest are dropped, counted and
//! logged. Over TCP and TLS the writer checks that the server has not closed the connection
//! before each write, so records are not written into a dead socket. UDP is best effort: a
//! datagram sent while the server is down is lost (the next send reports the refusal).

mod conn;
mod stamp;

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::Transport;
use crate::config::ExporterConfig;
use crate::pipeline::StageStats;

/// How long the writer keeps trying at shutdown before it gives the backlog up as dropped.
const CLOSE_DEADLINE: Duration = Duration::from_secs(10);
/// Messages written per system call (TCP/TLS).
const WRITE_CHUNK: usize = 256;

struct Backlog {
    queue: VecDeque<Vec<u8>>,
    cap: usize,
    closing: bool,
    /// Buffers handed back by the writer for reuse.
    spare: Vec<Vec<u8>>,
}

struct Shared {
    backlog: Mutex<Backlog>,
    wake: Condvar,
}

/// The syslog transport: formats on the exporter thread, writes on its own thread.
pub struct Syslog {
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
    header: stamp::Header,
    local: Vec<Vec<u8>>,
    stats: Arc<StageStats>,
}

impl Syslog {
    /// Validates the TLS setup and starts the writer; the first connection is made lazily,
    /// so a server that is not up yet only delays delivery.
    pub fn start(cfg: &ExporterConfig, stats: Arc<StageStats>) -> anyhow::Result<Syslog> {
        let target = conn::Target::new(cfg)?;
        let shared = Arc::new(Shared {
            backlog: Mutex::new(Backlog {
                queue: VecDeque::new(),
                cap: cfg.syslog_backlog.max(1),
                closing: false,
                spare: Vec::new(),
            }),
            wake: Condvar::new(),
        });
        let s2 = shared.clone();
        let st2 = stats.clone();
        let writer = std::thread::Builder::new()
            .name("syslog-writer".into())
            .spawn(move || writer_loop(target, s2, st2))?;
        Ok(Syslog {
            shared,
            writer: Some(writer),
            header: stamp::Header::new(cfg),
            local: Vec::new(),
            stats,
        })
    }
}

impl Transport for Syslog {
    fn send(&mut self, doc: &[u8]) -> io::Result<()> {
        let mut buf = self.take_spare();
        self.header.write(&mut buf);
        buf.extend_from_slice(doc);
        buf.push(b'\n');
        self.local.push(buf);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.local.is_empty() {
            return Ok(());
        }
        let mut dropped = 0u64;
        {
            let mut b = lock(&self.shared.backlog);
            for m in self.local.drain(..) {
                if b.queue.len() >= b.cap {
                    b.queue.pop_front();
                    dropped += 1;
                }
                b.queue.push_back(m);
            }
        }
        self.shared.wake.notify_one();
        if dropped > 0 {
            let before = self.stats.dropped.fetch_add(dropped, Relaxed);
            // Log on the first drop of an outage and then every 10,000.
            if before == 0 || (before + dropped) / 10_000 != before / 10_000 {
                tracing::warn!(
                    "{}: syslog backlog full, dropped {} records so far (oldest first)",
                    self.stats.label,
                    before + dropped
                );
            }
        }
        Ok(())
    }

    fn close(&mut self) -> io::Result<()> {
        self.flush()?;
        lock(&self.shared.backlog).closing = true;
        self.shared.wake.notify_all();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
        let d = self.stats.dropped.load(Relaxed);
        if d > 0 {
            tracing::warn!("{}: {d} records were dropped in total", self.stats.label);
        }
        Ok(())
    }
}

impl Syslog {
    fn take_spare(&mut self) -> Vec<u8> {
        let mut v = if self.local.is_empty() {
            lock(&self.shared.backlog).spare.pop().unwrap_or_default()
        } else {
            Vec::new()
        };
        v.clear();
        v
    }
}

impl Drop for Syslog {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = self.close();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn writer_loop(target: conn::Target, shared: Arc<Shared>, stats: Arc<StageStats>) {
    let mut conn: Option<conn::Conn> = None;
    let mut inflight: Vec<Vec<u8>> = Vec::new();
    let mut backoff = Duration::from_millis(100);
    let mut down_since: Option<Instant> = None;
    let mut close_started: Option<Instant> = None;
    loop {
        if inflight.is_empty() {
            let mut b = lock(&shared.backlog);
            while b.queue.is_empty() && !b.closing {
                b = shared.wake.wait(b).unwrap_or_else(|e| e.into_inner());
            }
            if b.queue.is_empty() {
                return;
            }
            let n = b.queue.len().min(WRITE_CHUNK);
            inflight.extend(b.queue.drain(..n));
        }
        let closing = lock(&shared.backlog).closing;
        if closing {
            close_started.get_or_insert_with(Instant::now);
        }
        let c = match conn.as_mut() {
            Some(c) if !c.peer_closed() => c,
            _ => {
                conn = None;
                match target.connect() {
                    Ok(c) => {
                        if let Some(t) = down_since.take() {
                            tracing::info!(
                                "{}: reconnected to syslog {} after {:.1} s",
                                stats.label,
                                target.addr(),
                                t.elapsed().as_secs_f64()
                            );
                        }
                        backoff = Duration::from_millis(100);
                        conn.insert(c)
                    }
                    Err(e) => {
                        if down_since.is_none() {
                            tracing::warn!(
                                "{}: syslog {} unreachable ({e}); holding records and retrying",
                                stats.label,
                                target.addr()
                            );
                            down_since = Some(Instant::now());
                        }
                        if close_started.is_some_and(|t| t.elapsed() >= CLOSE_DEADLINE) {
                            let mut b = lock(&shared.backlog);
                            let lost = (inflight.len() + b.queue.len()) as u64;
                            b.queue.clear();
                            StageStats::add(&stats.dropped, lost);
                            tracing::error!(
                                "{}: gave up at shutdown; {lost} records not delivered",
                                stats.label
                            );
                            return;
                        }
                        // Sleep, but wake early when shutdown starts.
                        let b = lock(&shared.backlog);
                        let _ = shared.wake.wait_timeout(b, backoff);
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                        continue;
                    }
                }
            }
        };
        match c.write_batch(&mut inflight) {
            Ok(()) => {
                let mut b = lock(&shared.backlog);
                for mut m in inflight.drain(..) {
                    if b.spare.len() < 1024 {
                        m.clear();
                        b.spare.push(m);
                    }
                }
            }
            Err(conn::WriteError::Message(e)) => {
                // This one message can never be sent (too large for a datagram).
                StageStats::add(&stats.export_errors, 1);
                tracing::error!("{}: syslog message rejected: {e}", stats.label);
                inflight.remove(0);
            }
            Err(conn::WriteError::Conn(e)) => {
                tracing::warn!(
                    "{}: syslog connection lost ({e}); reconnecting",
                    stats.label
                );
                down_since.get_or_insert_with(Instant::now);
                conn = None;
            }
        }
    }
}
