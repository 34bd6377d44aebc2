//! Avro object container files: [`Reader`] (any SysFlow writer schema, null/deflate/snappy) and
//! [`Writer`] (v5 schema, null/deflate/snappy, blocks of ~80 kB like the collector).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, BufReader, Read, Write};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::cursor::{put_long, Cur};
use super::decode::Program;
use super::encode::encode_datum;
use super::error::{DatumError, ReadError, WriteError};
use super::schema::SYSFLOW_V5_SCHEMA;
use crate::record::SysFlow;

const MAGIC: &[u8; 4] = b"Obj\x01";
/// Largest block (compressed or decompressed) accepted; checked before allocating.
pub const MAX_BLOCK_BYTES: u64 = 64 << 20;
/// Largest header metadata value (the schema) accepted.
const MAX_META_BYTES: u64 = 16 << 20;
const MAX_META_ENTRIES: u64 = 1024;
/// The collector's sync interval (`COMPRESS_BLOCK_SIZE`).
const BLOCK_TARGET: usize = 80_000;

/// Block compression of a container file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Null,
    /// Raw deflate (RFC 1951), as every SysFlow collector writes.
    Deflate,
    /// Snappy raw format followed by the big-endian CRC-32 of the uncompressed block.
    Snappy,
}

impl Codec {
    fn name(self) -> &'static str {
        match self {
            Codec::Null => "null",
            Codec::Deflate => "deflate",
            Codec::Snappy => "snappy",
        }
    }
}

/// Reads SysFlow records from an Avro object container file.
///
/// Each file is decoded with the writer schema embedded in it (any SysFlow version, legacy
/// layouts included). Iteration yields every record up to the first fault, then the error,
/// then `None`.
pub struct Reader<R: Read> {
    input: BufReader<R>,
    /// Bytes consumed from the input.
    pos: u64,
    schema: String,
    codec: Codec,
    sync: [u8; 16],
    program: Program,
    raw: Vec<u8>,
    block: Vec<u8>,
    inflater: Decompress,
    /// Offset of the current block in the input.
    block_off: u64,
    block_pos: usize,
    /// Records of the current block not yet decoded.
    left: u64,
    index: u64,
    /// Fault found while reading the current block (truncation, bad sync, corrupt data):
    /// returned once the records decodable before it have been yielded.
    pending: Option<ReadError>,
    done: bool,
}

impl<R: Read> std::fmt::Debug for Reader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("pos", &self.pos)
            .field("codec", &self.codec)
            .field("block_off", &self.block_off)
            .finish_non_exhaustive()
    }
}

/// Read `n` bytes; a short read is reported as truncation with `expected`.
fn io_err(offset: u64, e: io::Error) -> ReadError {
    ReadError::Io { offset, source: e }
}

