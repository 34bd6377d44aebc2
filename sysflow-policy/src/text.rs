//! String tests with Sigma's semantics: ASCII case-insensitive by default (`fold`), or exact
//! (Sigma's `cased`), with `*`/`?` wildcards, lists of values, and presence tests. One
//! [`crate::eval::Test::Text`] variant holds them. Evaluation does not allocate: a command line
//! (`exe + " " + args`) is rendered into the worker's scratch string, reused across records.

use aho_corasick::AhoCorasick;
use sysflow_model::flat::Value;

/// A literal, lower-cased at compile time when the test folds case, with its integer form
/// (an integer attribute equals `1234` numerically).
#[derive(Debug, Clone)]
pub struct TextLit {
    pub s: Box<str>,
    pub int: Option<i64>,
}

impl TextLit {
    pub fn new(s: &str, fold: bool) -> Self {
        TextLit {
            s: if fold {
                s.to_ascii_lowercase().into()
            } else {
                s.into()
            },
            int: s.trim().parse().ok(),
        }
    }
}

/// One piece of a wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WildPart {
    /// Literal text (lower-cased when folding).
    Lit(Box<str>),
    /// `*`: any run of characters, also empty.
    Star,
    /// `?`: exactly one character.
    One,
}

/// What a value must be.
#[derive(Debug, Clone)]
pub enum TextMatch {
    Eq(TextLit),
    /// Equal to one of the literals.
    In(Box<[TextLit]>),
    Prefix(Box<str>),
    Suffix(Box<str>),
    Contains(Box<str>),
    /// Starts with one of the literals.
    AnyPrefix(Box<[Box<str>]>),
    /// Ends with one of the literals.
    AnySuffix(Box<[Box<str>]>),
    /// Contains one of the literals (one automaton, case-insensitive when folding).
    AnyContains(AhoCorasick),
    /// A wildcard pattern over the whole value.
    Wild(Box<[WildPart]>),
    /// The attribute has a value: the entity is there and a string is not empty.
    Present,
    /// The opposite of [`TextMatch::Present`] (Sigma's `null`).
    Null,
}

/// A string test; `fold`: ASCII case-insensitive (literals are lower-cased already).
#[derive(Debug, Clone)]
pub struct TextTest {
    pub fold: bool,
    pub m: TextMatch,
}

impl TextTest {
    /// Relative cost for cheap-first ordering (see `Cond::cost`).
    pub fn cost(&self) -> u32 {
        match &self.m {
            TextMatch::Present | TextMatch::Null => 1,
            TextMatch::Eq(_) | TextMatch::Prefix(_) | TextMatch::Suffix(_) => 2,
            TextMatch::In(v) => 2 + v.len() as u32 / 4,
            TextMatch::AnyPrefix(v) | TextMatch::AnySuffix(v) => 2 + v.len() as u32 / 2,
            TextMatch::Contains(_) => 5,
            TextMatch::AnyContains(_) | TextMatch::Wild(_) => 6,
        }
    }

    /// Applies the test: true if any part of a multi-valued attribute passes. `buf` is
    /// scratch space for rendering a command line.
    pub fn test(&self, v: &Value<'_>, buf: &mut String) -> bool {
        match &self.m {
            TextMatch::Present => return present(v),
            TextMatch::Null => return !present(v),
            TextMatch::Eq(l) => {
                if let (Value::Int(i), Some(n)) = (v, l.int) {
                    return *i == n;
                }
            }
            TextMatch::In(ls) => {
                if let Value::Int(i) = v {
                    if ls.iter().any(|l| l.int == Some(*i)) {
                        return true;
                    }
                }
            }
            _ => {}
        }
        match *v {
            Value::Missing => false,
            Value::Str(s) => self.str(s),
            Value::Concat(a, sep, b) => {
                buf.clear();
                buf.push_str(a);
                buf.push_str(sep);
                buf.push_str(b);
                self.str(buf)
            }
            _ => v.any_part(|p| self.str(p)),
        }
    }

    fn str(&self, s: &str) -> bool {
        let f = self.fold;
        match &self.m {
            TextMatch::Eq(l) => eq(s, &l.s, f),
            TextMatch::In(ls) => ls.iter().any(|l| eq(s, &l.s, f)),
            TextMatch::Prefix(l) => prefix(s, l, f),
            TextMatch::Suffix(l) => suffix(s, l, f),
            TextMatch::Contains(l) => contains(s, l, f),
            TextMatch::AnyPrefix(ls) => ls.iter().any(|l| prefix(s, l, f)),
            TextMatch::AnySuffix(ls) => ls.iter().any(|l| suffix(s, l, f)),
            TextMatch::AnyContains(ac) => ac.is_match(s),
            TextMatch::Wild(p) => wild(p, s.as_bytes(), f),
            TextMatch::Present => !s.is_empty(),
            TextMatch::Null => s.is_empty(),
        }
    }
}

