//! Corrupted and truncated traces, in-process against the library `Reader`: every
//! single-byte flip and every truncation point in the header and the first block, random
//! ones beyond. Each case either reads cleanly with every record, or fails with an error
//! naming the offset — never a panic, a hang (timed) or more heap than the input can explain
//! (a per-thread allocation meter). The same through the real `sensor print`, sampled, is
//! `corruption_print.rs`.

use std::time::{Duration, Instant};

use sysflow_model::avro::{Codec, Reader, MAX_BLOCK_BYTES};
use testkit::reliability::*;
use testkit::traces;

#[global_allocator]
static METER: Meter = Meter;

const CODECS: [Codec; 3] = [Codec::Null, Codec::Deflate, Codec::Snappy];
/// XOR masks of the flips: lowest bit, highest bit (varint continuation), every bit.
const MASKS: [u8; 3] = [0x01, 0x80, 0xff];

/// A trace whose first block is small (entities + 3 events), then blocks of 8 records.
fn trace(codec: Codec, events: i64) -> (Vec<u8>, Vec<usize>) {
    let recs = traces::records(events);
    let mut w_recs = Vec::new();
    // Block boundaries: after 10 records, then every 8.
    let mut bounds = Vec::new();
    let mut w = sysflow_model::avro::Writer::new(Vec::new(), codec).expect("writer");
    for (i, r) in recs.iter().enumerate() {
        w.write(r).expect("write");
        w_recs.push(i);
        if i + 1 == 10 || (i + 1 > 10 && (i + 1 - 10) % 8 == 0) {
            w.flush().expect("flush");
            bounds.push(i + 1);
        }
    }
    let bytes = w.finish().expect("finish");
    if bounds.last() != Some(&recs.len()) {
        bounds.push(recs.len());
    }
    (bytes, bounds)
}

/// Byte offsets just past each sync marker: the header end, then each block end.
fn sync_ends(b: &[u8]) -> Vec<usize> {
    let sync = &b[b.len() - 16..];
    (0..=b.len() - 16)
        .filter(|&i| &b[i..i + 16] == sync)
        .map(|i| i + 16)
        .collect()
}

/// Byte range of the writer schema text inside the header.
fn schema_span(b: &[u8]) -> std::ops::Range<usize> {
    let r = Reader::new(b).expect("pristine header");
    let s = r.writer_schema().as_bytes();
    let start = b
        .windows(s.len())
        .position(|w| w == s)
        .expect("schema text in the header");
    start..start + s.len()
}

#[derive(Debug)]
enum Outcome {
    /// Records read, no error.
    Clean(usize),
    /// Records read before the error, the error's offset and text.
    Fault(usize, u64, String),
}

fn read_all(bytes: &[u8]) -> Outcome {
    let mut r = match Reader::new(bytes) {
        Ok(r) => r,
        Err(e) => return Outcome::Fault(0, e.offset(), e.to_string()),
    };
    let mut n = 0;
    for rec in &mut r {
        match rec {
            Ok(_) => n += 1,
            Err(e) => return Outcome::Fault(n, e.offset(), e.to_string()),
        }
    }
    Outcome::Clean(n)
}

/// Heap a read of `len` input bytes may use at its peak: the schema program and buffers,
/// plus what the codec can legitimately expand the input to — far below the 64 MiB a
/// block declaration could claim.
fn heap_bound(codec: Codec, len: usize) -> usize {
    let expand = match codec {
        Codec::Null => 4,
        Codec::Snappy => 40,
        // Deflate's densest encoding expands ~1032x.
        Codec::Deflate => 1100,
    };
    (2 << 20) + expand * len
}

/// Reads `bytes` with the time and heap measured; checks the invariants every case shares.
fn check(bytes: &[u8], codec: Codec, what: &str) -> Outcome {
    let t = Instant::now();
    let (out, peak) = Meter::peak(|| read_all(bytes));
    let dt = t.elapsed();
    assert!(dt < Duration::from_secs(5), "{what}: took {dt:?}");
    let bound = heap_bound(codec, bytes.len());
    assert!(
        peak <= bound,
        "{what}: peak heap {peak} bytes over the bound {bound} for {} input bytes",
        bytes.len()
    );
    assert!((bound as u64) < MAX_BLOCK_BYTES, "bound must be meaningful");
    if let Outcome::Fault(_, off, msg) = &out {
        assert!(
            *off <= bytes.len() as u64,
            "{what}: error offset {off} past the input ({}): {msg}",
            bytes.len()
        );
        assert!(
            msg.contains("byte"),
            "{what}: error without an offset: {msg}"
        );
    }
    out
}

