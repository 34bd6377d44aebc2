//! Bounds-checked reading of Avro binary primitives from a byte slice.

use super::error::DatumError;
use super::schema::{Named, Ty};

/// Values nested deeper than this (recursive writer schemas only) are rejected.
const MAX_DEPTH: u32 = 32;

/// A read position in a byte slice. Every read checks the bounds; nothing panics.
pub(crate) struct Cur<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
}

impl<'a> Cur<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Cur { buf, pos: 0 }
    }

    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Zig-zag varint as i64 (Avro `long`; also `int`, enum and union indexes).
    #[inline]
    pub fn long(&mut self) -> Result<i64, DatumError> {
        let mut v: u64 = 0;
        let mut shift = 0u32;
        let start = self.pos;
        loop {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(DatumError::Eof {
                    pos: self.pos,
                    expected: "a varint byte",
                });
            };
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok((v >> 1) as i64 ^ -((v & 1) as i64));
            }
            shift += 7;
            if shift > 63 {
                return Err(DatumError::Invalid {
                    pos: start,
                    what: "varint (longer than 10 bytes)",
                });
            }
        }
    }

    #[inline]
    pub fn int(&mut self) -> Result<i32, DatumError> {
        let pos = self.pos;
        i32::try_from(self.long()?).map_err(|_| DatumError::Invalid {
            pos,
            what: "int (out of 32-bit range)",
        })
    }

    #[inline]
    pub fn boolean(&mut self) -> Result<bool, DatumError> {
        match self.buf.get(self.pos) {
            Some(0) => {
                self.pos += 1;
                Ok(false)
            }
            Some(1) => {
                self.pos += 1;
                Ok(true)
            }
            Some(_) => Err(DatumError::Invalid {
                pos: self.pos,
                what: "boolean (byte other than 0 or 1)",
            }),
            None => Err(DatumError::Eof {
                pos: self.pos,
                expected: "a boolean byte",
            }),
        }
    }

    /// `n` raw bytes.
    #[inline]
    pub fn take(&mut self, n: usize, expected: &'static str) -> Result<&'a [u8], DatumError> {
        if n > self.remaining() {
            return Err(DatumError::Eof {
                pos: self.pos,
                expected,
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// A length prefix, checked against the bytes left.
    #[inline]
    fn len(&mut self, expected: &'static str) -> Result<usize, DatumError> {
        let pos = self.pos;
        let n = self.long()?;
        if n < 0 {
            return Err(DatumError::Invalid {
                pos,
                what: "length (negative)",
            });
        }
        if n as u64 > self.remaining() as u64 {
            return Err(DatumError::Eof { pos, expected });
        }
        Ok(n as usize)
    }

    /// Avro `bytes`/`string` body.
    #[inline]
    pub fn bytes(&mut self) -> Result<&'a [u8], DatumError> {
        let n = self.len("string bytes")?;
        self.take(n, "string bytes")
    }

    /// Avro `string` as an owned String. Invalid UTF-8 is replaced (U+FFFD), never rejected:
    /// collectors copy raw kernel strings.
    #[inline]
    pub fn string(&mut self) -> Result<String, DatumError> {
        Ok(String::from_utf8_lossy(self.bytes()?).into_owned())
    }

    #[inline]
    pub fn fixed20(&mut self) -> Result<[u8; 20], DatumError> {
        let s = self.take(20, "20-byte fixed")?;
        let mut out = [0u8; 20];
        out.copy_from_slice(s);
        Ok(out)
    }

    /// Start of an array/map block: item count (0 = end). A negative count is followed by
    /// the block's byte size, which is read and ignored. The count is checked against the
    /// bytes left (every item this crate reads takes at least one byte).
    #[inline]
    pub fn block_count(&mut self) -> Result<usize, DatumError> {
        let pos = self.pos;
        let n = self.long()?;
        let n = if n < 0 {
            self.long()?;
            n.checked_neg().ok_or(DatumError::Invalid {
                pos,
                what: "block count",
            })?
        } else {
            n
        };
        if n as u64 > self.remaining() as u64 {
            return Err(DatumError::Eof {
                pos,
                expected: "as many array/map items as the block count says",
            });
        }
        Ok(n as usize)
    }

    /// Skip one value of type `ty`.
    pub fn skip(&mut self, ty: &Ty, named: &[Named], depth: u32) -> Result<(), DatumError> {
        if depth > MAX_DEPTH {
            return Err(DatumError::TooDeep { pos: self.pos });
        }
        match ty {
            Ty::Null => {}
            Ty::Bool => {
                self.boolean()?;
            }
            Ty::Int | Ty::Long => {
                self.long()?;
            }
            Ty::Float => {
                self.take(4, "4-byte float")?;
            }
            Ty::Double => {
                self.take(8, "8-byte double")?;
            }
            Ty::Bytes | Ty::Str => {
                self.bytes()?;
            }
            Ty::Named(i) => match named.get(*i) {
                Some(Named::Record { fields, .. }) => {
                    for (_, t) in fields {
                        self.skip(t, named, depth + 1)?;
                    }
                }
                Some(Named::Enum { .. }) => {
                    self.long()?;
                }
                Some(Named::Fixed { size }) => {
                    self.take(*size, "fixed bytes")?;
                }
                None => {
                    return Err(DatumError::Invalid {
                        pos: self.pos,
                        what: "schema reference",
                    })
                }
            },
            Ty::Array(items) => self.skip_blocks(items, None, named, depth)?,
            Ty::Map(values) => self.skip_blocks(values, Some(&Ty::Str), named, depth)?,
            Ty::Union(branches) => {
                let pos = self.pos;
                let i = self.long()?;
                let b = usize::try_from(i)
                    .ok()
                    .and_then(|i| branches.get(i))
                    .ok_or(DatumError::BadBranch {
                        pos,
                        index: i,
                        len: branches.len(),
                    })?;
                self.skip(b, named, depth + 1)?;
            }
        }
        Ok(())
    }

    fn skip_blocks(
        &mut self,
        item: &Ty,
        key: Option<&Ty>,
        named: &[Named],
        depth: u32,
    ) -> Result<(), DatumError> {
        loop {
            let n = self.block_count()?;
            if n == 0 {
                return Ok(());
            }
            for _ in 0..n {
                if let Some(k) = key {
                    self.skip(k, named, depth + 1)?;
                }
                self.skip(item, named, depth + 1)?;
            }
        }
    }
}

/// Append a zig-zag varint.
#[inline]
pub(crate) fn put_long(out: &mut Vec<u8>, v: i64) {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trip_and_limits() {
        for v in [
            0i64,
            1,
            -1,
            63,
            -64,
            64,
            300,
            i32::MAX as i64,
            i64::MIN,
            i64::MAX,
        ] {
            let mut b = Vec::new();
            put_long(&mut b, v);
            let mut c = Cur::new(&b);
            assert_eq!(c.long().unwrap(), v);
            assert_eq!(c.remaining(), 0);
        }
        let mut c = Cur::new(&[0xff; 11]);
        assert!(matches!(c.long(), Err(DatumError::Invalid { pos: 0, .. })));
        let mut c = Cur::new(&[0x80]);
        assert!(matches!(c.long(), Err(DatumError::Eof { pos: 1, .. })));
    }
}
