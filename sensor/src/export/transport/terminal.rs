//! `export: terminal`: one document per line on stdout. (Logs go to stderr, so stdout carries
//! only records — the original mixes its logs into stdout.)

use std::io::{self, BufWriter, Write};

use super::Transport;

/// Writes documents to stdout through a 64 KiB buffer.
pub struct Terminal {
    out: BufWriter<io::Stdout>,
}

impl Default for Terminal {
    fn default() -> Self {
        Terminal {
            out: BufWriter::with_capacity(64 * 1024, io::stdout()),
        }
    }
}

impl Transport for Terminal {
    fn send(&mut self, doc: &[u8]) -> io::Result<()> {
        self.out.write_all(doc)?;
        self.out.write_all(b"\n")
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
