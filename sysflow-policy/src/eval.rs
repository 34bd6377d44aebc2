//! Compiled conditions and their evaluation. Nothing here allocates per record: field
//! values borrow from the record, parts render on the stack ([`Value::any_part`]), and the
//! one scratch string per worker serves json-path fields.

use std::collections::HashSet;
use std::sync::Arc;

/// Set of literals for large `in` lists (a fast non-cryptographic hash: keys come from
/// the policy, not from the records).
pub type StrSet = HashSet<Box<str>, foldhash::fast::FixedState>;

use aho_corasick::AhoCorasick;
use sysflow_model::flat::{Attr, Field, FlatRecord, Value};
use sysflow_model::{Container, Pod, Process, RecordType};

/// Per-worker scratch space: strings for fields that render (json paths) and the per-record
/// memo of shared sub-conditions ([`Cond::Memo`]).
#[derive(Debug, Default)]
pub struct Scratch {
    a: String,
    b: String,
    /// `memo[id]` = `gen << 1 | result` when sub-condition `id` was evaluated for the
    /// current record (generation `gen`); anything else means "not yet".
    memo: Vec<u32>,
    gen: u32,
    /// Per-process memo ([`Cond::ProcMemo`]): results of sub-conditions that read only the
    /// process context, reused by every record of the same process.
    procs: ProcCache,
}

/// Slots of a direct-mapped per-process cache (a power of two).
const PROC_CACHE: usize = 512;

/// One cached process context. It holds clones of the `Arc`s it is keyed by, so none of
/// them can be freed and its address reused by another entity while the entry lives: equal
/// pointers mean the same immutable entities, hence the same results.
#[derive(Debug)]
struct ProcEntry {
    ancestry: Arc<[Arc<Process>]>,
    pproc: Option<Arc<Process>>,
    container: Option<Arc<Container>>,
    pod: Option<Arc<Pod>>,
    /// Per process slot: 0 not evaluated, 1 false, 2 true.
    state: Box<[u8]>,
}

#[derive(Debug, Default)]
struct ProcCache {
    entries: Vec<Option<ProcEntry>>,
    /// Entry of the current record (None: no process, evaluate without the cache).
    cur: Option<usize>,
}

fn same<T: ?Sized>(a: &Option<Arc<T>>, b: &Option<Arc<T>>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => Arc::ptr_eq(x, y),
        (None, None) => true,
        _ => false,
    }
}

impl ProcCache {
    fn enter(&mut self, r: &FlatRecord, slots: usize) {
        self.cur = None;
        if slots == 0 || r.proc.is_none() || r.ancestry.is_empty() {
            return;
        }
        if self.entries.is_empty() {
            self.entries.resize_with(PROC_CACHE, || None);
        }
        let key = Arc::as_ptr(&r.ancestry) as *const u8 as usize;
        let i = (key >> 4 ^ key >> 13) & (PROC_CACHE - 1);
        let hit = self.entries[i].as_ref().is_some_and(|e| {
            Arc::ptr_eq(&e.ancestry, &r.ancestry)
                && same(&e.pproc, &r.pproc)
                && same(&e.container, &r.container)
                && same(&e.pod, &r.pod)
                && e.state.len() == slots
        });
        // The process itself is ancestry[0]; the parent is compared too in case a table
        // ever joins them differently.
        let hit = hit
            && r.proc
                .as_ref()
                .is_some_and(|p| Arc::ptr_eq(p, &r.ancestry[0]));
        if !hit {
            if r.proc
                .as_ref()
                .is_none_or(|p| !Arc::ptr_eq(p, &r.ancestry[0]))
            {
                return;
            }
            self.entries[i] = Some(ProcEntry {
                ancestry: r.ancestry.clone(),
                pproc: r.pproc.clone(),
                container: r.container.clone(),
                pod: r.pod.clone(),
                state: vec![0; slots].into(),
            });
        }
        self.cur = Some(i);
    }
}

impl Scratch {
    /// Starts a new record: forgets every per-record result (O(1) but every 2^31 records)
    /// and finds the record's process context in the per-process cache.
    #[inline]
    pub fn next_record(&mut self, r: &FlatRecord, memo_slots: usize, proc_slots: usize) {
        self.procs.enter(r, proc_slots);
        if self.memo.len() < memo_slots {
            self.memo.resize(memo_slots, 0);
        }
        self.gen = self.gen.wrapping_add(1) & 0x7fff_ffff;
        if self.gen == 0 {
            self.memo.iter_mut().for_each(|m| *m = 0);
            self.gen = 1;
        }
    }
}

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
}

impl FieldRef {
    pub fn new(field: Field) -> Self {
        let render = field.needs_scratch();
        FieldRef {
            field,
            render,
            custom: None,
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
        }
    }

