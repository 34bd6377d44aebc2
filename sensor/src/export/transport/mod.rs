//! Transports: where encoded documents go. [`terminal`] (stdout), [`file`], [`syslog`]
//! (UDP, TCP, TLS with reconnection and a bounded backlog) and [`NullTransport`].

pub mod file;
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
