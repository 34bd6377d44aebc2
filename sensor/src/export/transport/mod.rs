//! Transports: where encoded documents go. [`terminal`] (stdout), [`file`], [`syslog`]
//! (UDP, TCP, TLS with reconnection and a bounded backlog), [`kafka`] (keyed messages,
//! delivery reports) and [`NullTransport`].

pub mod file;
pub mod kafka;
pub mod syslog;
pub mod terminal;

use std::io;

/// Delivers documents.
pub trait Transport: Send {
    /// Queues or writes one document.
    fn send(&mut self, doc: &[u8]) -> io::Result<()>;
    /// Makes everything sent so far visible to the reader.
    fn flush(&mut self) -> io::Result<()>;
    /// Final flush at shutdown (a syslog transport waits for its backlog here).
    fn close(&mut self) -> io::Result<()> {
        self.flush()
    }
    /// Queues one message under `key` (a transport with keys: Kafka). `record` is false for
    /// a message that carries an entity a record needs rather than the record. Returns false
    /// when the transport dropped the message; it has then counted the record (this one, or
    /// the one the entity was for, which the caller must not send).
    fn send_keyed(&mut self, key: &[u8], doc: &[u8], record: bool) -> io::Result<bool> {
        let _ = (key, record);
        self.send(doc).map(|()| true)
    }
    /// True when the transport counts `out` itself, from the receiver's confirmations,
    /// rather than the exporter on each `send`.
    fn confirms_delivery(&self) -> bool {
        false
    }
}

/// Discards everything (`export: null`, for benchmarks).
pub struct NullTransport;

impl Transport for NullTransport {
    fn send(&mut self, _doc: &[u8]) -> io::Result<()> {
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
