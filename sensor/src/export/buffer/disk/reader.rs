//! Reading segments back for delivery, on the delivery thread: a segment's bytes are loaded
//! (and topped up as the exporter appends) with the backlog unlocked, then cut into records
//! under the lock. Damage is reported once and skipped: the numbers missing between two good
//! records are exactly the records lost.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;

use super::segment::{self, Parsed, MAGIC};
use super::SegmentInfo;
use crate::export::buffer::Frames;

/// Something wrong found while reading, for the log and the counters.
pub struct Damage {
    /// Where: the segment (its first record's number) and the byte offset; a retry reads the
    /// same place again, and reports are kept to places not reported before.
    pub at: (u64, usize),
    /// Records lost (numbers); empty when the damage cost no record.
    pub lost: Range<u64>,
    pub what: String,
}

/// How far a read got.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// The chunk is full.
    Full,
    /// Every record of the segment up to `end` has been handed out or found lost.
    SegmentDone,
    /// More bytes of the segment must be loaded first.
    NeedLoad,
}

#[derive(Default)]
pub struct DiskReader {
    /// The segment loaded (its first record's number) and its file.
    first: Option<u64>,
    file: Option<File>,
    data: Vec<u8>,
    pos: usize,
    /// Number the next frame should carry.
    expect: u64,
    /// Damaged bytes skipped since the last good record.
    bad: Option<(usize, usize)>,
}

impl DiskReader {
    /// Whether [`DiskReader::load`] must run before records of `seg` can be read.
    pub fn needs_load(&self, seg: &SegmentInfo) -> bool {
        self.first != Some(seg.first) || (self.data.len() as u64) < seg.bytes
    }

    /// Loads `seg`, or the bytes appended to it since the last load. Runs unlocked.
    pub fn load(&mut self, seg: &SegmentInfo) -> io::Result<()> {
        if self.first != Some(seg.first) {
            self.first = None;
            self.data.clear();
            self.file = Some(File::open(&seg.path)?);
            self.pos = 0;
            self.expect = seg.first;
            self.first = Some(seg.first);
        }
        let have = self.data.len();
        let want = seg.bytes as usize;
        if want > have {
            self.data.resize(want, 0);
            let f = self
                .file
                .as_ref()
                .ok_or_else(|| io::Error::other("no file"))?;
            let mut at = have;
            while at < want {
                match f.read_at(&mut self.data[at..], at as u64) {
                    Ok(0) => break,
                    Ok(n) => at += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        self.data.truncate(at);
                        return Err(e);
                    }
                }
            }
            // A file shorter than expected (cut by someone else) reads as what is there.
            self.data.truncate(at);
        }
        Ok(())
    }

    /// Forgets the loaded segment (it was deleted, or everything on disk is delivered).
    pub fn reset(&mut self) {
        self.first = None;
        self.file = None;
        self.data = Vec::new();
    }

    /// Hands out records of `seg` numbered `*handed` and later into `out` (their confirm
    /// marks in `ends`), until `max` records or bytes, advancing `*handed`. Damage found is
    /// passed to `damaged`. Runs under the backlog's lock.
    pub fn read(
        &mut self,
        seg: &SegmentInfo,
        handed: &mut u64,
        out: &mut Frames,
        ends: &mut Vec<u64>,
        max: (usize, usize),
        damaged: &mut impl FnMut(Damage),
    ) -> Read {
        if self.first != Some(seg.first) {
            return Read::NeedLoad;
        }
        if *handed < self.expect || self.pos == 0 {
            // A retry went back (or nothing was read yet): start the segment again.
            self.pos = MAGIC.len().min(self.data.len());
            self.expect = seg.first;
            self.bad = None;
            if self.data.len() < MAGIC.len() || &self.data[..MAGIC.len()] != MAGIC {
                damaged(Damage {
                    at: (seg.first, 0),
                    lost: seg.first..seg.first,
                    what: format!("{}: bad segment header", seg.path.display()),
                });
            }
        }
        while out.len() < max.0 && out.byte_len() < max.1 {
            match segment::parse(&self.data, self.pos) {
                Parsed::Frame { seq, payload, end } if seq >= self.expect && seq < seg.end => {
                    self.lost_before(seg, seq, ends, damaged);
                    self.expect = seq + 1;
                    self.pos = end;
                    if seq >= *handed {
                        out.push(&self.data[payload]);
                        ends.push(seq + 1);
                        *handed = seq + 1;
                    }
                }
                Parsed::Incomplete if (self.data.len() as u64) < seg.bytes => {
                    return Read::NeedLoad;
                }
                _ if self.pos >= self.data.len() => {
                    // Everything written is read (for the last segment, so far: its `end` is
                    // one past the last record written): whatever number was not seen is lost.
                    self.lost_before(seg, seg.end, ends, damaged);
                    self.expect = self.expect.max(seg.end);
                    *handed = (*handed).max(seg.end);
                    return Read::SegmentDone;
                }
                _ => {
                    // Damage: resume at the next whole record numbered as expected.
                    let from = self.pos;
                    let next = segment::resync(&self.data, from + 1, self.expect..seg.end);
                    let to = next.unwrap_or(self.data.len());
                    let (start, _) = self.bad.unwrap_or((from, to));
                    self.bad = Some((start, to));
                    self.pos = to;
                }
            }
        }
        Read::Full
    }

    /// Reports the damage seen before the record numbered `seq` (bytes skipped, records
    /// whose numbers were not seen).
    fn lost_before(
        &mut self,
        seg: &SegmentInfo,
        seq: u64,
        ends: &mut [u64],
        damaged: &mut impl FnMut(Damage),
    ) {
        let bad = self.bad.take();
        if seq <= self.expect && bad.is_none() {
            return;
        }
        let lost = self.expect..seq.max(self.expect);
        let bytes = match bad {
            Some((a, b)) => {
                format!("bytes {a}..{b} unreadable (bad length or checksum, or cut short)")
            }
            None => format!("cut short at byte {}", self.data.len()),
        };
        let what = if lost.is_empty() {
            format!("{}: {bytes}; no record lost", seg.path.display())
        } else {
            format!(
                "{}: {bytes}; records {}..{} lost",
                seg.path.display(),
                lost.start,
                lost.end
            )
        };
        // Lost records need no delivery: confirming the record before them confirms them.
        if let Some(e) = ends.last_mut() {
            *e = (*e).max(lost.end);
        }
        damaged(Damage {
            at: (seg.first, bad.map_or(self.pos, |b| b.0)),
            lost,
            what,
        });
    }
}
