//! The disk part of a backlog: records that could not be delivered, in segment files
//! ([`segment`]) under the exporter's `backlog.path`, with a ledger of how far delivery is
//! confirmed. Segments are appended to by the exporter thread and read by the delivery thread
//! ([`reader`]); a segment is deleted once every record in it is confirmed.
//!
//! What survives what: a record is on disk once its `write` returned (the page cache keeps it
//! across a crash or `kill -9` of the sensor); the delivery thread `fdatasync`s new segment
//! data and the ledger every second, which bounds what a power loss can take. The ledger is
//! written after every confirmed write; if it is lost or damaged, delivery starts again at the
//! oldest segment (duplicates, never a loss).
//!
//! The `format` file names what the records hold ([`Records`]), so that a directory written
//! by one kind of exporter is never delivered by another; a directory with segments and no
//! `format` file was written before there was one, by a syslog exporter (the only one that
//! had a disk buffer then).

pub mod reader;
pub mod segment;

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::Records;
use segment::{Parsed, FRAME_HEADER, MAGIC};

/// The ledger: magic, the first unconfirmed record's number, CRC-32 of the 16 bytes before.
const LEDGER_MAGIC: &[u8; 8] = b"SFLEDG1\n";
const LEDGER_LEN: usize = 20;

/// One segment file.
pub struct Segment {
    /// Number of its first record; the next segment's first is one past its last.
    pub first: u64,
    /// Bytes written (and readable) so far.
    pub bytes: u64,
}

/// What a reader needs to know about the segment holding a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    pub first: u64,
    /// One past its last record.
    pub end: u64,
    pub path: PathBuf,
    /// Bytes that may be read.
    pub bytes: u64,
    /// Records may still be appended to it.
    pub tail: bool,
}

/// What [`Disk::open`] found from an earlier run.
pub struct Recovered {
    /// First record not confirmed delivered.
    pub confirmed: u64,
    /// Records to deliver.
    pub records: u64,
    /// Notes for the log: a damaged ledger, a cut-off last record.
    pub notes: Vec<String>,
}

pub struct Disk {
    dir: PathBuf,
    /// Held open: its `flock` keeps a second sensor out of the directory.
    _lock: File,
    ledger: File,
    segments: VecDeque<Segment>,
    /// One past the last record on disk.
    end: u64,
    /// Bytes of all segment files.
    bytes: u64,
    max_bytes: u64,
    segment_bytes: u64,
    /// Append handle of the last segment.
    tail: Option<File>,
    scratch: Vec<u8>,
    /// Files written since the last sync, and whether the directory changed.
    unsynced: Vec<File>,
    dir_changed: bool,
    /// Something was written since the last sync (nothing to sync while the disk is idle).
    dirty: bool,
}

