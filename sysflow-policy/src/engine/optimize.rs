//! Speed preparation of compiled conditions after load: memo slots, per-process memos
//! and cheap-first ordering (results unchanged).

use super::Compiled;
use crate::eval::{proc_only, Cond};

/// Slot numbering of [`optimize`].
#[derive(Default)]
struct Slots {
    /// Compiler slot → per-record slot / per-process slot (u32::MAX: none yet).
    rec: Vec<u32>,
    proc: Vec<u32>,
    /// Uses of each kept per-record slot.
    rec_uses: Vec<u32>,
    procs: u32,
}

/// Prepares compiled conditions for speed; the results are unchanged (evaluation is pure):
/// - a sub-condition that reads only the process context becomes a per-process memo
///   ([`Cond::ProcMemo`]): in every and/or, such terms are grouped into one, so a rule costs
///   one cache lookup plus its record-level tests;
/// - other shared sub-conditions keep a per-record memo slot when used at least twice and
///   dearer than the lookup;
/// - and/or terms are ordered cheap first (a shared sub-condition costs its share).
///
/// Returns the numbers of per-record and per-process slots.
pub(super) fn optimize(
    rules: &mut [Compiled],
    filters: &mut [Compiled],
    slots: usize,
) -> (usize, usize) {
    fn count(c: &Cond, uses: &mut [u32]) {
        match c {
            Cond::Memo(id, inner) => {
                uses[*id as usize] += 1;
                count(inner, uses);
            }
            Cond::And(v) | Cond::Or(v) => v.iter().for_each(|c| count(c, uses)),
            Cond::Not(c) | Cond::ProcMemo(_, c) => count(c, uses),
            _ => {}
        }
    }
    fn take(c: &mut Cond) -> Cond {
        std::mem::replace(c, Cond::Const(false))
    }
    fn new_proc(s: &mut Slots, c: Cond) -> Cond {
        s.procs += 1;
        Cond::ProcMemo(s.procs - 1, Box::new(c))
    }
    /// Memo slots: kept, dropped or turned into per-process slots.
    fn fix(c: &mut Cond, uses: &[u32], s: &mut Slots) {
        match c {
            Cond::Memo(id, inner) => {
                fix(inner, uses, s);
                let k = *id as usize;
                if inner.cost() <= Cond::MEMO_COST {
                    *c = take(inner);
                } else if proc_only(inner) {
                    if s.proc[k] == u32::MAX {
                        s.proc[k] = s.procs;
                        s.procs += 1;
                    }
                    *c = Cond::ProcMemo(s.proc[k], Box::new(take(inner)));
                } else if uses[k] < 2 {
                    *c = take(inner);
                } else {
                    if s.rec[k] == u32::MAX {
                        s.rec[k] = s.rec_uses.len() as u32;
                        s.rec_uses.push(uses[k]);
                    }
                    *id = s.rec[k];
                }
            }
            Cond::And(v) | Cond::Or(v) => v.iter_mut().for_each(|c| fix(c, uses, s)),
            Cond::Not(c) | Cond::ProcMemo(_, c) => fix(c, uses, s),
            _ => {}
        }
    }
    /// Groups the process-only terms of each and/or into one per-process memo.
    fn hoist(c: &mut Cond, s: &mut Slots) {
        if matches!(c, Cond::ProcMemo(..)) {
            return;
        }
        if proc_only(c) {
            if c.cost() > Cond::MEMO_COST {
                let inner = take(c);
                *c = new_proc(s, inner);
            }
            return;
        }
        let and = matches!(c, Cond::And(_));
        match c {
            Cond::And(v) | Cond::Or(v) => {
                let (mut group, mut rest): (Vec<Cond>, Vec<Cond>) = std::mem::take(v)
                    .into_vec()
                    .into_iter()
                    .partition(proc_only);
                rest.iter_mut().for_each(|c| hoist(c, s));
                match group.len() {
                    0 => {}
                    1 => {
                        hoist(&mut group[0], s);
                        rest.push(group.pop().unwrap_or(Cond::Const(and)));
                    }
                    _ => {
                        let g = if and {
                            Cond::And(group.into())
                        } else {
                            Cond::Or(group.into())
                        };
                        rest.push(new_proc(s, g));
                    }
                }
                *v = rest.into();
            }
            Cond::Not(c) | Cond::Memo(_, c) => hoist(c, s),
            _ => {}
        }
    }
    /// Orders and/or terms cheap first.
    fn order(c: &mut Cond, cost: &dyn Fn(u32, u32) -> u32) {
        match c {
            Cond::Memo(_, inner) | Cond::ProcMemo(_, inner) | Cond::Not(inner) => {
                order(inner, cost)
            }
            Cond::And(v) | Cond::Or(v) => {
                v.iter_mut().for_each(|c| order(c, cost));
                v.sort_by_cached_key(|c| c.cost_with(cost));
            }
            _ => {}
        }
    }
    let mut uses = vec![0u32; slots];
    for c in rules.iter().chain(filters.iter()) {
        count(&c.cond, &mut uses);
    }
    let mut s = Slots {
        rec: vec![u32::MAX; slots],
        proc: vec![u32::MAX; slots],
        ..Slots::default()
    };
    for c in rules.iter_mut().chain(filters.iter_mut()) {
        fix(&mut c.cond, &uses, &mut s);
        hoist(&mut c.cond, &mut s);
    }
    let rec_uses = std::mem::take(&mut s.rec_uses);
    let share = |id: u32, c: u32| (c / rec_uses[id as usize]).max(Cond::MEMO_COST);
    for c in rules.iter_mut().chain(filters.iter_mut()) {
        order(&mut c.cond, &share);
    }
    (rec_uses.len(), s.procs as usize)
}
