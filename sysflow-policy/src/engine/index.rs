//! The record-type and op-flag index: what a record must be for a compiled condition to
//! possibly hold, so the hot path only evaluates the rules that can match.

use sysflow_model::RecordType;

use crate::eval::{Cond, Test};

/// Every record type (bit `1 << RecordType as u16`).
pub(crate) const ALL_TYPES: u16 = (1 << 12) - 1;

/// What a record must be for `c` to possibly hold: a set of record types (bit per
/// `RecordType`) and op flags of which one must be set (0 = no requirement). Derived from
/// `sf.type = X`, `sf.type in (...)`, `sf.opflags = X`/`in (...)` under and/or; `not` gives up.
pub(crate) fn requirement(c: &Cond) -> (u16, u32) {
    match c {
        Cond::Const(false) => (0, 0),
        Cond::Const(true) | Cond::Not(_) | Cond::Pair(..) => (ALL_TYPES, 0),
        Cond::Type(mask) => (*mask & ALL_TYPES, 0),
        Cond::Memo(_, c) | Cond::ProcMemo(_, c) => requirement(c),
        Cond::Test(f, t) => match (f.field.name, t) {
            ("sf.type", Test::Eq(l)) => (type_bits([&*l.s]), 0),
            ("sf.type", Test::InList(items)) => (type_bits(items.iter().map(|s| &**s)), 0),
            ("sf.type", Test::InSet(items)) => (type_bits(items.iter().map(|s| &**s)), 0),
            ("sf.opflags", Test::OpMask { any, net, other }) => (ALL_TYPES, any | net | other),
            _ => (ALL_TYPES, 0),
        },
        Cond::And(v) => v
            .iter()
            .map(requirement)
            .fold((ALL_TYPES, 0), |(t, o), (t2, o2)| {
                // Both requirements hold; keep the narrower op-flag requirement.
                let ops = match (o, o2) {
                    (0, x) | (x, 0) => x,
                    (a, b) if b.count_ones() < a.count_ones() => b,
                    (a, _) => a,
                };
                (t & t2, ops)
            }),
        Cond::Or(v) => {
            let reqs: Vec<_> = v.iter().map(requirement).collect();
            let types = reqs.iter().fold(0, |t, r| t | r.0);
            // Only a requirement if every branch has one (branches that never match don't count).
            let live: Vec<_> = reqs.iter().filter(|r| r.0 != 0).collect();
            let ops = if !live.is_empty() && live.iter().all(|r| r.1 != 0) {
                live.iter().fold(0, |o, r| o | r.1)
            } else {
                0
            };
            (types, ops)
        }
    }
}

fn type_bits<'a>(codes: impl IntoIterator<Item = &'a str>) -> u16 {
    codes
        .into_iter()
        .filter_map(|c| RecordType::ALL.iter().find(|t| t.code() == c))
        .fold(0, |m, t| m | 1 << (*t as u16))
}
