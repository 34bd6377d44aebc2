//! Compiled conditions and their evaluation. Nothing here allocates per record: field
//! values borrow from the record, parts render on the stack ([`Value::any_part`]), and the
//! one scratch string per worker serves json-path fields.

mod nets;
mod scratch;
mod strings;
mod transform;

use std::collections::HashSet;

/// Set of literals for large `in` lists (a fast non-cryptographic hash: keys come from
/// the policy, not from the records).
pub type StrSet = HashSet<Box<str>, foldhash::fast::FixedState>;

use aho_corasick::AhoCorasick;
use sysflow_model::flat::{Attr, Field, FlatRecord, Value};
use sysflow_model::RecordType;

use crate::ast::Xf;

pub use nets::Net4;
pub use scratch::Scratch;
use strings::{concat_contains, concat_starts_with, icontains_both};
pub use strings::{glob, icontains, iglob};
/// Reads a value the attribute catalogue does not have (a name of another namespace, e.g.
/// sysprint's `pproc.cwd` in `sensor print -f`), rendering into the scratch string if needed.
pub type Getter = for<'r> fn(&'r FlatRecord, &'r mut String) -> Value<'r>;

/// A field resolved at compile time.
#[derive(Debug, Clone)]
pub struct FieldRef {
    /// The catalogue attribute; for a [`FieldRef::custom`] field a stand-in that only names
    /// it (never read: `custom` is, and no bit test or process memo applies to it).
    pub field: Field,
    /// Needs rendering into scratch ([`FlatRecord::get_into`], or `custom`).
    pub render: bool,
    /// Reader of a field outside the catalogue (implies `render`).
    pub custom: Option<Getter>,
    /// Falco transformers applied to the rendered value, innermost first (implies `render`).
    pub xf: Box<[Xf]>,
}

impl FieldRef {
    pub fn new(field: Field) -> Self {
        let render = field.needs_scratch();
        FieldRef {
            field,
            render,
            custom: None,
            xf: Box::default(),
        }
    }

    /// A field read by `get` instead of the catalogue; `name` is what it was called.
    pub fn custom(name: &'static str, get: Getter) -> Self {
        FieldRef {
            field: Field {
                attr: Attr::EvtDir,
                index: None,
                json_path: None,
                name,
            },
            render: true,
            custom: Some(get),
            xf: Box::default(),
        }
    }

    /// Reads the value (the catalogue path costs one branch, as before custom fields).
    #[inline]
    pub fn get<'s>(&self, r: &'s FlatRecord, scratch: &'s mut String) -> Value<'s> {
        if self.render {
            match self.custom {
                Some(g) => g(r, scratch),
                None if !self.xf.is_empty() => {
                    transform::apply(r.get(&self.field), &self.xf, scratch)
                }
                None => r.get_into(&self.field, scratch),
            }
        } else {
            r.get(&self.field)
        }
    }
}

/// A literal with its integer form, parsed once.
#[derive(Debug, Clone)]
pub struct Lit {
    pub s: Box<str>,
    pub int: Option<i64>,
}

impl Lit {
    pub fn new(s: &str) -> Self {
        Lit {
            s: s.into(),
            int: s.trim().parse().ok(),
        }
    }
}

/// Numeric comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumOp {
    Lt,
    Le,
    Gt,
    Ge,
}

impl NumOp {
    #[inline]
    fn apply(self, a: i64, b: i64) -> bool {
        match self {
            NumOp::Lt => a < b,
            NumOp::Le => a <= b,
            NumOp::Gt => a > b,
            NumOp::Ge => a >= b,
        }
    }
}

