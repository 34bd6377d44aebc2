//! `export: file`: one document per line. The file is appended to, or emptied at startup with
//! `file.truncate: true`. (The original deletes it at startup; appending by default means a
//! restart never destroys the alerts of the previous run.)
//!
//! Lines are buffered and written in whole; when a write fails (disk full), the file is cut
//! back to the end of its last complete line, so it never holds a half document, and the
//! buffered lines are dropped with an error saying how many.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;

use super::Transport;

/// Bytes buffered before a write.
const BUFFER: usize = 256 * 1024;

pub struct FileTransport {
    file: File,
    buf: Vec<u8>,
    /// Lines in `buf`.
    lines: u64,
    /// Length of the file up to its last complete line written by us.
    committed: u64,
}

impl FileTransport {
    pub fn open(path: &Path, truncate: bool) -> io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut o = OpenOptions::new();
        o.create(true);
        if truncate {
            o.write(true).truncate(true);
        } else {
            o.append(true);
        }
        let file = o.open(path)?;
        let committed = file.metadata()?.len();
        Ok(FileTransport {
            file,
            buf: Vec::with_capacity(BUFFER),
            lines: 0,
            committed,
        })
    }
}

impl Transport for FileTransport {
    fn send(&mut self, doc: &[u8]) -> io::Result<()> {
        self.buf.extend_from_slice(doc);
        self.buf.push(b'\n');
        self.lines += 1;
        if self.buf.len() >= BUFFER {
            return self.flush();
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let res = self.file.write_all(&self.buf);
        let (len, lines) = (self.buf.len() as u64, self.lines);
        self.buf.clear();
        self.lines = 0;
        match res {
            Ok(()) => {
                self.committed += len;
                Ok(())
            }
            Err(e) => {
                // Part of the buffer may be on disk, ending in the middle of a line.
                // Without O_APPEND the position must come back too, or the next write
                // would leave a hole.
                let cut = self
                    .file
                    .set_len(self.committed)
                    .and_then(|()| self.file.seek(SeekFrom::Start(self.committed)).map(drop));
                let how = match cut {
                    Ok(()) => format!(
                        "file cut back to its last complete line (byte {})",
                        self.committed
                    ),
                    Err(c) => format!("and cutting the half-written line off failed too: {c}"),
                };
                Err(io::Error::new(
                    e.kind(),
                    format!("{e}; {lines} buffered records dropped, {how}"),
                ))
            }
        }
    }
}