#[test]
fn every_flip_in_header_and_first_block() {
    let _cpus = testkit::isolate::shared();
    for codec in CODECS {
        let (b, _) = trace(codec, 30);
        let total = match read_all(&b) {
            Outcome::Clean(n) => n,
            o => panic!("{codec:?}: pristine trace fails: {o:?}"),
        };
        let ends = sync_ends(&b);
        let region = ends[1];
        // The schema JSON is most of the header; one flip pattern per byte there, all three
        // in the framing (magic, metadata lengths, sync markers) and the block.
        let schema = schema_span(&b);
        let mut faults = 0;
        for i in 0..region {
            let masks: &[u8] = if schema.contains(&i) {
                &MASKS[2..]
            } else {
                &MASKS
            };
            for &m in masks {
                let mut c = b.clone();
                c[i] ^= m;
                let what = format!("{codec:?} flip {m:#04x} at byte {i}");
                match check(&c, codec, &what) {
                    // Flips inside strings (or unused schema text) leave a valid file: then
                    // every record must still be there.
                    Outcome::Clean(n) => assert_eq!(n, total, "{what}: records lost silently"),
                    Outcome::Fault(..) => faults += 1,
                }
            }
        }
        // Sanity: the sweep did corrupt most headers and blocks.
        assert!(faults > region / 2, "{codec:?}: only {faults} faults");
    }
}

#[test]
fn every_truncation_in_header_and_first_block() {
    let _cpus = testkit::isolate::shared();
    for codec in CODECS {
        let (b, bounds) = trace(codec, 30);
        let ends = sync_ends(&b);
        for cut in 0..=ends[1] {
            let what = format!("{codec:?} cut at {cut}");
            match check(&b[..cut], codec, &what) {
                Outcome::Clean(n) => {
                    // Only a cut right after a sync marker leaves a valid (shorter) file.
                    let k = ends
                        .iter()
                        .position(|&e| e == cut)
                        .unwrap_or_else(|| panic!("{what}: a cut file reads cleanly"));
                    let want = if k == 0 { 0 } else { bounds[k - 1] };
                    assert_eq!(n, want, "{what}: records");
                }
                Outcome::Fault(_, off, msg) => {
                    assert!(off <= cut as u64, "{what}: offset {off}: {msg}");
                    assert!(
                        !ends.contains(&cut) || cut == 0,
                        "{what}: valid prefix rejected: {msg}"
                    );
                }
            }
        }
    }
}

#[test]
fn random_flips_and_cuts_beyond_the_first_block() {
    let _cpus = testkit::isolate::shared();
    let mut rng = Rng(0x5eed_2024_0007);
    for codec in CODECS {
        let (b, bounds) = trace(codec, 400);
        let ends = sync_ends(&b);
        let total = *bounds.last().expect("blocks");
        let start = ends[1];
        for k in 0..1500 {
            let mut c = b.clone();
            // One to three flips anywhere after the first block.
            for _ in 0..1 + k % 3 {
                let i = start + rng.below(b.len() - start);
                c[i] ^= 1 + rng.below(255) as u8;
            }
            let what = format!("{codec:?} random flips #{k}");
            if let Outcome::Clean(n) = check(&c, codec, &what) {
                assert_eq!(n, total, "{what}: records lost silently");
            }
        }
        for _ in 0..300 {
            let cut = start + rng.below(b.len() - start);
            let what = format!("{codec:?} cut at {cut}");
            if let Outcome::Clean(n) = check(&b[..cut], codec, &what) {
                let k = ends
                    .iter()
                    .position(|&e| e == cut)
                    .unwrap_or_else(|| panic!("{what}: a cut file reads cleanly"));
                assert_eq!(n, bounds[k - 1], "{what}");
            }
        }
    }
}

