//! Attribute values that borrow from a [`super::FlatRecord`] and render lazily.
//!
//! Hot path: nothing here allocates. Multi-valued attributes (`sf.opflags`, `sf.proc.aname`,
//! `sf.net.ip`, …) are iterated part by part, which is what the processor's comma-split
//! comparison semantics need; numbers and addresses are rendered into stack buffers.

use std::sync::Arc;

use crate::flags::{OpFlags, OpenFlags};
use crate::record::{Foid, Process, RecordType};

/// Which field of each ancestor a list attribute yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ancestor {
    /// basename of exe
    Name,
    Exe,
    /// "exe args", no trailing space when args are empty
    Cmdline,
    /// host pid
    Pid,
}

/// A value of one attribute of one flat record.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    /// The entity the attribute comes from is not there (unknown process, file, …) or the
    /// attribute does not apply to this record type. Renders as "" and compares as missing.
    Missing,
    Int(i64),
    Bool(bool),
    Str(&'a str),
    /// `a + sep + b` without allocating (command lines: exe, " ", args).
    Concat(&'a str, &'static str, &'a str),
    /// IPv4 as stored by SysFlow: network-order bytes read as a little-endian i32.
    Ipv4(i32),
    /// Two IPv4 addresses (`sf.net.ip`).
    Ipv4Pair(i32, i32),
    /// Two ports (`sf.net.port`).
    IntPair(i64, i64),
    /// Operation flag names, spelt for the record type.
    OpFlags(OpFlags, RecordType),
    OpenFlags(OpenFlags),
    /// FOID as 40 lower-case hex characters.
    Foid(&'a Foid),
    /// 64-bit hash as 16 lower-case hex characters (`sf.proc.oid`).
    Hash64(u64),
    /// A one-character string from a character code (`sf.file.type`).
    Char(char),
    /// One field of every process of an ancestry (self first).
    Ancestors(Ancestor, &'a [Arc<Process>]),
    /// A list of strings (`sf.proc.env`).
    StrList(&'a [String]),
}

/// Stack buffer for rendering one scalar part.
pub(crate) struct PartBuf {
    buf: [u8; 48],
    len: usize,
}

impl PartBuf {
    fn new() -> Self {
        PartBuf {
            buf: [0; 48],
            len: 0,
        }
    }
    fn as_str(&self) -> &str {
        // Only ASCII is ever written into the buffer.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
    fn int(v: i64) -> Self {
        let mut b = PartBuf::new();
        let (d, n) = itoa_buf(v);
        b.len = n;
        b.buf[..n].copy_from_slice(&d[..n]);
        b
    }
    fn ipv4(v: i32) -> Self {
        let mut b = PartBuf::new();
        let bytes = v.to_le_bytes();
        for (i, o) in bytes.iter().enumerate() {
            if i > 0 {
                b.buf[b.len] = b'.';
                b.len += 1;
            }
            let (d, n) = itoa_buf(*o as i64);
            b.buf[b.len..b.len + n].copy_from_slice(&d[..n]);
            b.len += n;
        }
        b
    }
    fn hex(bytes: &[u8]) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut b = PartBuf::new();
        for x in bytes.iter().take(24) {
            b.buf[b.len] = HEX[(x >> 4) as usize];
            b.buf[b.len + 1] = HEX[(x & 15) as usize];
            b.len += 2;
        }
        b
    }
}

fn itoa_buf(v: i64) -> ([u8; 20], usize) {
    let mut out = [0u8; 20];
    let neg = v < 0;
    let mut u = v.unsigned_abs();
    let mut tmp = [0u8; 20];
    let mut n = 0;
    loop {
        tmp[n] = b'0' + (u % 10) as u8;
        n += 1;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    let mut len = 0;
    if neg {
        out[0] = b'-';
        len = 1;
    }
    for i in (0..n).rev() {
        out[len] = tmp[i];
        len += 1;
    }
    (out, len)
}

/// Basename of a trimmed path, "" when empty (Go's `filepath.Base("")` would give ".").
pub(crate) fn name_of(path: &str) -> &str {
    let p = path.trim();
    if p.is_empty() {
        ""
    } else {
        basename(p)
    }
}

/// Basename as Go's `filepath.Base` computes it ("" ⇒ ".", trailing slashes ignored).
pub fn basename(p: &str) -> &str {
    if p.is_empty() {
        return ".";
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/";
    }
    match t.rfind('/') {
        Some(i) => &t[i + 1..],
        None => t,
    }
}

impl<'a> Value<'a> {
    /// True when the value is present and not the zero value of its type
    /// (the processor's `exists`).
    pub fn is_set(&self) -> bool {
        match *self {
            Value::Missing => false,
            Value::Int(i) => i != 0,
            Value::Bool(b) => b,
            Value::Str(s) => !s.is_empty(),
            Value::Concat(a, s, b) => !(a.is_empty() && s.is_empty() && b.is_empty()),
            Value::Ipv4(_) | Value::Ipv4Pair(..) | Value::IntPair(..) => true,
            Value::OpFlags(f, _) => f.0 != 0,
            Value::OpenFlags(_) => true,
            Value::Foid(_) | Value::Hash64(_) | Value::Char(_) => true,
            Value::Ancestors(_, a) => !a.is_empty(),
            Value::StrList(l) => !l.is_empty(),
        }
    }

    /// Integer view for `< <= > >=`: ints (and a single int part), else None.
    pub fn as_int(&self) -> Option<i64> {
        match *self {
            Value::Int(i) => Some(i),
            Value::Bool(b) => Some(b as i64),
            Value::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// Calls `f` with every part of the value (one for scalars, one per element for lists,
    /// none for [`Value::Missing`]) until `f` returns true; returns whether it did.
    /// Hot path: renders into stack buffers, never allocates.
    pub fn any_part(&self, mut f: impl FnMut(&str) -> bool) -> bool {
        self.any_part_dyn(&mut f)
    }

    fn any_part_dyn(&self, f: &mut dyn FnMut(&str) -> bool) -> bool {
        match *self {
            Value::Missing => false,
            Value::Int(i) => f(PartBuf::int(i).as_str()),
            Value::Bool(b) => f(if b { "true" } else { "false" }),
            Value::Str(s) => f(s),
            Value::Concat(a, sep, b) => {
                // Rare in comparisons; render on the stack when it fits, else compare piecewise.
                let total = a.len() + sep.len() + b.len();
                if total <= 512 {
                    let mut buf = [0u8; 512];
                    buf[..a.len()].copy_from_slice(a.as_bytes());
                    buf[a.len()..a.len() + sep.len()].copy_from_slice(sep.as_bytes());
                    buf[a.len() + sep.len()..total].copy_from_slice(b.as_bytes());
                    f(std::str::from_utf8(&buf[..total]).unwrap_or(""))
                } else {
                    let s = [a, sep, b].concat();
                    f(&s)
                }
            }
            Value::Ipv4(ip) => f(PartBuf::ipv4(ip).as_str()),
            Value::Ipv4Pair(a, b) => f(PartBuf::ipv4(a).as_str()) || f(PartBuf::ipv4(b).as_str()),
            Value::IntPair(a, b) => f(PartBuf::int(a).as_str()) || f(PartBuf::int(b).as_str()),
            Value::OpFlags(fl, t) => fl.names(t).any(f),
            Value::OpenFlags(fl) => fl.names().any(f),
            Value::Foid(o) => f(PartBuf::hex(&o.0).as_str()),
            Value::Hash64(h) => f(PartBuf::hex(&h.to_be_bytes()).as_str()),
            Value::Char(c) => {
                let mut b = [0u8; 4];
                f(c.encode_utf8(&mut b))
            }
            // exe and args are trimmed at read time (the tables keep raw values).
            Value::Ancestors(kind, procs) => procs.iter().any(|p| match kind {
                Ancestor::Name => f(name_of(&p.exe)),
                Ancestor::Exe => f(p.exe.trim()),
                Ancestor::Pid => f(PartBuf::int(p.oid.hpid).as_str()),
                Ancestor::Cmdline => {
                    let args = p.exe_args.trim();
                    if args.is_empty() {
                        f(p.exe.trim())
                    } else {
                        Value::Concat(p.exe.trim(), " ", args).any_part_dyn(f)
                    }
                }
            }),
            Value::StrList(l) => l.iter().any(|s| f(s)),
        }
    }

    /// Is this a list-valued attribute (JSON array, comma-joined in string form)?
    pub fn is_list(&self) -> bool {
        matches!(
            self,
            Value::Ipv4Pair(..)
                | Value::IntPair(..)
                | Value::OpFlags(..)
                | Value::OpenFlags(_)
                | Value::Ancestors(..)
                | Value::StrList(_)
        )
    }

    /// Writes the string form (list parts joined with ",") into `out`. Not for hot paths
    /// that can use [`Value::any_part`].
    pub fn write_str(&self, out: &mut String) {
        let mut first = true;
        self.any_part(|p| {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(p);
            false
        });
    }
}

impl std::fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        let mut res = Ok(());
        self.any_part(|p| {
            if !first {
                res = f.write_str(",");
            }
            first = false;
            if res.is_ok() {
                res = f.write_str(p);
            }
            res.is_err()
        });
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_parts_without_allocating_numbers_and_ips() {
        assert_eq!(Value::Int(-42).to_string(), "-42");
        assert_eq!(Value::Ipv4(16777343).to_string(), "127.0.0.1");
        assert_eq!(
            Value::Ipv4Pair(16777343, 0).to_string(),
            "127.0.0.1,0.0.0.0"
        );
        assert_eq!(
            Value::Hash64(0xc1e6d285f1e36acb).to_string(),
            "c1e6d285f1e36acb"
        );
        assert_eq!(Value::Concat("./client", " ", "").to_string(), "./client ");
        assert_eq!(Value::Char('f').to_string(), "f");
        assert_eq!(Value::Missing.to_string(), "");
        assert!(!Value::Missing.is_set());
    }

    #[test]
    fn string_lists_are_lists_of_parts() {
        let env = ["A=1".to_string(), "B=2".to_string()];
        let v = Value::StrList(&env);
        assert!(v.is_list() && v.is_set());
        assert_eq!(v.to_string(), "A=1,B=2");
        assert!(v.any_part(|p| p == "B=2"));
        assert!(!Value::StrList(&[]).is_set());
    }

    #[test]
    fn basename_like_go() {
        assert_eq!(basename(""), ".");
        assert_eq!(basename("/usr/bin/bash"), "bash");
        assert_eq!(basename("/"), "/");
        assert_eq!(basename("bash"), "bash");
        assert_eq!(basename("/a/b/"), "b");
    }
}