impl<R: Read> Reader<R> {
    /// Read the container header (magic, metadata, sync marker) and compile the writer schema.
    pub fn new(r: R) -> Result<Self, ReadError> {
        let mut rd = Reader {
            input: BufReader::with_capacity(64 << 10, r),
            pos: 0,
            schema: String::new(),
            codec: Codec::Null,
            sync: [0; 16],
            // Replaced by the compiled writer schema once the header is read.
            program: Program::empty(),
            raw: Vec::new(),
            block: Vec::new(),
            inflater: Decompress::new(false),
            block_off: 0,
            block_pos: 0,
            left: 0,
            index: 0,
            pending: None,
            done: false,
        };
        let mut magic = [0u8; 4];
        let n = rd.read_upto(&mut magic)?;
        if n < 4 {
            if magic[..n] != MAGIC[..n] {
                return Err(ReadError::BadMagic {
                    offset: 0,
                    found: magic[..n].to_vec(),
                });
            }
            return Err(ReadError::Truncated {
                offset: n as u64,
                expected: "the 4-byte magic \"Obj\\x01\"".into(),
            });
        }
        if &magic != MAGIC {
            return Err(ReadError::BadMagic {
                offset: 0,
                found: magic.to_vec(),
            });
        }
        let (schema, schema_off, codec, codec_off) = rd.read_meta()?;
        rd.codec = match codec.as_deref() {
            None | Some(b"null") => Codec::Null,
            Some(b"deflate") => Codec::Deflate,
            Some(b"snappy") => Codec::Snappy,
            Some(other) => {
                return Err(ReadError::UnsupportedCodec {
                    offset: codec_off,
                    codec: String::from_utf8_lossy(other).into_owned(),
                })
            }
        };
        let Some(schema) = schema else {
            return Err(ReadError::BadHeader {
                offset: 4,
                detail: "metadata has no avro.schema entry".into(),
            });
        };
        rd.schema = String::from_utf8(schema).map_err(|_| ReadError::InvalidSchema {
            offset: schema_off,
            detail: "schema is not UTF-8".into(),
        })?;
        rd.program = Program::compile(&rd.schema).map_err(|detail| ReadError::InvalidSchema {
            offset: schema_off,
            detail,
        })?;
        let mut sync = [0u8; 16];
        rd.read_full(&mut sync, "the 16-byte sync marker after the header")?;
        rd.sync = sync;
        Ok(rd)
    }

    /// The writer schema embedded in the file.
    pub fn writer_schema(&self) -> &str {
        &self.schema
    }

    /// Bytes consumed from the input so far: after `Reader::new`, the header length; while
    /// iterating, the end of the block whose records are being returned.
    pub fn offset(&self) -> u64 {
        self.pos
    }

