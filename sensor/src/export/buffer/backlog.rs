//! [`Backlog`]: a buffered transport's side of its backlog — the records it formatted since
//! the last flush, the [`Buffer`] they go to, and the delivery thread that drives its
//! [`Sink`] — so that a transport only formats records and names its sink.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::JoinHandle;

use super::deliver::{self, Sink};
use super::{Buffer, Frames, Records};
use crate::config::BacklogConfig;
use crate::pipeline::StageStats;

/// A transport's backlog and its delivery thread.
pub struct Backlog {
    buffer: Buffer,
    writer: Option<JoinHandle<()>>,
    /// Records formatted since the last flush.
    local: Frames,
}

impl Backlog {
    /// Opens the backlog of `records` (recovering its disk buffer) and starts the delivery
    /// thread `thread`, which delivers through `sink` (what an earlier run left first).
    pub fn start(
        cfg: &BacklogConfig,
        records: Records,
        sink: impl Sink + 'static,
        stats: Arc<StageStats>,
        stop: Arc<AtomicBool>,
        thread: &str,
    ) -> anyhow::Result<Backlog> {
        let (buffer, outbox) = Buffer::open(cfg, records, stats.clone(), stop)?;
        let writer = std::thread::Builder::new()
            .name(thread.into())
            .spawn(move || deliver::run(sink, outbox, stats))?;
        Ok(Backlog {
            buffer,
            writer: Some(writer),
            local: Frames::default(),
        })
    }

    /// Where the transport formats records until the next [`Backlog::flush`].
    pub fn local(&mut self) -> &mut Frames {
        &mut self.local
    }

    /// Hands the records formatted so far to the backlog.
    pub fn flush(&mut self) {
        self.buffer.push(&self.local);
        self.local.clear();
    }

    /// Flushes, closes the backlog and waits for the delivery thread (which delivers until
    /// the close deadline, then keeps the rest on disk or reports it dropped).
    pub fn close(&mut self) {
        self.flush();
        self.buffer.close();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

impl Drop for Backlog {
    fn drop(&mut self) {
        if self.writer.is_some() {
            self.close();
        }
    }
}
