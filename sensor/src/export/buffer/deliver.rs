//! The delivery thread of a buffered transport, and [`Sink`], the seam a network transport
//! implements to use it: connect, send a chunk of records in order, and say how many of them
//! are confirmed delivered. The backlog removes records only once confirmed.
//!
//! What "confirmed" means is the transport's: for TCP, the write of the records to the socket
//! completed (the kernel took them and the peer had not closed the connection); for TLS, the
//! same after the TLS layer flushed; for a broker with delivery reports (Kafka), the reports
//! that the records were acknowledged — such a sink produces the chunk and returns once the
//! reports for it are in (or counts as confirmed only the prefix acknowledged in order).

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Frames, Outbox, Take};
use crate::pipeline::StageStats;

/// First reconnection delay; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How a [`Sink::send`] went.
#[derive(Debug)]
pub enum Sent {
    /// Every record is confirmed.
    All,
    /// The first `confirmed` records are delivered; the connection is lost (the rest are sent
    /// again after reconnecting).
    Lost { confirmed: usize, error: io::Error },
    /// Record `index` can never be sent (e.g. too large for a datagram); those before it are
    /// delivered. It is counted as an export error and skipped.
    Rejected { index: usize, error: io::Error },
}

/// A network transport's connection, driven by [`run`].
pub trait Sink: Send {
    /// The server, for the log (`syslog tcp://host:514`).
    fn peer(&self) -> String;
    /// Whether a connection is up and the server has not closed it.
    fn is_up(&mut self) -> bool;
    /// Connects (replacing any earlier connection).
    fn connect(&mut self) -> io::Result<()>;
    /// Drops the connection.
    fn disconnect(&mut self);
    /// Sends the records of `chunk` in order; "confirmed up to here" is the answer.
    fn send(&mut self, chunk: &Frames) -> Sent;
}

/// Delivers the backlog through `sink` until it is closed and empty, or the close deadline
/// has passed; then reports what is left ([`Outbox::finish`]). Connects before taking
/// records, so that while the server is down nothing is held in flight; reconnects with an
/// exponential back-off.
pub fn run(mut sink: impl Sink, mut outbox: Outbox, stats: Arc<StageStats>) {
    let mut chunk = Frames::default();
    let mut backoff = FIRST_BACKOFF;
    let mut down_since: Option<Instant> = None;
    loop {
        if !sink.is_up() {
            match sink.connect() {
                Ok(()) => {
                    if let Some(t) = down_since.take() {
                        tracing::info!(
                            "{}: reconnected to {} after {:.1} s",
                            stats.label,
                            sink.peer(),
                            t.elapsed().as_secs_f64()
                        );
                    }
                    backoff = FIRST_BACKOFF;
                    outbox.set_reachable(true);
                }
                Err(e) => {
                    if down_since.is_none() {
                        tracing::warn!(
                            "{}: {} unreachable ({e}); holding records and retrying",
                            stats.label,
                            sink.peer()
                        );
                        down_since = Some(Instant::now());
                    }
                    outbox.set_reachable(false);
                    if !outbox.wait(backoff) {
                        break;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            }
        }
        if outbox.take(&mut chunk) == Take::Closed {
            break;
        }
        // Taking may have waited long: check again that the server is still there, so that
        // records are not written into a connection it has closed meanwhile.
        if !sink.is_up() {
            outbox.retry();
            continue;
        }
        match sink.send(&chunk) {
            Sent::All => outbox.confirm(chunk.len()),
            Sent::Lost { confirmed, error } => {
                outbox.confirm(confirmed);
                outbox.retry();
                tracing::warn!(
                    "{}: {} connection lost ({error}); reconnecting",
                    stats.label,
                    sink.peer()
                );
                down_since.get_or_insert_with(Instant::now);
                sink.disconnect();
            }
            Sent::Rejected { index, error } => {
                // Confirming the rejected record removes it; the ones after it go again.
                outbox.confirm(index + 1);
                outbox.retry();
                StageStats::add(&stats.export_errors, 1);
                tracing::error!(
                    "{}: message rejected by {}: {error}",
                    stats.label,
                    sink.peer()
                );
            }
        }
    }
    outbox.finish(&sink.peer());
}