    /// The block codec named in the header.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Read as many bytes as available up to `buf.len()`; returns the count.
    fn read_upto(&mut self, buf: &mut [u8]) -> Result<usize, ReadError> {
        let mut n = 0;
        while n < buf.len() {
            match self.input.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_err(self.pos + n as u64, e)),
            }
        }
        self.pos += n as u64;
        Ok(n)
    }

    fn read_full(&mut self, buf: &mut [u8], expected: &str) -> Result<(), ReadError> {
        let n = self.read_upto(buf)?;
        if n < buf.len() {
            return Err(ReadError::Truncated {
                offset: self.pos,
                expected: expected.into(),
            });
        }
        Ok(())
    }

    /// A zig-zag varint from the input. `Ok(None)` on end of input before its first byte.
    fn read_varint(&mut self, expected: &str) -> Result<Option<i64>, ReadError> {
        let start = self.pos;
        let mut v: u64 = 0;
        for i in 0..10u32 {
            let mut b = [0u8; 1];
            if self.read_upto(&mut b)? == 0 {
                if i == 0 {
                    return Ok(None);
                }
                return Err(ReadError::Truncated {
                    offset: self.pos,
                    expected: expected.into(),
                });
            }
            v |= u64::from(b[0] & 0x7f) << (7 * i);
            if b[0] & 0x80 == 0 {
                return Ok(Some((v >> 1) as i64 ^ -((v & 1) as i64)));
            }
        }
        Err(ReadError::BadBlock {
            offset: start,
            detail: format!("{expected}: varint longer than 10 bytes"),
        })
    }

    fn need_varint(&mut self, expected: &str) -> Result<i64, ReadError> {
        self.read_varint(expected)?
            .ok_or_else(|| ReadError::Truncated {
                offset: self.pos,
                expected: expected.into(),
            })
    }

    /// Length-prefixed bytes of at most `max`, read without trusting the declared length
    /// for the allocation.
    fn read_bytes(&mut self, max: u64, what: &str) -> Result<Vec<u8>, ReadError> {
        let off = self.pos;
        let n = self.need_varint(what)?;
        if n < 0 || n as u64 > max {
            return Err(ReadError::BadHeader {
                offset: off,
                detail: format!("{what}: length {n} outside 0..={max}"),
            });
        }
        let mut out = Vec::new();
        let got = (&mut self.input)
            .take(n as u64)
            .read_to_end(&mut out)
            .map_err(|e| io_err(self.pos, e))?;
        self.pos += got as u64;
        if (got as u64) < n as u64 {
            return Err(ReadError::Truncated {
                offset: self.pos,
                expected: format!("{} more bytes of {what}", n as u64 - got as u64),
            });
        }
        Ok(out)
    }

    /// Header metadata map → (schema, its offset, codec, its offset).
    #[allow(clippy::type_complexity)]
    fn read_meta(&mut self) -> Result<(Option<Vec<u8>>, u64, Option<Vec<u8>>, u64), ReadError> {
        let (mut schema, mut codec) = (None, None);
        let (mut schema_off, mut codec_off) = (self.pos, self.pos);
        let mut entries = 0u64;
        loop {
            let off = self.pos;
            let mut n = self.need_varint("header metadata map block count")?;
            if n == 0 {
                break;
            }
            if n < 0 {
                n = n.checked_neg().unwrap_or(i64::MAX);
                self.need_varint("header metadata map block size")?;
            }
            entries += n as u64;
            if entries > MAX_META_ENTRIES {
                return Err(ReadError::BadHeader {
                    offset: off,
                    detail: format!("metadata map has more than {MAX_META_ENTRIES} entries"),
                });
            }
            for _ in 0..n {
                let key = self.read_bytes(1024, "metadata key")?;
                let val_off = self.pos;
                let val = self.read_bytes(MAX_META_BYTES, "metadata value")?;
                match key.as_slice() {
                    b"avro.schema" => {
                        schema = Some(val);
                        schema_off = val_off;
                    }
                    b"avro.codec" => {
                        codec = Some(val);
                        codec_off = val_off;
                    }
                    _ => {}
                }
            }
        }
        Ok((schema, schema_off, codec, codec_off))
    }

    /// Read the next block into `self.block`. `Ok(false)` at a clean end of input.
    fn read_block(&mut self) -> Result<bool, ReadError> {
        let start = self.pos;
        let Some(count) = self.read_varint("block record count")? else {
            return Ok(false);
        };
        let size_off = self.pos;
        let size = self.need_varint("block byte size")?;
        if count < 0 || size < 0 || size as u64 > MAX_BLOCK_BYTES {
            return Err(ReadError::BadBlock {
                offset: start,
                detail: format!(
                    "declares {count} records in {size} bytes (limits: counts >= 0, 0..={MAX_BLOCK_BYTES} bytes)"
                ),
            });
        }
        let (count, size) = (count as u64, size as u64);
        if self.codec == Codec::Null && count > size {
            return Err(ReadError::BadBlock {
                offset: start,
                detail: format!("declares {count} records in only {size} bytes"),
            });
        }
        self.raw.clear();
        let got = (&mut self.input)
            .take(size)
            .read_to_end(&mut self.raw)
            .map_err(|e| io_err(self.pos, e))? as u64;
        self.pos += got;
        let mut pending = None;
        if got < size {
            pending = Some(ReadError::Truncated {
                offset: self.pos,
                expected: format!(
                    "{} more bytes of the block declared at byte {size_off}",
                    size - got
                ),
            });
        } else {
            let mut sync = [0u8; 16];
            let sync_off = self.pos;
            let n = self.read_upto(&mut sync)?;
            if n < 16 {
                pending = Some(ReadError::Truncated {
                    offset: self.pos,
                    expected: "the 16-byte sync marker after the block".into(),
                });
            } else if sync != self.sync {
                pending = Some(ReadError::BadSync { offset: sync_off });
            }
        }
        match self.codec {
            Codec::Null => std::mem::swap(&mut self.raw, &mut self.block),
            Codec::Deflate => {
                if let Err(detail) = inflate(&mut self.inflater, &self.raw, &mut self.block) {
                    // The output so far is still decoded; a truncation found earlier is the
                    // more precise explanation.
                    if pending.is_none() {
                        pending = Some(ReadError::Corrupt {
                            offset: start,
                            codec: "deflate",
                            detail,
                        });
                    }
                }
            }
            // A cut snappy block cannot be decoded in part.
            Codec::Snappy if pending.is_some() => self.block.clear(),
            Codec::Snappy => {
                if let Err(detail) = unsnappy(&self.raw, &mut self.block) {
                    return Err(ReadError::Corrupt {
                        offset: start,
                        codec: "snappy",
                        detail,
                    });
                }
            }
        }
        if pending.is_none() && count > self.block.len() as u64 {
            return Err(ReadError::BadBlock {
                offset: start,
                detail: format!(
                    "declares {count} records in only {} decompressed bytes",
                    self.block.len()
                ),
            });
        }
        self.pending = pending;
        self.block_off = start;
        self.block_pos = 0;
        self.left = count;
        self.index = 0;
        Ok(true)
    }
}