fn present(v: &Value<'_>) -> bool {
    match *v {
        Value::Missing => false,
        Value::Str(s) => !s.is_empty(),
        Value::Concat(a, sep, b) => !(a.is_empty() && sep.is_empty() && b.is_empty()),
        Value::Ancestors(_, a) => !a.is_empty(),
        Value::StrList(l) => !l.is_empty(),
        _ => true,
    }
}

#[inline]
fn eq(s: &str, l: &str, fold: bool) -> bool {
    if fold {
        s.len() == l.len() && s.as_bytes().eq_ignore_ascii_case(l.as_bytes())
    } else {
        s == l
    }
}

#[inline]
fn prefix(s: &str, l: &str, fold: bool) -> bool {
    s.len() >= l.len() && eq_bytes(&s.as_bytes()[..l.len()], l.as_bytes(), fold)
}

#[inline]
fn suffix(s: &str, l: &str, fold: bool) -> bool {
    s.len() >= l.len() && eq_bytes(&s.as_bytes()[s.len() - l.len()..], l.as_bytes(), fold)
}

#[inline]
fn eq_bytes(a: &[u8], b: &[u8], fold: bool) -> bool {
    if fold {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

fn contains(s: &str, l: &str, fold: bool) -> bool {
    if fold {
        crate::eval::icontains(s, l)
    } else {
        s.contains(l)
    }
}

/// Length of the UTF-8 character starting with byte `b` (1 for a stray continuation byte).
fn char_len(b: u8) -> usize {
    match b {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

/// Wildcard match of the whole of `s`: `*` any run, `?` one character, literals compared
/// (case-insensitively when `fold`: the pattern is lower-case already). Iterative with one
/// backtrack point, as a glob: no allocation, linear in practice.
pub fn wild(p: &[WildPart], s: &[u8], fold: bool) -> bool {
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() {
            match &p[pi] {
                WildPart::Star => {
                    star = Some((pi, si));
                    pi += 1;
                    continue;
                }
                WildPart::One if si < s.len() => {
                    si += char_len(s[si]).min(s.len() - si);
                    pi += 1;
                    continue;
                }
                WildPart::Lit(l) => {
                    let l = l.as_bytes();
                    if s.len() - si >= l.len() && eq_bytes(&s[si..si + l.len()], l, fold) {
                        si += l.len();
                        pi += 1;
                        continue;
                    }
                }
                WildPart::One => {}
            }
        } else if si == s.len() {
            return true;
        }
        // Mismatch: let the last `*` swallow one more character, or fail.
        match star {
            Some((sp, ss)) if ss < s.len() => {
                let next = ss + char_len(s[ss]).min(s.len() - ss);
                star = Some((sp, next));
                pi = sp + 1;
                si = next;
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(parts: &[&str]) -> Vec<WildPart> {
        parts
            .iter()
            .map(|p| match *p {
                "*" => WildPart::Star,
                "?" => WildPart::One,
                l => WildPart::Lit(l.into()),
            })
            .collect()
    }

    #[test]
    fn wildcards() {
        assert!(wild(
            &w(&["/usr/", "*", "/bash"]),
            b"/usr/local/bin/bash",
            false
        ));
        assert!(wild(&w(&["/usr/", "*", "/bash"]), b"/USR/bin/BASH", true));
        assert!(!wild(&w(&["/usr/", "*", "/bash"]), b"/USR/bin/BASH", false));
        assert!(wild(&w(&["a", "?", "c"]), "aéc".as_bytes(), false));
        assert!(!wild(&w(&["a", "?", "c"]), b"ac", false));
        assert!(wild(&w(&["*"]), b"", false));
        assert!(wild(&w(&["*", "ab", "*", "ab"]), b"xxabyyabab", false));
        assert!(!wild(&w(&["*", "ab", "*", "ab"]), b"xxabyyaba", false));
        assert!(wild(&[], b"", false));
        assert!(!wild(&[], b"x", false));
    }

    #[test]
    fn folded_tests() {
        let t = |m| TextTest { fold: true, m };
        let mut buf = String::new();
        let e = t(TextMatch::Eq(TextLit::new("/Bin/Sh", true)));
        assert!(e.test(&Value::Str("/bin/SH"), &mut buf));
        assert!(!e.test(&Value::Str("/bin/sh2"), &mut buf));
        assert!(!e.test(&Value::Missing, &mut buf));
        let n = t(TextMatch::Eq(TextLit::new("0", true)));
        assert!(n.test(&Value::Int(0), &mut buf));
        let c = t(TextMatch::Suffix("-d".into()));
        assert!(c.test(&Value::Concat("/usr/bin/base64", " ", "x -D"), &mut buf));
        assert!(t(TextMatch::Null).test(&Value::Missing, &mut buf));
        assert!(t(TextMatch::Null).test(&Value::Str(""), &mut buf));
        assert!(!t(TextMatch::Present).test(&Value::Str(""), &mut buf));
        assert!(t(TextMatch::Present).test(&Value::Int(0), &mut buf));
    }
}
