//! Compiling a writer schema: each union branch is matched to a record type by full name, and
//! each of its fields to a record field by the record's layout ([`super::records`]), with the
//! wire encoding checked against what the field needs.

use super::layout::Kind;
use super::program::{Branch, EnumMap, Program, Step, Wire, PLAIN, SKIP};
use super::records::field_of;
use crate::avro::schema::{Named, Parsed, Ty};
use crate::flags::OpFlags;
use crate::record::RecordType;

impl Program {
    /// Compile a writer schema (JSON). Errors describe what is wrong with it.
    pub fn compile(json: &str) -> Result<Program, String> {
        let parsed = Parsed::parse(json)?;
        let union = match &parsed.root {
            Ty::Union(b) => b.clone(),
            Ty::Named(i) => match parsed.named.get(*i) {
                Some(Named::Record { fields, .. }) => match fields.iter().find(|(n, _)| n == "rec")
                {
                    Some((_, Ty::Union(b))) => b.clone(),
                    _ => return Err("top-level record has no union field \"rec\"".into()),
                },
                _ => return Err("top-level type is not a record".into()),
            },
            _ => return Err("top-level type is neither a record nor a union".into()),
        };
        let mut p = Program {
            branches: Vec::with_capacity(union.len()),
            skips: Vec::new(),
            enums: Vec::new(),
            named: parsed.named,
        };
        for b in &union {
            let br = p.branch(b)?;
            p.branches.push(br);
        }
        Ok(p)
    }

    fn branch(&mut self, ty: &Ty) -> Result<Branch, String> {
        let Ty::Named(i) = ty else {
            return Ok(Branch::Unknown(format!("{ty:?}")));
        };
        let Some(Named::Record { full_name, fields }) = self.named.get(*i) else {
            return Ok(Branch::Unknown(format!("non-record type #{i}")));
        };
        let (full_name, fields) = (full_name.clone(), fields.clone());
        let target =
            if full_name == "sysflow.flow.ProcessFlow" && fields.iter().any(|(n, _)| n == "args") {
                // Legacy event-like ProcessFlow (7- and 4-member schemas) is a process event.
                RecordType::ProcessEvent
            } else {
                match RecordType::ALL.iter().find(|t| t.full_name() == full_name) {
                    Some(t) => *t,
                    None => return Ok(Branch::Unknown(full_name)),
                }
            };
        let mut steps = Vec::with_capacity(fields.len());
        for (fname, fty) in &fields {
            let step = match field_of(target, fname) {
                Some((slot, kind)) => Step {
                    slot,
                    wire: self
                        .wire(kind, fty)
                        .map_err(|e| format!("field {fname} of {full_name}: {e}"))?,
                },
                None => self.skip_step(fty)?,
            };
            steps.push(step);
        }
        Ok(Branch::Known {
            target,
            steps,
            header_without_ip: target == RecordType::Header
                && !fields.iter().any(|(n, _)| n == "ip"),
        })
    }

    fn skip_step(&mut self, ty: &Ty) -> Result<Step, String> {
        let i = u16::try_from(self.skips.len()).map_err(|_| "too many skipped fields")?;
        self.skips.push(ty.clone());
        Ok(Step {
            slot: SKIP,
            wire: Wire::Skip(i),
        })
    }

    fn def(&self, ty: &Ty) -> Option<&Named> {
        match ty {
            Ty::Named(i) => self.named.get(*i),
            _ => None,
        }
    }

    fn is_long(ty: &Ty) -> bool {
        matches!(ty, Ty::Long | Ty::Int)
    }

    fn is_oid(&self, ty: &Ty) -> bool {
        matches!(self.def(ty), Some(Named::Record { fields, .. })
            if fields.len() == 2
                && fields[0].0 == "createTS" && Self::is_long(&fields[0].1)
                && fields[1].0 == "hpid" && Self::is_long(&fields[1].1))
    }

    fn is_foid(&self, ty: &Ty) -> bool {
        matches!(self.def(ty), Some(Named::Fixed { size: 20 }))
    }

    fn record_shape(&self, ty: &Ty, names: &[&str]) -> Option<Vec<Ty>> {
        match self.def(ty) {
            Some(Named::Record { fields, .. })
                if fields.len() == names.len()
                    && fields.iter().zip(names).all(|(f, n)| f.0 == *n) =>
            {
                Some(fields.iter().map(|f| f.1.clone()).collect())
            }
            _ => None,
        }
    }

