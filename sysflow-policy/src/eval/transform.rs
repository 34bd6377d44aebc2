//! Falco's field transformers (`tolower`, `toupper`, `b64`, `basename`, `len`): the value is
//! rendered into the worker's scratch string and transformed there, in place.

use sysflow_model::flat::{basename, Value};

use crate::ast::Xf;

/// Renders `v` into `scratch` and applies the transformers, innermost first. A missing
/// value stays missing (Falco: a field without a value fails every comparison).
pub fn apply<'s>(v: Value<'_>, xf: &[Xf], scratch: &'s mut String) -> Value<'s> {
    if matches!(v, Value::Missing) {
        return Value::Missing;
    }
    scratch.clear();
    v.write_str(scratch);
    for (i, x) in xf.iter().enumerate() {
        match x {
            Xf::ToLower => scratch.make_ascii_lowercase(),
            Xf::ToUpper => scratch.make_ascii_uppercase(),
            Xf::Basename => {
                let (start, len) = {
                    let b = basename(scratch);
                    (b.as_ptr() as usize - scratch.as_ptr() as usize, b.len())
                };
                scratch.truncate(start + len);
                scratch.drain(..start);
            }
            Xf::B64 => {
                if let Some(d) = b64_decode(scratch.as_bytes()) {
                    *scratch = String::from_utf8_lossy(&d).into_owned();
                }
            }
            Xf::Len => {
                let n = scratch.len() as i64;
                // Any transformer after `len` sees the number as text.
                if i + 1 == xf.len() {
                    return Value::Int(n);
                }
                scratch.clear();
                scratch.push_str(&n.to_string());
            }
        }
    }
    Value::Str(scratch.as_str())
}

/// Standard base64 (padding optional); `None` when the text is not base64. Rare (only
/// rules with `b64(...)` call it), so it may allocate.
fn b64_decode(s: &[u8]) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let body = s
        .strip_suffix(b"==")
        .or_else(|| s.strip_suffix(b"="))
        .unwrap_or(s);
    if body.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    for chunk in body.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= val(*c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(v: Value<'_>, xf: &[Xf]) -> String {
        let mut s = String::new();
        apply(v, xf, &mut s).to_string()
    }

    #[test]
    fn transformers_compose_innermost_first() {
        assert_eq!(
            run(Value::Str("/Usr/Bin/Bash"), &[Xf::ToLower]),
            "/usr/bin/bash"
        );
        assert_eq!(
            run(Value::Str("/usr/bin/bash"), &[Xf::Basename, Xf::ToUpper]),
            "BASH"
        );
        assert_eq!(
            run(Value::Str("/usr/bin/bash"), &[Xf::Basename, Xf::Len]),
            "4"
        );
        assert_eq!(
            run(Value::Str("aGVsbG8gd29ybGQ="), &[Xf::B64]),
            "hello world"
        );
        assert_eq!(run(Value::Str("aGk"), &[Xf::B64]), "hi");
        // Not base64: left as it is.
        assert_eq!(run(Value::Str("not base64!"), &[Xf::B64]), "not base64!");
        assert_eq!(run(Value::Int(42), &[Xf::Len]), "2");
        assert!(matches!(
            apply(Value::Missing, &[Xf::ToLower], &mut String::new()),
            Value::Missing
        ));
    }
}