/// Largest expansion snappy can encode (64 output bytes per 3-byte copy element, rounded up).
const SNAPPY_MAX_RATIO: u64 = 22;

/// Decompress a snappy block (data ‖ CRC-32 BE of the output) into `out` (reused).
fn unsnappy(input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    if input.len() < 4 {
        return Err("block shorter than its 4-byte CRC".into());
    }
    let (data, crc) = input.split_at(input.len() - 4);
    let n = snap::raw::decompress_len(data).map_err(|e| e.to_string())?;
    if n as u64 > MAX_BLOCK_BYTES {
        return Err(format!("decompresses to {n} bytes, over {MAX_BLOCK_BYTES}"));
    }
    // The length prefix is the writer's word; no snappy element yields more than 64 bytes
    // from 3 (a 2-byte-offset copy), so a larger claim is corrupt — refuse it before the
    // output buffer is sized from it.
    if n as u64 > (data.len() as u64).saturating_mul(SNAPPY_MAX_RATIO) {
        return Err(format!(
            "declares {n} decompressed bytes for {} compressed ones (at most {SNAPPY_MAX_RATIO}x)",
            data.len()
        ));
    }
    out.clear();
    out.resize(n, 0);
    let got = snap::raw::Decoder::new()
        .decompress(data, out)
        .map_err(|e| e.to_string())?;
    out.truncate(got);
    let want = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32fast::hash(out) != want {
        return Err("CRC-32 of the decompressed block does not match".into());
    }
    Ok(())
}

