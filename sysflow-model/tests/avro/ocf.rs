//! Container files: round trips through Writer/Reader, interoperability with apache-avro,
//! every error case with its offset, and a corruption fuzz that must never panic.

use sysflow_model::avro::datum::encode_datum;
use sysflow_model::avro::{Codec, ReadError, Reader, Writer, SYSFLOW_V5_SCHEMA};
use sysflow_model::*;

use crate::common;

fn write(records: &[SysFlow], codec: Codec, flush_every: usize) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), codec).unwrap();
    for (i, r) in records.iter().enumerate() {
        w.write(r).unwrap();
        if flush_every > 0 && (i + 1) % flush_every == 0 {
            w.flush().unwrap();
        }
    }
    w.finish().unwrap()
}

/// (records read, first error).
fn read_all(bytes: &[u8]) -> (Vec<SysFlow>, Option<ReadError>) {
    let mut rd = match Reader::new(bytes) {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut out = Vec::new();
    for r in rd.by_ref() {
        match r {
            Ok(r) => out.push(r),
            Err(e) => {
                // After an error the iterator ends.
                assert!(rd.next().is_none());
                return (out, Some(e));
            }
        }
    }
    (out, None)
}

fn many(n: usize) -> Vec<SysFlow> {
    let s = common::samples();
    (0..n)
        .map(|i| {
            let mut r = s[i % s.len()].clone();
            if let SysFlow::FileFlow(f) = &mut r {
                f.ts = i as i64;
            }
            r
        })
        .collect()
}

#[test]
fn round_trip_every_record_type_all_codecs() {
    let recs = many(30_000); // several ~80 kB blocks
    for codec in [Codec::Null, Codec::Deflate, Codec::Snappy] {
        let bytes = write(&recs, codec, 0);
        let rd = Reader::new(&bytes[..]).unwrap();
        assert_eq!(rd.writer_schema(), SYSFLOW_V5_SCHEMA);
        assert_eq!(rd.codec(), codec);
        let (back, err) = read_all(&bytes);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(back, recs, "{codec:?}");
    }
}

#[test]
fn blocks_are_about_80kb_and_offset_advances() {
    let recs = many(30_000);
    let bytes = write(&recs, Codec::Null, 0);
    let mut rd = Reader::new(&bytes[..]).unwrap();
    let header_len = rd.offset();
    assert!(header_len > 4 && header_len < bytes.len() as u64);
    let mut offsets = vec![];
    while let Some(r) = rd.next() {
        r.unwrap();
        if offsets.last() != Some(&rd.offset()) {
            offsets.push(rd.offset());
        }
    }
    assert_eq!(*offsets.last().unwrap(), bytes.len() as u64);
    let mut prev = header_len;
    for (i, o) in offsets.iter().enumerate() {
        let block = o - prev;
        if i + 1 < offsets.len() {
            assert!(
                (80_000..90_000).contains(&block),
                "block {i}: {block} bytes"
            );
        }
        prev = *o;
    }
}

#[test]
fn apache_avro_reads_our_files() {
    let recs = many(5_000);
    for codec in [Codec::Null, Codec::Deflate, Codec::Snappy] {
        let bytes = write(&recs, codec, 1000);
        let rd = apache_avro::Reader::new(&bytes[..]).unwrap();
        let n = rd.filter(|v| v.is_ok()).count();
        assert_eq!(n, recs.len(), "{codec:?}");
    }
}

#[test]
fn empty_file() {
    let (recs, err) = read_all(&[]);
    assert!(recs.is_empty());
    assert!(
        matches!(err, Some(ReadError::Truncated { offset: 0, .. })),
        "{err:?}"
    );
}

#[test]
fn wrong_magic() {
    let mut bytes = write(&many(3), Codec::Null, 0);
    bytes[3] = 2;
    let (_, err) = read_all(&bytes);
    assert!(
        matches!(&err, Some(ReadError::BadMagic { offset: 0, found }) if found == b"Obj\x02"),
        "{err:?}"
    );
    let (_, err) = read_all(b"PK\x03\x04rest");
    assert!(matches!(err, Some(ReadError::BadMagic { offset: 0, .. })));
    assert!(err.unwrap().to_string().contains("byte 0"));
}

#[test]
fn truncated_in_header() {
    let bytes = write(&many(3), Codec::Deflate, 0);
    let header_len = Reader::new(&bytes[..]).unwrap().offset() as usize;
    for cut in [
        2,
        4,
        5,
        20,
        40,
        header_len / 2,
        header_len - 16,
        header_len - 1,
    ] {
        let (recs, err) = read_all(&bytes[..cut]);
        assert!(recs.is_empty());
        match err {
            Some(ReadError::Truncated { offset, .. }) => {
                assert!(offset <= cut as u64, "cut {cut}: {offset}")
            }
            other => panic!("cut {cut}: {other:?}"),
        }
    }
}

/// Byte ranges [start, end) of each block (count/size varints, data, sync).
fn block_spans(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut rd = Reader::new(bytes).unwrap();
    let mut spans = vec![];
    let mut start = rd.offset() as usize;
    while let Some(r) = rd.next() {
        r.unwrap();
        let end = rd.offset() as usize;
        if end != start {
            spans.push((start, end));
            start = end;
        }
    }
    spans
}

#[test]
fn truncated_in_a_block_yields_earlier_records() {
    let recs = many(60);
    for codec in [Codec::Null, Codec::Deflate] {
        let bytes = write(&recs, codec, 20);
        let spans = block_spans(&bytes);
        assert_eq!(spans.len(), 3);
        let (s, e) = spans[1];
        for cut in [s + 1, s + 4, (s + e) / 2, e - 17, e - 1] {
            let (got, err) = read_all(&bytes[..cut]);
            // Cut in the data: the block's complete records are yielded, never all of them
            // (deflate: the lost tail may hold only the end-of-stream code, so all may be).
            // Cut in the sync marker: the whole block was read and is yielded.
            let max = if cut >= e - 16 || codec == Codec::Deflate {
                40
            } else {
                39
            };
            assert!(
                got.len() >= 20 && got.len() <= max,
                "{codec:?} cut {cut}: {} records",
                got.len()
            );
            assert_eq!(got[..], recs[..got.len()]);
            match err {
                Some(ReadError::Truncated { offset, .. }) => assert_eq!(offset, cut as u64),
                other => panic!("{codec:?} cut {cut}: {other:?}"),
            }
        }
    }
}

#[test]
fn bad_sync_marker() {
    let recs = many(60);
    let mut bytes = write(&recs, Codec::Deflate, 20);
    let (_, e) = block_spans(&bytes)[0];
    bytes[e - 3] ^= 0x55;
    let (got, err) = read_all(&bytes);
    assert_eq!(got, recs[..20]);
    assert!(
        matches!(err, Some(ReadError::BadSync { offset }) if offset == (e - 16) as u64),
        "{err:?}"
    );
}

#[test]
fn corrupt_deflate_data() {
    let recs = many(60);
    let mut bytes = write(&recs, Codec::Deflate, 20);
    let (s, _) = block_spans(&bytes)[1];
    // Block = count varint (1 byte: 20 → 0x28), size varint (2 bytes), then deflate data.
    assert_eq!(bytes[s], 0x28);
    let data = s + 1 + if bytes[s + 1] & 0x80 != 0 { 2 } else { 1 };
    bytes[data] = 0xff; // BTYPE 11: reserved, invalid
    let (got, err) = read_all(&bytes);
    assert_eq!(got, recs[..20]);
    match err {
        Some(ReadError::Corrupt { offset, codec, .. }) => {
            assert_eq!(offset, s as u64);
            assert_eq!(codec, "deflate");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn snappy_crc_mismatch_is_corrupt() {
    let recs = many(40);
    let mut bytes = write(&recs, Codec::Snappy, 20);
    let (s, e) = block_spans(&bytes)[1];
    bytes[e - 17] ^= 1; // last CRC byte
    let (got, err) = read_all(&bytes);
    assert_eq!(got, recs[..20]);
    assert!(
        matches!(&err, Some(ReadError::Corrupt { offset, codec: "snappy", detail }) if *offset == s as u64 && detail.contains("CRC")),
        "{err:?}"
    );
}

fn put_long(out: &mut Vec<u8>, v: i64) {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A null-codec container with the given schema; each block's raw datum bytes and count.
fn hand_made(schema: &str, blocks: &[(i64, Vec<u8>)]) -> Vec<u8> {
    let mut b = b"Obj\x01".to_vec();
    put_long(&mut b, 1);
    put_long(&mut b, 11);
    b.extend_from_slice(b"avro.schema");
    put_long(&mut b, schema.len() as i64);
    b.extend_from_slice(schema.as_bytes());
    put_long(&mut b, 0);
    let sync = [7u8; 16];
    b.extend_from_slice(&sync);
    for (count, data) in blocks {
        put_long(&mut b, *count);
        put_long(&mut b, data.len() as i64);
        b.extend_from_slice(data);
        b.extend_from_slice(&sync);
    }
    b
}

fn datums(recs: &[SysFlow]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in recs {
        encode_datum(r, &mut out);
    }
    out
}

#[test]
fn unknown_record_name_in_writer_union() {
    let s = common::samples();
    let schema = SYSFLOW_V5_SCHEMA.replace("\"name\":\"NetworkEvent\"", "\"name\":\"Mystery\"");
    assert_ne!(schema, SYSFLOW_V5_SCHEMA);
    let first = datums(&s[..4]);
    let second = datums(&s[4..9]); // PE NF FF FE, then NE = the renamed record
    let bytes = hand_made(&schema, &[(4, first), (5, second)]);
    let (got, err) = read_all(&bytes);
    assert_eq!(got, s[..8]);
    match err {
        Some(ReadError::UnknownRecord {
            offset,
            index,
            name,
        }) => {
            assert_eq!(name, "sysflow.event.Mystery");
            assert_eq!(index, 4);
            assert!(offset > 0 && (offset as usize) < bytes.len());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn datum_overruns_block_and_oversized_blocks() {
    let s = common::samples();
    let data = datums(&s[..3]);
    // Declares 4 records but holds 3.
    let bytes = hand_made(SYSFLOW_V5_SCHEMA, &[(4, data.clone())]);
    let (got, err) = read_all(&bytes);
    assert_eq!(got, s[..3]);
    assert!(
        matches!(
            &err,
            Some(ReadError::Datum {
                index: 3,
                source: sysflow_model::avro::DatumError::Eof { .. },
                ..
            })
        ),
        "{err:?}"
    );
    // Declared size over the cap: rejected before reading or allocating.
    let mut bytes = hand_made(SYSFLOW_V5_SCHEMA, &[]);
    let at = bytes.len();
    put_long(&mut bytes, 1);
    put_long(&mut bytes, 1 << 40);
    let (_, err) = read_all(&bytes);
    assert!(
        matches!(err, Some(ReadError::BadBlock { offset, .. }) if offset == at as u64),
        "{err:?}"
    );
    // More records than bytes.
    let bytes = hand_made(SYSFLOW_V5_SCHEMA, &[(1000, data)]);
    let (_, err) = read_all(&bytes);
    assert!(matches!(err, Some(ReadError::BadBlock { .. })), "{err:?}");
}

#[test]
fn unsupported_codec_and_invalid_schema() {
    let mut b = b"Obj\x01".to_vec();
    put_long(&mut b, 2);
    for (k, v) in [
        ("avro.schema", SYSFLOW_V5_SCHEMA),
        ("avro.codec", "zstandard"),
    ] {
        put_long(&mut b, k.len() as i64);
        b.extend_from_slice(k.as_bytes());
        put_long(&mut b, v.len() as i64);
        b.extend_from_slice(v.as_bytes());
    }
    put_long(&mut b, 0);
    b.extend_from_slice(&[0; 16]);
    let err = Reader::new(&b[..]).unwrap_err();
    assert!(
        matches!(&err, ReadError::UnsupportedCodec { codec, offset } if codec == "zstandard" && *offset > 4),
        "{err:?}"
    );

    let bytes = hand_made("{\"type\":\"record\",\"name\":\"x\",\"fields\":[]}", &[]);
    let err = Reader::new(&bytes[..]).unwrap_err();
    assert!(matches!(err, ReadError::InvalidSchema { .. }), "{err:?}");
    let bytes = hand_made("{not json", &[]);
    assert!(matches!(
        Reader::new(&bytes[..]),
        Err(ReadError::InvalidSchema { .. })
    ));
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn corrupted_and_truncated_files_never_panic() {
    let recs = many(48);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut errors = 0;
    for codec in [Codec::Deflate, Codec::Null, Codec::Snappy] {
        let clean = write(&recs, codec, 16);
        let boundaries: Vec<usize> = {
            let spans = block_spans(&clean);
            std::iter::once(spans[0].0)
                .chain(spans.iter().map(|s| s.1))
                .collect()
        };
        for _ in 0..1000 {
            let mut b = clean.clone();
            let kind = rng.below(4);
            match kind {
                0 => b.truncate(rng.below(clean.len())),
                1 => {
                    for _ in 0..1 + rng.below(4) {
                        let i = rng.below(b.len());
                        b[i] ^= 1 << rng.below(8);
                    }
                }
                2 => {
                    let i = rng.below(b.len());
                    let n = (1 + rng.below(12)).min(b.len() - i);
                    for x in &mut b[i..i + n] {
                        *x = rng.next() as u8;
                    }
                }
                _ => {
                    let i = rng.below(b.len());
                    let n = rng.below(8).min(b.len() - i);
                    b.drain(i..i + n);
                }
            }
            let (got, err) = read_all(&b);
            match err {
                Some(e) => {
                    errors += 1;
                    assert!(e.offset() <= b.len() as u64, "{e} (len {})", b.len());
                    assert!(e.to_string().contains("byte"), "{e}");
                }
                None if kind == 0 => {
                    assert!(
                        boundaries.contains(&b.len()),
                        "truncation at {} read cleanly",
                        b.len()
                    );
                    assert_eq!(got[..], recs[..got.len()]);
                }
                None => {}
            }
            assert!(got.len() <= recs.len() + 16);
        }
    }
    assert!(errors > 2000, "only {errors} errors of 3000");
}

#[test]
fn corrupted_and_truncated_datums_never_panic() {
    use sysflow_model::avro::datum::decode_datum;
    use sysflow_model::avro::DatumError;
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for r in common::samples() {
        let mut clean = Vec::new();
        encode_datum(&r, &mut clean);
        for cut in 0..clean.len() {
            // Never a half-decoded record: every strict prefix fails.
            let e = decode_datum(&clean[..cut]).unwrap_err();
            assert!(e.pos() <= cut, "{e}");
        }
        for _ in 0..300 {
            let mut b = clean.clone();
            for _ in 0..1 + rng.below(3) {
                let i = rng.below(b.len());
                b[i] = rng.next() as u8;
            }
            if let Err(e) = decode_datum(&b) {
                assert!(e.pos() <= b.len(), "{e}");
                assert!(
                    !matches!(e, DatumError::UnknownRecord { .. }),
                    "v5 knows every branch"
                );
            }
        }
    }
}
