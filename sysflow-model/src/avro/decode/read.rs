//! Typed readers: one value of a record field from the wire, as the compiled [`Wire`] says.
//!
//! A wire that does not fit the reader cannot come out of `compile`; it is reported as an
//! invalid datum rather than trusted.

use super::program::{Program, Wire, PLAIN};
use crate::avro::cursor::Cur;
use crate::avro::error::DatumError;
use crate::record::{Foid, Oid, Port, Service};

impl Program {
    #[inline]
    pub(super) fn long(&self, c: &mut Cur, w: Wire) -> Result<i64, DatumError> {
        match w {
            Wire::Long | Wire::Int => c.long(),
            _ => Err(mismatch(c)),
        }
    }

    #[inline]
    pub(super) fn int(&self, c: &mut Cur, w: Wire) -> Result<i32, DatumError> {
        match w {
            Wire::Int => c.int(),
            Wire::Enum(t) => self.enum_value(c, t),
            _ => Err(mismatch(c)),
        }
    }

    #[inline]
    pub(super) fn boolean(&self, c: &mut Cur, w: Wire) -> Result<bool, DatumError> {
        match w {
            Wire::Bool => c.boolean(),
            _ => Err(mismatch(c)),
        }
    }

    #[inline]
    pub(super) fn string(&self, c: &mut Cur, w: Wire) -> Result<String, DatumError> {
        match w {
            Wire::Str => c.string(),
            _ => Err(mismatch(c)),
        }
    }

    #[inline]
    pub(super) fn oid(&self, c: &mut Cur, w: Wire) -> Result<Oid, DatumError> {
        match w {
            Wire::Oid => Ok(Oid {
                create_ts: c.long()?,
                hpid: c.long()?,
            }),
            _ => Err(mismatch(c)),
        }
    }

    #[inline]
    pub(super) fn foid(&self, c: &mut Cur, w: Wire) -> Result<Foid, DatumError> {
        match w {
            Wire::Foid => Ok(Foid(c.fixed20()?)),
            _ => Err(mismatch(c)),
        }
    }

    /// Reads the union index of an optional value; true if a value follows.
    #[inline]
    fn present(c: &mut Cur, null: u8) -> Result<bool, DatumError> {
        if null == PLAIN {
            return Ok(true);
        }
        let pos = c.pos;
        match c.long()? {
            i if i == i64::from(null) => Ok(false),
            i if i == i64::from(1 - null) => Ok(true),
            i => Err(DatumError::BadBranch {
                pos,
                index: i,
                len: 2,
            }),
        }
    }

    #[inline]
    pub(super) fn opt_str(&self, c: &mut Cur, w: Wire) -> Result<Option<String>, DatumError> {
        match w {
            Wire::OptStr(n) => Ok(if Self::present(c, n)? {
                Some(c.string()?)
            } else {
                None
            }),
            Wire::Skip(_) => self.skip(c, w).map(|_| None),
            _ => Err(mismatch(c)),
        }
    }

    #[inline]
    pub(super) fn opt_oid(&self, c: &mut Cur, w: Wire) -> Result<Option<Oid>, DatumError> {
        match w {
            Wire::OptOid(n) => Ok(if Self::present(c, n)? {
                Some(self.oid(c, Wire::Oid)?)
            } else {
                None
            }),
            Wire::Skip(_) => self.skip(c, w).map(|_| None),
            _ => Err(mismatch(c)),
        }
    }

    #[inline]
    pub(super) fn opt_foid(&self, c: &mut Cur, w: Wire) -> Result<Option<Foid>, DatumError> {
        match w {
            Wire::OptFoid(n) => Ok(if Self::present(c, n)? {
                Some(Foid(c.fixed20()?))
            } else {
                None
            }),
            Wire::Skip(_) => self.skip(c, w).map(|_| None),
            _ => Err(mismatch(c)),
        }
    }

    fn enum_value(&self, c: &mut Cur, t: u16) -> Result<i32, DatumError> {
        let pos = c.pos;
        let i = c.long()?;
        let m = self.enums.get(usize::from(t)).ok_or_else(|| mismatch(c))?;
        match usize::try_from(i)
            .ok()
            .and_then(|i| m.values.get(i).map(|v| (i, *v)))
        {
            Some((_, v)) if v >= 0 => Ok(v),
            Some((i, _)) => Err(DatumError::UnknownSymbol {
                pos,
                symbol: m.symbols.get(i).cloned().unwrap_or_default(),
            }),
            None => Err(DatumError::Invalid {
                pos,
                what: "enum index (out of range)",
            }),
        }
    }

    #[inline]
    pub(super) fn enum_idx(&self, c: &mut Cur, w: Wire) -> Result<usize, DatumError> {
        match w {
            Wire::Enum(t) => Ok(self.enum_value(c, t)? as usize),
            _ => Err(mismatch(c)),
        }
    }

    pub(super) fn str_array(&self, c: &mut Cur, w: Wire) -> Result<Vec<String>, DatumError> {
        match w {
            Wire::StrArray => blocks(c, 1024, |c| c.string()),
            _ => Err(mismatch(c)),
        }
    }

    pub(super) fn long_array(&self, c: &mut Cur, w: Wire) -> Result<Vec<i64>, DatumError> {
        match w {
            Wire::LongArray => blocks(c, 1024, |c| c.long()),
            _ => Err(mismatch(c)),
        }
    }

    pub(super) fn str_map(
        &self,
        c: &mut Cur,
        w: Wire,
    ) -> Result<Vec<(String, String)>, DatumError> {
        match w {
            Wire::StrMap => blocks(c, 1024, |c| Ok((c.string()?, c.string()?))),
            _ => Err(mismatch(c)),
        }
    }

    pub(super) fn services(&self, c: &mut Cur, w: Wire) -> Result<Vec<Service>, DatumError> {
        if !matches!(w, Wire::Services) {
            return Err(mismatch(c));
        }
        // Struct fields are evaluated in the order written, which is the wire order.
        blocks(c, 64, |c| {
            Ok(Service {
                name: c.string()?,
                id: c.string()?,
                namespace: c.string()?,
                port_list: blocks(c, 64, |c| {
                    Ok(Port {
                        port: c.int()?,
                        target_port: c.int()?,
                        node_port: c.int()?,
                        proto: c.string()?,
                    })
                })?,
                cluster_ip: blocks(c, 1024, |c| c.long())?,
            })
        })
    }

    #[inline]
    pub(super) fn skip(&self, c: &mut Cur, w: Wire) -> Result<(), DatumError> {
        match w {
            Wire::Skip(i) => match self.skips.get(usize::from(i)) {
                Some(t) => c.skip(t, &self.named, 0),
                None => Err(mismatch(c)),
            },
            _ => Err(mismatch(c)),
        }
    }
}

/// An Avro array or map: blocks of items, each block led by its count, until a zero count.
/// Counts are bounded by the bytes left; the reservation by `cap` too.
fn blocks<T>(
    c: &mut Cur,
    cap: usize,
    mut item: impl FnMut(&mut Cur) -> Result<T, DatumError>,
) -> Result<Vec<T>, DatumError> {
    let mut v = Vec::new();
    loop {
        let n = c.block_count()?;
        if n == 0 {
            return Ok(v);
        }
        v.reserve(n.min(cap));
        for _ in 0..n {
            v.push(item(c)?);
        }
    }
}

#[cold]
fn mismatch(c: &Cur) -> DatumError {
    DatumError::Invalid {
        pos: c.pos,
        what: "decode program step (internal error)",
    }
}