impl Disk {
    /// Opens (creating) the buffer directory, takes its lock, and recovers what an earlier
    /// run left: the ledger, the segments, and a last record cut short by a crash, which is
    /// cut off. Refuses a directory whose records are of another kind than `records`.
    pub fn open(dir: &Path, max_bytes: u64, records: Records) -> io::Result<(Disk, Recovered)> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(dir.join("lock"))?;
        // SAFETY: flock on a valid descriptor we own.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(
                e.kind(),
                format!("in use by another exporter or sensor ({e})"),
            ));
        }
        let ledger = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o600)
            .open(dir.join("ledger"))?;
        let mut notes = Vec::new();
        let mut firsts = Vec::new();
        for e in fs::read_dir(dir)? {
            let e = e?;
            let name = e.file_name();
            match name.to_str().and_then(segment::parse_name) {
                Some(first) => firsts.push((first, e.metadata()?.len())),
                None if matches!(name.to_str(), Some("lock" | "ledger" | "format")) => {}
                None => notes.push(format!("ignoring {:?}", e.path())),
            }
        }
        firsts.sort_unstable();
        check_format(dir, records, !firsts.is_empty())?;
        let mut disk = Disk {
            dir: dir.to_path_buf(),
            _lock: lock,
            ledger,
            segments: firsts
                .iter()
                .map(|&(first, bytes)| Segment { first, bytes })
                .collect(),
            end: 0,
            bytes: firsts.iter().map(|s| s.1).sum(),
            max_bytes,
            segment_bytes: segment_bytes(max_bytes),
            tail: None,
            scratch: Vec::new(),
            unsynced: Vec::new(),
            dir_changed: false,
            dirty: false,
        };
        let ledger = disk.read_ledger();
        let oldest = disk.segments.front().map(|s| s.first);
        let confirmed = match (ledger, oldest) {
            (Ok(Some(c)), _) => c,
            (Ok(None), first) => first.unwrap_or(0),
            (Err(()), Some(first)) => {
                notes.push(format!(
                    "the ledger is missing or damaged: delivering again from record {first}, the oldest kept (some may arrive twice)"
                ));
                first
            }
            (Err(()), None) => 0,
        };
        // Records before the oldest segment are gone, whatever the ledger says.
        let confirmed = confirmed.max(oldest.unwrap_or(0));
        disk.end = match disk.segments.back() {
            Some(s) => {
                let first = s.first;
                disk.recover_tail(first, &mut notes)?
            }
            None => confirmed,
        };
        disk.confirm(confirmed)?;
        let records = disk.owed(confirmed);
        Ok((
            disk,
            Recovered {
                confirmed,
                records,
                notes,
            },
        ))
    }

    /// Finds the last whole record of the last segment, cuts off what follows it (a record
    /// whose write a crash interrupted), and opens the segment for appending. Returns one
    /// past the last record's number.
    fn recover_tail(&mut self, first: u64, notes: &mut Vec<String>) -> io::Result<u64> {
        let path = self.dir.join(segment::file_name(first));
        let data = fs::read(&path)?;
        if data.len() < MAGIC.len() {
            // Created, and the sensor stopped before its header was written: start it again.
            let mut f = OpenOptions::new().write(true).truncate(true).open(&path)?;
            f.write_all(MAGIC)?;
            if let Some(s) = self.segments.back_mut() {
                self.bytes = self.bytes - s.bytes + MAGIC.len() as u64;
                s.bytes = MAGIC.len() as u64;
            }
            self.tail = Some(OpenOptions::new().append(true).open(&path)?);
            return Ok(first);
        }
        let mut at = MAGIC.len();
        let mut next = first;
        let mut good_end = at;
        while at < data.len() {
            match segment::parse(&data, at) {
                Parsed::Frame { seq, end, .. } if seq >= next => {
                    next = seq + 1;
                    at = end;
                    good_end = end;
                }
                _ => match segment::resync(&data, at + 1, next..u64::MAX) {
                    Some(q) => at = q,
                    None => break,
                },
            }
        }
        if (good_end as u64) < data.len() as u64 {
            notes.push(format!(
                "{}: {} bytes after the last whole record cut off (a write the sensor did not finish, or damage)",
                path.display(),
                data.len() - good_end
            ));
            let f = OpenOptions::new().write(true).open(&path)?;
            f.set_len(good_end as u64)?;
            if let Some(s) = self.segments.back_mut() {
                self.bytes -= s.bytes - good_end as u64;
                s.bytes = good_end as u64;
            }
        }
        self.tail = Some(OpenOptions::new().append(true).open(&path)?);
        Ok(next)
    }

    /// The first unconfirmed record's number: `Ok(None)` when nothing was ever confirmed
    /// (an empty ledger), `Err` when the ledger is damaged.
    fn read_ledger(&self) -> Result<Option<u64>, ()> {
        if self.ledger.metadata().map_or(0, |m| m.len()) == 0 {
            return Ok(None);
        }
        let mut b = [0u8; LEDGER_LEN];
        self.ledger.read_exact_at(&mut b, 0).map_err(|_| ())?;
        let mut crc = [0u8; 4];
        crc.copy_from_slice(&b[16..20]);
        if &b[..8] != LEDGER_MAGIC || crc32fast::hash(&b[..16]) != u32::from_le_bytes(crc) {
            return Err(());
        }
        let mut c = [0u8; 8];
        c.copy_from_slice(&b[8..16]);
        Ok(Some(u64::from_le_bytes(c)))
    }

    fn write_ledger(&mut self, confirmed: u64) -> io::Result<()> {
        let mut b = [0u8; LEDGER_LEN];
        b[..8].copy_from_slice(LEDGER_MAGIC);
        b[8..16].copy_from_slice(&confirmed.to_le_bytes());
        let crc = crc32fast::hash(&b[..16]);
        b[16..20].copy_from_slice(&crc.to_le_bytes());
        self.ledger.write_all_at(&b, 0)?;
        self.dirty = true;
        Ok(())
    }

    /// One past the last record on disk.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Bytes that may still be written before the size limit.
    pub fn room(&self) -> u64 {
        self.max_bytes.saturating_sub(self.bytes)
    }

    /// The oldest record kept.
    pub fn first(&self) -> Option<u64> {
        self.segments.front().map(|s| s.first)
    }

    /// Bytes of all segment files.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Records on disk not yet confirmed.
    pub fn owed(&self, confirmed: u64) -> u64 {
        let first = self.segments.front().map_or(self.end, |s| s.first);
        self.end.saturating_sub(confirmed.max(first))
    }

    /// Appends records numbered from `first` (which must be [`Disk::end`] when the disk holds
    /// records) while they fit under the size limit. Returns how many are on disk, and the
    /// write error that stopped it, if one did (the segment is then cut back to its last
    /// whole record).
    pub fn append<'a>(
        &mut self,
        first: u64,
        recs: impl Iterator<Item = &'a [u8]>,
    ) -> (usize, io::Result<()>) {
        if self.segments.is_empty() {
            self.end = first;
        }
        debug_assert_eq!(first, self.end);
        let mut written = 0;
        let mut staged = 0usize;
        self.scratch.clear();
        for rec in recs {
            let frame = (FRAME_HEADER + rec.len()) as u64;
            let pending = self.scratch.len() as u64;
            if self.bytes + pending + frame > self.max_bytes {
                break;
            }
            let tail = self
                .segments
                .back()
                .map(|s| (s.bytes, s.first < self.end + staged as u64));
            let rotate = match tail {
                _ if self.tail.is_none() => true,
                Some((bytes, has_records)) => {
                    has_records && bytes + pending + frame > self.segment_bytes
                }
                None => true,
            };
            if rotate {
                if let Err(e) = self.write_scratch(&mut written, &mut staged) {
                    return (written, Err(e));
                }
                if let Err(e) = self.start_segment(first + written as u64) {
                    return (written, Err(e));
                }
            }
            segment::encode(first + (written + staged) as u64, rec, &mut self.scratch);
            staged += 1;
        }
        let res = self.write_scratch(&mut written, &mut staged);
        (written, res)
    }

    /// Writes the staged frames to the last segment; on success they count as written.
    fn write_scratch(&mut self, written: &mut usize, staged: &mut usize) -> io::Result<()> {
        if self.scratch.is_empty() {
            return Ok(());
        }
        let n = std::mem::take(staged);
        let (Some(f), Some(s)) = (self.tail.as_mut(), self.segments.back_mut()) else {
            self.scratch.clear();
            return Err(io::Error::other("no segment open"));
        };
        let res = f.write_all(&self.scratch);
        if res.is_err() {
            // Whatever part of the write landed is cut off again.
            let _ = f.set_len(s.bytes);
        } else {
            s.bytes += self.scratch.len() as u64;
            self.bytes += self.scratch.len() as u64;
            self.dirty = true;
            *written += n;
            self.end += n as u64;
        }
        self.scratch.clear();
        res
    }

    fn start_segment(&mut self, first: u64) -> io::Result<()> {
        if let Some(old) = self.tail.take() {
            self.unsynced.push(old);
        }
        let path = self.dir.join(segment::file_name(first));
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&path)?;
        f.write_all(MAGIC)?;
        let f = OpenOptions::new().append(true).open(&path)?;
        self.segments.push_back(Segment {
            first,
            bytes: MAGIC.len() as u64,
        });
        self.bytes += MAGIC.len() as u64;
        self.tail = Some(f);
        self.dir_changed = true;
        Ok(())
    }

    /// Records below `confirmed` are delivered: writes the ledger and deletes every segment
    /// whose records all are.
    pub fn confirm(&mut self, confirmed: u64) -> io::Result<()> {
        if self.segments.is_empty() {
            return Ok(());
        }
        self.write_ledger(confirmed)?;
        while let Some(s) = self.segments.front() {
            let end = self.segments.get(1).map_or(self.end, |n| n.first);
            if end > confirmed {
                break;
            }
            let first = s.first;
            self.remove_front(first)?;
        }
        Ok(())
    }

    fn remove_front(&mut self, first: u64) -> io::Result<()> {
        if let Some(s) = self.segments.pop_front() {
            self.bytes -= s.bytes;
        }
        if self.segments.is_empty() {
            self.tail = None;
        }
        self.dir_changed = true;
        match fs::remove_file(self.dir.join(segment::file_name(first))) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Deletes the oldest segment if nothing of it was handed out yet (`handed` at or before
    /// its first record) and it is not the one being appended to; returns its records' range.
    pub fn drop_oldest(&mut self, handed: u64) -> io::Result<Option<(u64, u64)>> {
        let (Some(s), Some(next)) = (self.segments.front(), self.segments.get(1)) else {
            return Ok(None);
        };
        if handed > s.first {
            return Ok(None);
        }
        let range = (s.first, next.first);
        // The ledger first: a crash in between must not bring the records back as owed.
        self.write_ledger(range.1)?;
        self.remove_front(range.0)?;
        Ok(Some(range))
    }

    /// The segment holding record `seq`.
    pub fn segment_of(&self, seq: u64) -> Option<SegmentInfo> {
        let i = self
            .segments
            .partition_point(|s| s.first <= seq)
            .checked_sub(1)?;
        let s = &self.segments[i];
        let next = self.segments.get(i + 1);
        Some(SegmentInfo {
            first: s.first,
            end: next.map_or(self.end, |n| n.first),
            path: self.dir.join(segment::file_name(s.first)),
            bytes: s.bytes,
            tail: next.is_none(),
        })
    }

    /// Handles to `fdatasync` (the delivery thread does it, off the exporter's path): files
    /// written since the last call, the last segment, the ledger, and the directory when
    /// segments were created or deleted.
    pub fn take_unsynced(&mut self) -> Vec<File> {
        if !std::mem::take(&mut self.dirty) && !self.dir_changed {
            return Vec::new();
        }
        let mut v: Vec<File> = std::mem::take(&mut self.unsynced);
        v.extend(self.tail.as_ref().and_then(|f| f.try_clone().ok()));
        v.extend(self.ledger.try_clone().ok());
        if std::mem::take(&mut self.dir_changed) {
            v.extend(File::open(&self.dir).ok());
        }
        v
    }
}

/// Segment size: an eighth of the buffer (so that confirmed data is freed in steps), between
/// 64 KiB and 8 MiB.
/// Checks (or, in a new directory, writes) the `format` file against `records`.
fn check_format(dir: &Path, records: Records, has_segments: bool) -> io::Result<()> {
    let path = dir.join("format");
    let found = match fs::read_to_string(&path) {
        Ok(s) => s.trim_end().to_string(),
        Err(e) if e.kind() == io::ErrorKind::NotFound && has_segments => {
            Records::SyslogLines.tag().to_string()
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut f = OpenOptions::new()
                .create_new(true)
                .write(true)
                .mode(0o600)
                .open(&path)?;
            f.write_all(format!("{}\n", records.tag()).as_bytes())?;
            f.sync_all()?;
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    if found == records.tag() {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "holds records of another kind ({found:?}; this exporter writes {:?}): give each exporter its own directory, or empty this one once its records are no longer needed",
            records.tag()
        ),
    ))
}

fn segment_bytes(max_bytes: u64) -> u64 {
    (max_bytes / 8).clamp(64 << 10, 8 << 20)
}