/// Inflate a raw-deflate block into `out` (reused), up to [`MAX_BLOCK_BYTES`]. On error `out`
/// holds what was decompressed before the fault.
fn inflate(d: &mut Decompress, input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    d.reset(false);
    out.clear();
    let cap = MAX_BLOCK_BYTES as usize;
    loop {
        if out.len() == out.capacity() {
            if out.len() >= cap {
                return Err(format!("decompresses to more than {cap} bytes"));
            }
            let grow = (input.len() * 4).max(out.capacity()).max(64 << 10);
            out.reserve(grow.min(cap - out.len()));
        }
        let (in_before, out_before) = (d.total_in(), d.total_out());
        let consumed = usize::try_from(in_before)
            .unwrap_or(usize::MAX)
            .min(input.len());
        let status = d
            .decompress_vec(&input[consumed..], out, FlushDecompress::None)
            .map_err(|e| format!("invalid deflate stream: {e}"))?;
        match status {
            Status::StreamEnd => return Ok(()),
            _ if d.total_in() == in_before && d.total_out() == out_before => {
                // Spare output room and no progress: the input is exhausted.
                return Err("deflate stream ends before its final block".into());
            }
            _ => {}
        }
    }
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Result<SysFlow, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            if self.left > 0 {
                let mut cur = Cur {
                    buf: &self.block,
                    pos: self.block_pos,
                };
                return Some(match self.program.decode(&mut cur) {
                    Ok(rec) => {
                        self.block_pos = cur.pos;
                        self.left -= 1;
                        self.index += 1;
                        Ok(rec)
                    }
                    Err(e) => {
                        self.done = true;
                        // A fault found while reading the block explains a failing datum
                        // better than the datum error itself.
                        Err(match self.pending.take() {
                            Some(p) => p,
                            None => match e {
                                DatumError::UnknownRecord { name, .. } => {
                                    ReadError::UnknownRecord {
                                        offset: self.block_off,
                                        index: self.index,
                                        name,
                                    }
                                }
                                source => ReadError::Datum {
                                    offset: self.block_off,
                                    index: self.index,
                                    source,
                                },
                            },
                        })
                    }
                });
            }
            if let Some(e) = self.pending.take() {
                self.done = true;
                return Some(Err(e));
            }
            if self.block_pos < self.block.len() {
                // Bytes after the declared records: the count is corrupt (or the data is),
                // and records would otherwise vanish without a word.
                self.done = true;
                return Some(Err(ReadError::Datum {
                    offset: self.block_off,
                    index: self.index,
                    source: DatumError::Trailing {
                        pos: self.block_pos,
                        len: self.block.len() - self.block_pos,
                    },
                }));
            }
            match self.read_block() {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// Deflate level of the writer. With flate2's zlib-rs backend (`cargo bench -p sysflow-model
/// --bench decode`, 2 M records): level 2 writes 4.9 M records/s into 26.8 MB; level 1 6.8 M/s
/// but 35.4 MB (its `deflate_quick` skips lazy matching); level 3 3.2 M/s, 28.1 MB. miniz_oxide
/// at level 1, used before, wrote 5.0 M/s and 29.4 MB: level 2 keeps that speed with 9 % smaller
/// files, which matter more for traces kept for months.
pub const DEFLATE_LEVEL: u32 = 2;

/// Writes SysFlow records to an Avro object container file with [`SYSFLOW_V5_SCHEMA`].
///
/// Deflate runs at `DEFLATE_LEVEL` (this module). Records are buffered and written as a block
/// once it reaches ~80,000 bytes, on [`Writer::flush`] and on [`Writer::finish`]. Dropping the
/// writer flushes too, but only `finish` reports errors.
pub struct Writer<W: Write> {
    out: Option<W>,
    codec: Codec,
    sync: [u8; 16],
    block: Vec<u8>,
    count: u64,
    scratch: Vec<u8>,
    compress: Compress,
}

impl<W: Write> std::fmt::Debug for Writer<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("codec", &self.codec)
            .field("pending_records", &self.count)
            .finish_non_exhaustive()
    }
}

/// 16 unpredictable-enough bytes: the std hasher is randomly keyed per process; time and
/// pid separate writers within one process.
fn sync_marker() -> [u8; 16] {
    let mut out = [0u8; 16];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut h = RandomState::new().build_hasher();
        h.write_u128(now);
        h.write_u32(std::process::id());
        h.write_usize(i);
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    out
}

impl<W: Write> Writer<W> {
    /// Write the container header (v5 schema, codec, fresh sync marker).
    pub fn new(mut w: W, codec: Codec) -> Result<Self, WriteError> {
        let sync = sync_marker();
        let mut h = Vec::with_capacity(SYSFLOW_V5_SCHEMA.len() + 64);
        h.extend_from_slice(MAGIC);
        put_long(&mut h, 2);
        for (k, v) in [
            ("avro.schema", SYSFLOW_V5_SCHEMA.as_bytes()),
            ("avro.codec", codec.name().as_bytes()),
        ] {
            put_long(&mut h, k.len() as i64);
            h.extend_from_slice(k.as_bytes());
            put_long(&mut h, v.len() as i64);
            h.extend_from_slice(v);
        }
        put_long(&mut h, 0);
        h.extend_from_slice(&sync);
        w.write_all(&h)?;
        Ok(Writer {
            out: Some(w),
            codec,
            sync,
            block: Vec::with_capacity(BLOCK_TARGET + 4096),
            count: 0,
            scratch: Vec::new(),
            compress: Compress::new(Compression::new(DEFLATE_LEVEL), false),
        })
    }