    /// The v5 `array<Service>` layout (the only one ever written).
    fn is_services(&self, ty: &Ty) -> bool {
        let Ty::Array(item) = ty else { return false };
        let Some(s) =
            self.record_shape(item, &["name", "id", "namespace", "portList", "clusterIP"])
        else {
            return false;
        };
        let port_ok = match &s[3] {
            Ty::Array(p) => {
                match self.record_shape(p, &["port", "targetPort", "nodePort", "proto"]) {
                    Some(p) => p[..3].iter().all(|t| *t == Ty::Int) && p[3] == Ty::Str,
                    None => false,
                }
            }
            _ => false,
        };
        s[..3].iter().all(|t| *t == Ty::Str)
            && port_ok
            && matches!(&s[4], Ty::Array(l) if Self::is_long(l))
    }

    fn enum_map(&mut self, ty: &Ty, map: impl Fn(&str) -> Option<i32>) -> Option<Wire> {
        let Some(Named::Enum { symbols }) = self.def(ty) else {
            return None;
        };
        let symbols = symbols.clone();
        let values = symbols.iter().map(|s| map(s).unwrap_or(-1)).collect();
        let i = u16::try_from(self.enums.len()).ok()?;
        self.enums.push(EnumMap { values, symbols });
        Some(Wire::Enum(i))
    }

    /// Optional value: `["null", T]`, `[T, "null"]` or plain `T`.
    fn opt(&self, ty: &Ty, base: impl Fn(&Ty) -> bool, make: fn(u8) -> Wire) -> Option<Wire> {
        match ty {
            Ty::Union(b) if b.len() == 2 => {
                if b[0] == Ty::Null && base(&b[1]) {
                    Some(make(0))
                } else if b[1] == Ty::Null && base(&b[0]) {
                    Some(make(1))
                } else {
                    None
                }
            }
            t if base(t) => Some(make(PLAIN)),
            _ => None,
        }
    }

    fn wire(&mut self, kind: Kind, ty: &Ty) -> Result<Wire, String> {
        let w = match kind {
            Kind::Long if Self::is_long(ty) => Some(Wire::Long),
            Kind::Int if *ty == Ty::Int => Some(Wire::Int),
            Kind::Flags if *ty == Ty::Int => Some(Wire::Int),
            Kind::Flags => self.enum_map(ty, |s| OpFlags::bit_of(s).map(|b| b as i32)),
            Kind::Bool if *ty == Ty::Bool => Some(Wire::Bool),
            Kind::Str if matches!(ty, Ty::Str | Ty::Bytes) => Some(Wire::Str),
            Kind::Oid if self.is_oid(ty) => Some(Wire::Oid),
            Kind::Foid if self.is_foid(ty) => Some(Wire::Foid),
            Kind::OptStr => self.opt(ty, |t| matches!(t, Ty::Str | Ty::Bytes), Wire::OptStr),
            Kind::OptOid => self.opt(ty, |t| self.is_oid(t), Wire::OptOid),
            Kind::OptFoid => self.opt(ty, |t| self.is_foid(t), Wire::OptFoid),
            Kind::StrArray if matches!(ty, Ty::Array(i) if **i == Ty::Str) => Some(Wire::StrArray),
            Kind::LongArray if matches!(ty, Ty::Array(i) if Self::is_long(i)) => {
                Some(Wire::LongArray)
            }
            Kind::StrMap if matches!(ty, Ty::Map(v) if **v == Ty::Str) => Some(Wire::StrMap),
            Kind::Services if self.is_services(ty) => Some(Wire::Services),
            Kind::Enum(symbols) => self.enum_map(ty, |s| {
                symbols.iter().position(|x| *x == s).map(|i| i as i32)
            }),
            _ => None,
        };
        // A writer field of type "null" carries nothing; the reader keeps its default.
        match w {
            Some(w) => Ok(w),
            None if *ty == Ty::Null => Ok(self.skip_step(ty)?.wire),
            None => Err(format!(
                "writer type {ty:?} cannot be read as the SysFlow field"
            )),
        }
    }
}