    /// Reads the value (the catalogue path costs one branch, as before custom fields).
    #[inline]
    pub fn get<'s>(&self, r: &'s FlatRecord, scratch: &'s mut String) -> Value<'s> {
        if self.render {
            match self.custom {
                Some(g) => g(r, scratch),
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
    Num(NumOp, i64),
    /// Small `in` lists are scanned; large ones hashed.
    InList(Box<[Box<str>]>),
    InSet(StrSet),
    /// Substring match of any item (the original's `pmatch`).
    Pmatch(AhoCorasick),
    Exists,
    /// Sigma's string tests: case-insensitive by default, wildcards, value lists.
    Text(crate::text::TextTest),
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
                    Test::Glob(_) | Test::Pmatch(_) => 6,
                    Test::Text(t) => t.cost(),
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
                match t {
                    Test::Text(x) => x.test(&v, &mut s.b),
                    _ => test(&v, t),
                }
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
        )
}

/// All ancestors of the process (not one indexed ancestor): a test runs once per ancestor.
fn is_ancestry(f: &FieldRef) -> bool {
    f.custom.is_none()
        && f.field.index.is_none()
        && matches!(
            f.field.attr,
            Attr::ProcAName | Attr::ProcAExe | Attr::ProcACmdline | Attr::ProcAPid
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
        Test::Exists => v.is_set(),
        // Outside `Cond::eval` (no scratch): a command line renders into a fresh string.
        Test::Text(x) => x.test(v, &mut String::new()),
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

/// Whether `a + sep + b` starts with `l`, without concatenating.
fn concat_starts_with(a: &str, sep: &str, b: &str, l: &str) -> bool {
    let mut rest = l.as_bytes();
    for part in [a.as_bytes(), sep.as_bytes(), b.as_bytes()] {
        let n = part.len().min(rest.len());
        if part[..n] != rest[..n] {
            return false;
        }
        rest = &rest[n..];
        if rest.is_empty() {
            return true;
        }
    }
    rest.is_empty()
}

/// Whether `a + sep + b` contains `l`, without concatenating: in a piece, or across a joint
/// (a window of at most `2 * len(l)` bytes around the separator).
fn concat_contains(a: &str, sep: &str, b: &str, l: &str) -> bool {
    if a.contains(l) || b.contains(l) || sep.contains(l) {
        return true;
    }
    let n = l.len();
    if n < 2 {
        return false;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut buf = [0u8; 256];
    let tail = &a[a.len().saturating_sub(n - 1)..];
    let head = &b[..b.len().min(n - 1)];
    let len = tail.len() + sep.len() + head.len();
    let joint: Vec<u8>;
    let w: &[u8] = if len <= buf.len() {
        buf[..tail.len()].copy_from_slice(tail);
        buf[tail.len()..tail.len() + sep.len()].copy_from_slice(sep.as_bytes());
        buf[tail.len() + sep.len()..len].copy_from_slice(head);
        &buf[..len]
    } else {
        joint = [tail, sep.as_bytes(), head].concat();
        &joint
    };
    w.windows(n).any(|x| x == l.as_bytes())
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

/// Case-insensitive (ASCII) substring test against an already lower-cased needle.
#[inline]
pub fn icontains(hay: &str, lower_needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), lower_needle.as_bytes());
    if n.is_empty() {
        return true;
    }
    if n.len() > h.len() {
        return false;
    }
    let first = n[0];
    (0..=h.len() - n.len()).any(|i| {
        h[i].to_ascii_lowercase() == first
            && h[i..i + n.len()]
                .iter()
                .zip(n)
                .all(|(a, b)| a.to_ascii_lowercase() == *b)
    })
}

fn icontains_both(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.len() > h.len() {
        return n.is_empty();
    }
    (0..=h.len() - n.len()).any(|i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// Shell-style glob: `*` any run (also across `/`), `?` one byte, `[abc]`/`[a-z]`/`[!a]`
/// classes, `\x` a literal x. Iterative with one backtrack point: no allocation.
pub fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() {
            match p[pi] {
                b'*' => {
                    star = Some((pi, si));
                    pi += 1;
                    continue;
                }
                b'?' => {
                    pi += 1;
                    si += 1;
                    continue;
                }
                b'[' => {
                    if let Some((ok, next)) = class(p, pi, s[si]) {
                        if ok {
                            pi = next;
                            si += 1;
                            continue;
                        }
                    } else if s[si] == b'[' {
                        pi += 1;
                        si += 1;
                        continue;
                    }
                }
                b'\\' if pi + 1 < p.len() => {
                    if p[pi + 1] == s[si] {
                        pi += 2;
                        si += 1;
                        continue;
                    }
                }
                c => {
                    if c == s[si] {
                        pi += 1;
                        si += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, ss)) => {
                pi = sp + 1;
                si = ss + 1;
                star = Some((sp, ss + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Matches `c` against the class starting at `p[start] == b'['`; returns (matched, index
/// after the class), or None if the class is not closed.
fn class(p: &[u8], start: usize, c: u8) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let neg = matches!(p.get(i), Some(b'!' | b'^'));
    if neg {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == b']' && !first {
            return Some((hit != neg, i + 1));
        }
        first = false;
        if i + 2 < p.len() && p[i + 1] == b'-' && p[i + 2] != b']' {
            hit |= p[i] <= c && c <= p[i + 2];
            i += 3;
        } else {
            hit |= p[i] == c;
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_basics() {
        assert!(glob(b"/etc/*", b"/etc/passwd"));
        assert!(glob(b"/etc/*", b"/etc/a/b"));
        assert!(!glob(b"/etc/*", b"/usr/etc/x"));
        assert!(glob(b"*.sh", b"x.sh"));
        assert!(glob(b"ba?h", b"bash"));
        assert!(glob(b"[bc]ash", b"cash"));
        assert!(!glob(b"[!bc]ash", b"cash"));
        assert!(glob(b"[a-c]x", b"bx"));
        assert!(glob(b"", b""));
        assert!(!glob(b"", b"a"));
        assert!(glob(b"a\\*", b"a*"));
        assert!(!glob(b"a\\*", b"ab"));
    }

    #[test]
    fn icontains_ascii() {
        assert!(icontains("/USR/bin/Python3", "/usr/bin/python"));
        assert!(!icontains("/usr/bin", "/usr/bin/python"));
        assert!(icontains("x", ""));
    }
}