/// A test of one field against constants.
#[derive(Debug, Clone)]
pub enum Test {
    Eq(Lit),
    Contains(Box<str>),
    /// The literal is lower-cased at compile time.
    IContains(Box<str>),
    StartsWith(Box<str>),
    EndsWith(Box<str>),
    Glob(Box<str>),
    /// The pattern is lower-cased at compile time.
    IGlob(Box<str>),
    Num(NumOp, i64),
    /// Small `in` lists are scanned; large ones hashed.
    InList(Box<[Box<str>]>),
    InSet(StrSet),
    /// Substring match of any item (the original's `pmatch`).
    Pmatch(AhoCorasick),
    /// Falco's `pmatch`: a part is one of the paths or below one of them.
    PathPrefix(Box<[Box<str>]>),
    /// A part matches the expression (`regex`: the compiler anchors Falco's full match;
    /// an unanchored expression finds a match anywhere).
    Regex(regex::Regex),
    /// An IPv4 address of the value lies in one of the networks (CIDR matching).
    Cidr(Box<[Net4]>),
    Exists,
    /// `sf.opflags = NAME`/`in (...)` as bit tests: `any` bits count on every record type,
    /// `net` only on network records (RECV/SEND), `other` only elsewhere (READ/WRITE).
    OpMask {
        any: u32,
        net: u32,
        other: u32,
    },
    /// `sf.file.openflags = NAME`/`in (...)`: a name is present when all its bits are set
    /// (`masks`), "NONE" when no bit is (`none`).
    OpenMask {
        masks: Box<[u32]>,
        none: bool,
    },
}

/// Comparison of two fields (right-hand side naming a field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairOp {
    Eq,
    Contains,
    IContains,
    StartsWith,
    EndsWith,
    Num(NumOp),
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub enum Cond {
    Const(bool),
    /// `sf.type = X`/`in (...)`: a bit per [`sysflow_model::RecordType`].
    Type(u16),
    /// A sub-condition shared by several rules (a macro, a repeated test): evaluated at
    /// most once per record, its result kept in [`Scratch`] under this slot.
    Memo(u32, Box<Cond>),
    /// A sub-condition that reads only the process context (process, parent, ancestry,
    /// container, pod): evaluated once per process, kept in [`Scratch`]'s per-process cache.
    ProcMemo(u32, Box<Cond>),
    And(Box<[Cond]>),
    Or(Box<[Cond]>),
    Not(Box<Cond>),
    Test(FieldRef, Test),
    Pair(FieldRef, PairOp, FieldRef),
}

impl Cond {
    /// [`Cond::cost`] of a memo lookup: memoizing anything this cheap does not pay.
    pub const MEMO_COST: u32 = 2;

    /// Rough relative cost of evaluating the condition (and/or: all terms), used to order
    /// and/or terms cheap first at compile time.
    pub fn cost(&self) -> u32 {
        self.cost_with(&|_, c| c)
    }

    /// [`Cond::cost`] where a memoized sub-condition costs `memo(slot, its own cost)` (its
    /// cost shared among the conditions that use it).
    pub fn cost_with(&self, memo: &dyn Fn(u32, u32) -> u32) -> u32 {
        match self {
            Cond::Const(_) => 0,
            Cond::Type(_) => 1,
            Cond::Memo(id, c) => memo(*id, c.cost_with(memo)),
            Cond::ProcMemo(..) => Cond::MEMO_COST,
            Cond::And(v) | Cond::Or(v) => v.iter().map(|c| c.cost_with(memo)).sum(),
            Cond::Not(c) => c.cost_with(memo),
            Cond::Test(f, t) => {
                let tc = match t {
                    Test::OpMask { .. } | Test::OpenMask { .. } | Test::Exists => 1,
                    Test::Num(..) | Test::Eq(_) | Test::StartsWith(_) | Test::EndsWith(_) => 2,
                    Test::InList(v) => 2 + v.len() as u32 / 4,
                    Test::InSet(_) => 4,
                    Test::Contains(_) | Test::IContains(_) => 5,
                    Test::Glob(_) | Test::IGlob(_) | Test::Pmatch(_) | Test::Cidr(_) => 6,
                    Test::PathPrefix(v) => 3 + v.len() as u32 / 2,
                    Test::Regex(_) => 10,
                };
                let fc = field_cost(f);
                if is_ancestry(f) {
                    fc * tc
                } else {
                    fc + tc
                }
            }
            Cond::Pair(a, _, b) => field_cost(a) * field_cost(b) + 4,
        }
    }

