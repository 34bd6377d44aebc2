//! Compiled conditions and their evaluation. Nothing here allocates per record: field
//! values borrow from the record, parts render on the stack ([`Value::any_part`]), and the
//! one scratch string per worker serves json-path fields.

use std::collections::HashSet;

use aho_corasick::AhoCorasick;
use sysflow_model::flat::{Field, FlatRecord, Value};

/// Per-worker scratch space for fields that render (json paths).
#[derive(Debug, Default)]
pub struct Scratch {
    a: String,
    b: String,
}

/// A field resolved at compile time.
#[derive(Debug, Clone)]
pub struct FieldRef {
    pub field: Field,
    /// Needs rendering into scratch ([`FlatRecord::get_into`]).
    pub render: bool,
}

impl FieldRef {
    pub fn new(field: Field) -> Self {
        let render = field.needs_scratch();
        FieldRef { field, render }
    }
    #[inline]
    fn get<'s>(&self, r: &'s FlatRecord, scratch: &'s mut String) -> Value<'s> {
        if self.render {
            r.get_into(&self.field, scratch)
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
    InSet(HashSet<Box<str>>),
    /// Substring match of any item (the original's `pmatch`).
    Pmatch(AhoCorasick),
    Exists,
    /// `sf.opflags = NAME` as a bit test; `spelt` keeps the READ/RECV spelling exact.
    OpBit(u32),
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
    And(Box<[Cond]>),
    Or(Box<[Cond]>),
    Not(Box<Cond>),
    Test(FieldRef, Test),
    Pair(FieldRef, PairOp, FieldRef),
}

impl Cond {
    /// Evaluates the condition on a record.
    pub fn eval(&self, r: &FlatRecord, s: &mut Scratch) -> bool {
        match self {
            Cond::Const(b) => *b,
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
        Test::Contains(l) => v.any_part(|p| p.contains(&**l)),
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
        Test::OpBit(bit) => match *v {
            Value::OpFlags(f, _) => f.0 & bit != 0,
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
