//! The segment file format of the disk buffer.
//!
//! A segment is named after the sequence number of its first record (`00000000000000001234.seg`)
//! and holds records with consecutive numbers: an 8-byte header (`SFBUF01\n`), then one frame per
//! record:
//!
//! ```text
//! len: u32 LE | crc: u32 LE | seq: u64 LE | payload (len bytes)
//! ```
//!
//! `crc` is the CRC-32 (IEEE) of `len`, `seq` and the payload, so a flipped bit anywhere in a
//! frame, its length included, is caught. After a damaged frame, reading resumes at the next
//! offset where a whole frame checks out and carries a number in the expected range
//! ([`resync`]); the numbers skipped are exactly the records lost.

use std::ops::Range;

/// The first bytes of every segment file.
pub const MAGIC: &[u8; 8] = b"SFBUF01\n";
/// Bytes before a frame's payload.
pub const FRAME_HEADER: usize = 16;
/// Largest record the disk buffer takes (a larger length field is damage).
pub const MAX_RECORD: usize = 16 << 20;

/// File name of the segment whose first record is `first`.
pub fn file_name(first: u64) -> String {
    format!("{first:020}.seg")
}

/// The first record's number from a segment's file name.
pub fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Appends the frame of record `seq` to `out`.
pub fn encode(seq: u64, rec: &[u8], out: &mut Vec<u8>) {
    let len = (rec.len() as u32).to_le_bytes();
    let seqb = seq.to_le_bytes();
    out.extend_from_slice(&len);
    out.extend_from_slice(&crc(&len, &seqb, rec).to_le_bytes());
    out.extend_from_slice(&seqb);
    out.extend_from_slice(rec);
}

fn crc(len: &[u8], seq: &[u8], payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(len);
    h.update(seq);
    h.update(payload);
    h.finalize()
}

/// What is at an offset of a segment's bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A whole frame that checks out.
    Frame {
        seq: u64,
        payload: Range<usize>,
        end: usize,
    },
    /// The bytes end inside the frame (more may be written, or the file was cut).
    Incomplete,
    /// A length out of range or a checksum that does not match.
    Bad,
}

/// Reads the frame at `at`.
pub fn parse(data: &[u8], at: usize) -> Parsed {
    let Some(h) = data.get(at..at + FRAME_HEADER) else {
        return Parsed::Incomplete;
    };
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
    if len > MAX_RECORD {
        return Parsed::Bad;
    }
    let start = at + FRAME_HEADER;
    let Some(payload) = data.get(start..start + len) else {
        return Parsed::Incomplete;
    };
    let want = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    if crc(&h[0..4], &h[8..16], payload) != want {
        return Parsed::Bad;
    }
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&h[8..16]);
    Parsed::Frame {
        seq: u64::from_le_bytes(seq),
        payload: start..start + len,
        end: start + len,
    }
}

/// The first offset after `from` where a whole valid frame numbered within `window` starts.
pub fn resync(data: &[u8], from: usize, window: Range<u64>) -> Option<usize> {
    (from..data.len().saturating_sub(FRAME_HEADER - 1))
        .find(|&at| matches!(parse(data, at), Parsed::Frame { seq, .. } if window.contains(&seq)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(first: u64, recs: &[&[u8]]) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        for (i, r) in recs.iter().enumerate() {
            encode(first + i as u64, r, &mut v);
        }
        v
    }

    #[test]
    fn names_round_trip_and_others_are_refused() {
        assert_eq!(file_name(1234), "00000000000000001234.seg");
        assert_eq!(parse_name(&file_name(u64::MAX)), Some(u64::MAX));
        for bad in [
            "1234.seg",
            "0000000000000000123x.seg",
            "ledger",
            "00000000000000001234.tmp",
        ] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_single_byte_flip_is_caught_and_resync_finds_the_next_record() {
        let recs: [&[u8]; 3] = [b"<25>1 first record\n", b"second\n", b"third one\n"];
        let seg = segment(7, &recs);
        let f1 = 8;
        let f2 = f1 + FRAME_HEADER + recs[0].len();
        let f3 = f2 + FRAME_HEADER + recs[1].len();
        assert!(matches!(parse(&seg, f1), Parsed::Frame { seq: 7, .. }));
        for i in f2..f3 {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut d = seg.clone();
                d[i] ^= mask;
                // The damaged frame never reads as the original record.
                match parse(&d, f2) {
                    Parsed::Frame { seq, payload, .. } => {
                        panic!("flip at {i} read as record {seq}: {:?}", &d[payload])
                    }
                    Parsed::Bad | Parsed::Incomplete => {}
                }
                assert_eq!(resync(&d, f2 + 1, 8..100), Some(f3), "flip at {i}");
            }
        }
    }

    #[test]
    fn a_cut_frame_is_incomplete_and_nothing_follows() {
        let seg = segment(0, &[b"aaaa", b"bbbb"]);
        let cut = &seg[..seg.len() - 2];
        let f2 = 8 + FRAME_HEADER + 4;
        assert_eq!(parse(cut, f2), Parsed::Incomplete);
        assert_eq!(resync(cut, f2 + 1, 0..10), None);
        // A number outside the window is not taken for the next record.
        assert_eq!(resync(&seg, 9, 5..10), None);
    }
}
