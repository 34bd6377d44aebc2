//! Minimal JSON writing into a reused byte buffer, escaping strings as Go's encoder does
//! (HTML-safe: `<`, `>`, `&`, U+2028 and U+2029 as `\uXXXX`), so output matches the original.

use sysflow_model::flat::Value;

/// Appends `s` escaped, without the surrounding quotes.
pub fn escape_into(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let esc: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0..=0x1f | b'<' | b'>' | b'&' => Some(b""),
            // U+2028 / U+2029 are E2 80 A8 / E2 80 A9.
            0xe2 if i + 2 < bytes.len()
                && bytes[i + 1] == 0x80
                && (bytes[i + 2] & 0xfe) == 0xa8 =>
            {
                Some(b"")
            }
            _ => None,
        };
        let Some(esc) = esc else {
            i += 1;
            continue;
        };
        out.extend_from_slice(&bytes[start..i]);
        if !esc.is_empty() {
            out.extend_from_slice(esc);
            i += 1;
        } else if b == 0xe2 {
            out.extend_from_slice(if bytes[i + 2] == 0xa8 {
                b"\\u2028"
            } else {
                b"\\u2029"
            });
            i += 3;
        } else {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 15) as usize]);
            i += 1;
        }
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Appends `"s"`.
pub fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    escape_into(out, s);
    out.push(b'"');
}

/// Appends `"key":`.
pub fn key(out: &mut Vec<u8>, k: &str) {
    string(out, k);
    out.push(b':');
}

pub fn int(out: &mut Vec<u8>, v: i64) {
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(v).as_bytes());
}

pub fn boolean(out: &mut Vec<u8>, v: bool) {
    out.extend_from_slice(if v { b"true" } else { b"false" });
}

/// Appends a value as one JSON string (list parts joined with ",").
pub fn value_string(out: &mut Vec<u8>, v: &Value<'_>) {
    out.push(b'"');
    match *v {
        Value::Str(s) => escape_into(out, s),
        Value::Concat(a, sep, b) => {
            escape_into(out, a);
            escape_into(out, sep);
            escape_into(out, b);
        }
        _ => {
            let mut first = true;
            v.any_part(|p| {
                if !first {
                    out.push(b',');
                }
                first = false;
                escape_into(out, p);
                false
            });
        }
    }
    out.push(b'"');
}

/// Appends a value as a JSON array of strings, or of numbers when `numeric`.
pub fn value_array(out: &mut Vec<u8>, v: &Value<'_>, numeric: bool) {
    out.push(b'[');
    let mut first = true;
    v.any_part(|p| {
        if !first {
            out.push(b',');
        }
        first = false;
        if numeric && p.parse::<i64>().is_ok() {
            out.extend_from_slice(p.as_bytes());
        } else {
            string(out, p);
        }
        false
    });
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_go() {
        let mut o = Vec::new();
        string(&mut o, "<NA> & \"q\"\\\n\u{1}\u{2028}é");
        assert_eq!(
            String::from_utf8(o).unwrap(),
            r#""\u003cNA\u003e \u0026 \"q\"\\\n\u0001\u2028é""#
        );
    }
}
