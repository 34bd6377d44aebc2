//! String helpers of the tests: case-insensitive search, shell globs, and comparisons of
//! `exe + " " + args` command lines without concatenating them.

/// Whether `a + sep + b` starts with `l`, without concatenating.
pub(super) fn concat_starts_with(a: &str, sep: &str, b: &str, l: &str) -> bool {
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
pub(super) fn concat_contains(a: &str, sep: &str, b: &str, l: &str) -> bool {
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

pub(super) fn icontains_both(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.len() > h.len() {
        return n.is_empty();
    }
    (0..=h.len() - n.len()).any(|i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// Shell-style glob: `*` any run (also across `/`), `?` one byte, `[abc]`/`[a-z]`/`[!a]`
/// classes, `\x` a literal x. Iterative with one backtrack point: no allocation.
pub fn glob(p: &[u8], s: &[u8]) -> bool {
    glob_with(p, s, false)
}

/// [`glob`] ignoring ASCII case: `p` must be lower-cased (the compiler does it once).
pub fn iglob(lower_p: &[u8], s: &[u8]) -> bool {
    glob_with(lower_p, s, true)
}

fn glob_with(p: &[u8], s: &[u8], fold: bool) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        let c = if fold {
            s[si].to_ascii_lowercase()
        } else {
            s[si]
        };
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
                    if let Some((ok, next)) = class(p, pi, c) {
                        if ok {
                            pi = next;
                            si += 1;
                            continue;
                        }
                    } else if c == b'[' {
                        pi += 1;
                        si += 1;
                        continue;
                    }
                }
                b'\\' if pi + 1 < p.len() => {
                    if p[pi + 1] == c {
                        pi += 2;
                        si += 1;
                        continue;
                    }
                }
                pc => {
                    if pc == c {
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
        assert!(iglob(b"/etc/*.conf", b"/ETC/X.Conf"));
        assert!(!glob(b"/etc/*.conf", b"/ETC/X.Conf"));
    }

    #[test]
    fn icontains_ascii() {
        assert!(icontains("/USR/bin/Python3", "/usr/bin/python"));
        assert!(!icontains("/usr/bin", "/usr/bin/python"));
        assert!(icontains("x", ""));
    }
}