    /// Evaluates the condition on a record.
    pub fn eval(&self, r: &FlatRecord, s: &mut Scratch) -> bool {
        match self {
            Cond::Const(b) => *b,
            Cond::Type(mask) => mask & (1 << (r.rec.record_type() as u16)) != 0,
            Cond::Memo(id, c) => {
                let i = *id as usize;
                let tag = s.gen << 1;
                let m = s.memo[i];
                if m & !1 == tag {
                    return m & 1 != 0;
                }
                let v = c.eval(r, s);
                s.memo[i] = tag | v as u32;
                v
            }
            Cond::ProcMemo(id, c) => {
                let Some(e) = s.procs.cur else {
                    return c.eval(r, s);
                };
                let i = *id as usize;
                if let Some(st) = s.procs.entries[e].as_ref().map(|x| x.state[i]) {
                    if st != 0 {
                        return st == 2;
                    }
                }
                let v = c.eval(r, s);
                if let Some(x) = s.procs.entries[e].as_mut() {
                    x.state[i] = 1 + v as u8;
                }
                v
            }
            Cond::And(v) => v.iter().all(|c| c.eval(r, s)),
            Cond::Or(v) => v.iter().any(|c| c.eval(r, s)),
            Cond::Not(c) => !c.eval(r, s),
            Cond::Test(f, t) => {
                let v = f.get(r, &mut s.a);
                test(&v, t)
            }
            Cond::Pair(a, op, b) => {
                let va = a.get(r, &mut s.a);
                let vb = b.get(r, &mut s.b);
                pair(&va, *op, &vb)
            }
        }
    }
}

/// Whether the condition reads only the process context of a record (the process, its
/// parent and ancestry, container and pod): then its result is the same for every record of
/// that process.
pub fn proc_only(c: &Cond) -> bool {
    match c {
        Cond::Const(_) => true,
        Cond::Type(_) => false,
        Cond::Memo(_, c) | Cond::ProcMemo(_, c) | Cond::Not(c) => proc_only(c),
        Cond::And(v) | Cond::Or(v) => v.iter().all(proc_only),
        Cond::Test(f, _) => proc_field(f),
        Cond::Pair(a, _, b) => proc_field(a) && proc_field(b),
    }
}

fn proc_field(f: &FieldRef) -> bool {
    use Attr::*;
    f.custom.is_none()
        && matches!(
            f.field.attr,
            ProcOid
                | ProcPid
                | ProcCreateTs
                | ProcExe
                | ProcName
                | ProcArgs
                | ProcCmdline
                | ProcUid
                | ProcGid
                | ProcUser
                | ProcGroup
                | ProcTty
                | ProcEntry
                | ProcAName
                | ProcAExe
                | ProcACmdline
                | ProcAPid
                | ProcCwd
                | ProcEnv
                | PProcOid
                | PProcPid
                | PProcCreateTs
                | PProcExe
                | PProcName
                | PProcArgs
                | PProcCmdline
                | PProcUid
                | PProcGid
                | PProcUser
                | PProcGroup
                | PProcTty
                | PProcEntry
                | ContainerId
                | ContainerName
                | ContainerImage
                | ContainerImageId
                | ContainerType
                | ContainerPrivileged
                | ContainerPrivilegedBool
                | PodId
                | PodName
                | PodNodeName
                | PodNamespace
                | PodTs
                | PodRestartCnt
                | PodHostIp
                | PodInternalIp
                | PodServices
                | PodHostIpJson
                | PodInternalIpJson
                | PodServicesJson
                | ParentAName
                | ParentAExe
                | ParentAPid
                | ContainerIdOrHost
                | ContainerNameOrHost
                | ContainerImageRepo
                | ContainerImageTag
                | ProcExeName
                | ProcTtyNum
        )
}

/// All ancestors of the process (not one indexed ancestor): a test runs once per ancestor.
fn is_ancestry(f: &FieldRef) -> bool {
    f.custom.is_none()
        && f.field.index.is_none()
        && matches!(
            f.field.attr,
            Attr::ProcAName
                | Attr::ProcAExe
                | Attr::ProcACmdline
                | Attr::ProcAPid
                | Attr::ParentAName
                | Attr::ParentAExe
                | Attr::ParentAPid
        )
}

/// Cost of reading a field (see [`Cond::cost`]).
fn field_cost(f: &FieldRef) -> u32 {
    if f.render {
        return 40;
    }
    if is_ancestry(f) {
        return 8;
    }
    match f.field.attr {
        Attr::ProcCmdline | Attr::PProcCmdline => 4,
        Attr::PProcName | Attr::PProcExe | Attr::PProcArgs | Attr::PProcUid => 2,
        _ => 1,
    }
}