    /// Append one record; writes a block when the buffer reaches ~80,000 bytes.
    pub fn write(&mut self, rec: &SysFlow) -> Result<(), WriteError> {
        encode_datum(rec, &mut self.block);
        self.count += 1;
        if self.block.len() >= BLOCK_TARGET {
            self.write_block()?;
        }
        Ok(())
    }

    /// Write the buffered records as a block and flush the underlying writer.
    pub fn flush(&mut self) -> Result<(), WriteError> {
        self.write_block()?;
        if let Some(w) = self.out.as_mut() {
            w.flush()?;
        }
        Ok(())
    }

    /// Write the last block, flush, and return the underlying writer.
    pub fn finish(mut self) -> Result<W, WriteError> {
        self.flush()?;
        self.out
            .take()
            .ok_or_else(|| WriteError::Io(io::Error::other("writer already finished")))
    }

    fn write_block(&mut self) -> Result<(), WriteError> {
        if self.count == 0 {
            return Ok(());
        }
        let Some(w) = self.out.as_mut() else {
            return Ok(());
        };
        let data: &[u8] = match self.codec {
            Codec::Null => &self.block,
            Codec::Deflate => {
                deflate(&mut self.compress, &self.block, &mut self.scratch)?;
                &self.scratch
            }
            Codec::Snappy => {
                self.scratch.clear();
                self.scratch
                    .resize(snap::raw::max_compress_len(self.block.len()), 0);
                let n = snap::raw::Encoder::new()
                    .compress(&self.block, &mut self.scratch)
                    .map_err(|e| WriteError::Compress(e.to_string()))?;
                self.scratch.truncate(n);
                let crc = crc32fast::hash(&self.block);
                self.scratch.extend_from_slice(&crc.to_be_bytes());
                &self.scratch
            }
        };
        let mut head = Vec::with_capacity(20);
        put_long(&mut head, self.count as i64);
        put_long(&mut head, data.len() as i64);
        w.write_all(&head)?;
        w.write_all(data)?;
        w.write_all(&self.sync)?;
        self.block.clear();
        self.count = 0;
        Ok(())
    }
}

fn deflate(c: &mut Compress, input: &[u8], out: &mut Vec<u8>) -> Result<(), WriteError> {
    c.reset();
    out.clear();
    out.reserve(input.len() / 2 + 64);
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(4096));
        }
        let consumed = usize::try_from(c.total_in())
            .unwrap_or(usize::MAX)
            .min(input.len());
        let st = c
            .compress_vec(&input[consumed..], out, FlushCompress::Finish)
            .map_err(|e| WriteError::Compress(e.to_string()))?;
        if st == Status::StreamEnd {
            return Ok(());
        }
    }
}

impl<W: Write> Drop for Writer<W> {
    fn drop(&mut self) {
        if self.out.is_some() {
            // Best effort: records must not vanish silently because `finish` was skipped.
            let _ = self.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The densest input snappy knows (one repeated byte) stays under the ratio the reader
    /// accepts, so the length-prefix check never refuses a real block.
    #[test]
    fn snappy_ratio_bound_admits_the_densest_input() {
        let input = vec![0u8; 1 << 20];
        let mut data = snap::raw::Encoder::new()
            .compress_vec(&input)
            .expect("compress");
        assert!((input.len() as u64) <= data.len() as u64 * SNAPPY_MAX_RATIO);
        data.extend_from_slice(&crc32fast::hash(&input).to_be_bytes());
        let mut out = Vec::new();
        unsnappy(&data, &mut out).expect("decompress");
        assert_eq!(out, input);
    }
}
