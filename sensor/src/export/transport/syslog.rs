//! `export: syslog`: RFC 5424 as the original frames it (reference §6.4):
//! `<25>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - JSON\n` — PRI 25 (daemon.alert), MSGID =
//! `syslog.tag`, no structured data, newline framing (one datagram per record over UDP).
//!
//! Delivery: messages are formatted on the exporter thread into a batch and handed to the
//! backlog (`export::buffer`: bounded in bytes, optionally backed by a disk buffer) at each
//! flush; a delivery thread sends them (`buffer::deliver`, through [`conn::SyslogSink`]),
//! reconnecting with exponential back-off (100 ms doubling to 5 s) when the server goes away.
//! Over TCP and TLS the sink checks that the server has not closed the connection before each
//! write, so records are not written into a dead socket, and a record leaves the backlog once
//! its write completed. UDP is best effort: a datagram sent while the server is down is lost
//! (the next send reports the refusal).

mod conn;
mod stamp;

use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::Transport;
use crate::config::ExporterConfig;
use crate::export::buffer::{Backlog, Records};
use crate::pipeline::StageStats;

/// The syslog transport: formats on the exporter thread, writes on its own thread.
pub struct Syslog {
    backlog: Backlog,
    header: stamp::Header,
}

impl Syslog {
    /// Validates the TLS setup, opens the backlog (recovering its disk buffer) and starts the
    /// delivery thread, which connects right away; a server that is not up yet only delays
    /// delivery.
    pub fn start(
        cfg: &ExporterConfig,
        stats: Arc<StageStats>,
        stop: Arc<AtomicBool>,
    ) -> anyhow::Result<Syslog> {
        let sink = conn::SyslogSink::new(conn::Target::new(cfg)?);
        let backlog = Backlog::start(
            &cfg.backlog,
            Records::SyslogLines,
            sink,
            stats,
            stop,
            "syslog-writer",
        )?;
        Ok(Syslog {
            backlog,
            header: stamp::Header::new(cfg),
        })
    }
}

impl Transport for Syslog {
    fn send(&mut self, doc: &[u8]) -> io::Result<()> {
        let header = &mut self.header;
        self.backlog.local().push_with(|b| {
            header.write(b);
            b.extend_from_slice(doc);
            b.push(b'\n');
        });
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.backlog.flush();
        Ok(())
    }

    fn close(&mut self) -> io::Result<()> {
        self.backlog.close();
        Ok(())
    }
}