/// Applies a test to a value: true if ANY part of a multi-valued attribute passes
/// (`sf.opflags = EXEC`, `sf.proc.aname = bash`). A missing value has no parts, so every
/// test but `exists` is false on it (and `!=`, compiled as `not =`, is true).
pub fn test(v: &Value<'_>, t: &Test) -> bool {
    match t {
        Test::Eq(l) => match *v {
            Value::Int(i) => l.int == Some(i),
            Value::Str(s) => s == &*l.s,
            Value::Concat(a, sep, b) => {
                a.len() + sep.len() + b.len() == l.s.len() && concat_starts_with(a, sep, b, &l.s)
            }
            _ => v.any_part(|p| p == &*l.s),
        },
        Test::Contains(l) => match *v {
            Value::Str(s) => s.contains(&**l),
            Value::Concat(a, sep, b) => concat_contains(a, sep, b, l),
            _ => v.any_part(|p| p.contains(&**l)),
        },
        Test::IContains(l) => v.any_part(|p| icontains(p, l)),
        // Command lines are `exe + " " + args`: compare piecewise instead of rendering.
        Test::StartsWith(l) => match *v {
            Value::Concat(a, sep, b) => concat_starts_with(a, sep, b, l),
            _ => v.any_part(|p| p.starts_with(&**l)),
        },
        Test::EndsWith(l) => v.any_part(|p| p.ends_with(&**l)),
        Test::Glob(g) => v.any_part(|p| glob(g.as_bytes(), p.as_bytes())),
        Test::IGlob(g) => v.any_part(|p| iglob(g.as_bytes(), p.as_bytes())),
        Test::Num(op, n) => match v.as_int() {
            Some(i) => op.apply(i, *n),
            None => v.any_part(|p| p.trim().parse::<i64>().is_ok_and(|i| op.apply(i, *n))),
        },
        Test::InList(items) => match *v {
            Value::Str(s) => items.iter().any(|x| &**x == s),
            _ => v.any_part(|p| items.iter().any(|x| &**x == p)),
        },
        Test::InSet(set) => v.any_part(|p| set.contains(p)),
        Test::Pmatch(ac) => v.any_part(|p| ac.is_match(p)),
        Test::Regex(re) => v.any_part(|p| re.is_match(p)),
        Test::PathPrefix(dirs) => v.any_part(|p| dirs.iter().any(|d| under(p, d))),
        Test::Cidr(nets) => nets::in_nets(v, nets),
        Test::Exists => v.is_set(),
        Test::OpMask { any, net, other } => match *v {
            Value::OpFlags(f, t) => {
                let is_net = matches!(t, RecordType::NetworkFlow | RecordType::NetworkEvent);
                f.0 & (any | if is_net { net } else { other }) != 0
            }
            _ => false,
        },
        Test::OpenMask { masks, none } => match *v {
            Value::OpenFlags(f) => (*none && f.0 == 0) || masks.iter().any(|m| f.0 & m == *m),
            _ => false,
        },
    }
}

/// Field-to-field comparison: true if any part of `a` relates to any part of `b`.
pub fn pair(a: &Value<'_>, op: PairOp, b: &Value<'_>) -> bool {
    if let PairOp::Num(n) = op {
        return match (a.as_int(), b.as_int()) {
            (Some(x), Some(y)) => n.apply(x, y),
            _ => false,
        };
    }
    a.any_part(|pa| {
        b.any_part(|pb| match op {
            PairOp::Eq => pa == pb,
            PairOp::Contains => pa.contains(pb),
            PairOp::IContains => icontains_both(pa, pb),
            PairOp::StartsWith => pa.starts_with(pb),
            PairOp::EndsWith => pa.ends_with(pb),
            PairOp::Num(_) => false,
        })
    })
}

/// Whether `path` is `dir` or below it (Falco's `pmatch`): `/usr/bin/x` is below `/usr/bin`
/// and `/usr/bin/`, `/usr/binx` is not.
fn under(path: &str, dir: &str) -> bool {
    let d = dir.strip_suffix('/').unwrap_or(dir);
    match path.strip_prefix(d) {
        Some(rest) => rest.is_empty() || rest.starts_with('/') || d.is_empty(),
        None => false,
    }
}
