//! `export: file`: one document per line. The file is appended to, or emptied at startup with
//! `file.truncate: true`. (The original deletes it at startup; appending by default means a
//! restart never destroys the alerts of the previous run.)

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use super::Transport;

pub struct FileTransport {
    out: BufWriter<File>,
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
        Ok(FileTransport {
            out: BufWriter::with_capacity(256 * 1024, o.open(path)?),
        })
    }
}

impl Transport for FileTransport {
    fn send(&mut self, doc: &[u8]) -> io::Result<()> {
        self.out.write_all(doc)?;
        self.out.write_all(b"\n")
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