/// Declared sizes far beyond the input are refused before anything is allocated for them.
#[test]
fn huge_declarations_allocate_nothing() {
    let _cpus = testkit::isolate::shared();
    for codec in CODECS {
        let (b, _) = trace(codec, 30);
        let ends = sync_ends(&b);
        let hdr = ends[0];
        // A block claiming 1 record of 60 MiB (under the cap): only the bytes present are read.
        let mut c = b[..hdr].to_vec();
        c.extend_from_slice(&[0x02]); // count 1
        let mut size = Vec::new();
        zigzag(60 << 20, &mut size);
        c.extend_from_slice(&size);
        c.extend_from_slice(&[0u8; 100]);
        match check(&c, codec, &format!("{codec:?} 60 MiB block")) {
            // Null codec: the zero bytes present decode as one empty header first.
            Outcome::Fault(_, off, msg) => {
                assert!(msg.contains("truncated"), "{msg}");
                assert_eq!(off, c.len() as u64, "{msg}");
            }
            o => panic!("{o:?}"),
        }
        // Over the cap: refused outright.
        let mut c = b[..hdr].to_vec();
        c.extend_from_slice(&[0x02]);
        let mut size = Vec::new();
        zigzag(1 << 40, &mut size);
        c.extend_from_slice(&size);
        match check(&c, codec, &format!("{codec:?} 1 TiB block")) {
            Outcome::Fault(0, off, msg) => {
                assert_eq!(off, hdr as u64);
                assert!(msg.contains("bad block header"), "{msg}");
            }
            o => panic!("{o:?}"),
        }
    }
}

/// Regression (found writing this sweep, bug 1 in docs/reliability.md): a block whose record count is smaller
/// than its data used to end the block early and drop the remaining records silently.
#[test]
fn block_count_below_its_data_is_an_error() {
    let _cpus = testkit::isolate::shared();
    for codec in CODECS {
        let (b, _) = trace(codec, 30);
        let ends = sync_ends(&b);
        let hdr = ends[0];
        // The first block declares 10 records (zig-zag 20); claim 9.
        assert_eq!(b[hdr], 20, "{codec:?}: first block count");
        let mut c = b.clone();
        c[hdr] = 18;
        match check(&c, codec, &format!("{codec:?} count 9 of 10")) {
            Outcome::Fault(9, off, msg) => {
                assert_eq!(off, hdr as u64, "{msg}");
                assert!(msg.contains("trailing bytes"), "{msg}");
            }
            o => panic!("{codec:?}: {o:?}"),
        }
    }
}

/// Regression (found writing the heap bound, bug 2 in docs/reliability.md): snappy's own length prefix declared up to 64 MiB for a
/// few input bytes, and the output buffer was sized (and zeroed) from it before decoding.
#[test]
fn snappy_length_prefix_is_checked_against_the_input() {
    let _cpus = testkit::isolate::shared();
    let (b, _) = trace(Codec::Snappy, 0);
    let hdr = sync_ends(&b)[0];
    let sync = b[b.len() - 16..].to_vec();
    let mut data = Vec::new();
    // Snappy stream: varint uncompressed length 60 MiB, then one 1-byte literal.
    let mut n = 60u64 << 20;
    while n >= 0x80 {
        data.push((n as u8) | 0x80);
        n >>= 7;
    }
    data.push(n as u8);
    data.extend_from_slice(&[0x00, b'x']);
    data.extend_from_slice(&[0, 0, 0, 0]); // CRC (never reached)
    let mut c = b[..hdr].to_vec();
    c.push(0x02);
    zigzag(data.len() as i64, &mut c);
    c.extend_from_slice(&data);
    c.extend_from_slice(&sync);
    match check(&c, Codec::Snappy, "snappy 60 MiB length prefix") {
        Outcome::Fault(0, off, msg) => {
            assert_eq!(off, hdr as u64, "{msg}");
            assert!(msg.contains("corrupt snappy"), "{msg}");
        }
        o => panic!("{o:?}"),
    }
}

fn zigzag(v: i64, out: &mut Vec<u8>) {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}
