//! Minimal JSON writing into a reused byte buffer, escaping strings as Go's encoder does
//! (HTML-safe: `<`, `>`, `&`, U+2028 and U+2029 as `\uXXXX`), so output matches the original;
//! and [`plain_string`], escaping as serde_json does (the ECS encoder's).

use sysflow_model::flat::Value;

/// What a byte needs: 0 nothing, 1 a short escape (`\"`, `\\`, `\n`, `\r`, `\t`), 2 `\u00XX`,
/// 3 a look at the next two bytes (U+2028 / U+2029 start with E2).
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = 2;
        b += 1;
    }
    t[b'"' as usize] = 1;
    t[b'\\' as usize] = 1;
    t[b'\n' as usize] = 1;
    t[b'\r' as usize] = 1;
    t[b'\t' as usize] = 1;
    t[b'<' as usize] = 2;
    t[b'>' as usize] = 2;
    t[b'&' as usize] = 2;
    t[0xe2] = 3;
    t
};

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Word tests of "Bit Twiddling Hacks" (`haszero`, `hasless`): non-zero when some byte of
/// `x` equals `c`.
#[inline]
pub fn has_byte(x: u64, c: u8) -> u64 {
    let v = x ^ (LO * c as u64);
    v.wrapping_sub(LO) & !v & HI
}

/// Non-zero when some byte of `x` is below `n` (`n` at most 128).
#[inline]
pub fn has_below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(LO * n as u64) & !x & HI
}

/// Non-zero when some byte of `x` is 0x80 or above.
#[inline]
pub fn has_high(x: u64) -> u64 {
    x & HI
}

/// The index of the first byte at or after `i` that `dirty` marks (the length if none),
/// skipping 8 bytes at a time the words that `word_dirty` clears. `word_dirty` must hold for
/// every word with a dirty byte (it may hold for others too), so clean text costs a word test
/// per 8 bytes.
#[inline(always)]
pub fn next_dirty(
    b: &[u8],
    mut i: usize,
    word_dirty: impl Fn(u64) -> bool,
    dirty: impl Fn(u8) -> bool,
) -> usize {
    loop {
        while let Some(w) = b.get(i..i + 8) {
            let mut a = [0u8; 8];
            a.copy_from_slice(w);
            if word_dirty(u64::from_le_bytes(a)) {
                break;
            }
            i += 8;
        }
        let stop = (i + 8).min(b.len());
        while i < stop {
            if dirty(b[i]) {
                return i;
            }
            i += 1;
        }
        if i >= b.len() {
            return i;
        }
    }
}

/// Whether any of the 8 bytes of `x` may need escaping (exact: no false negatives, and a
/// false positive only for E2 not followed by 80 A8/A9).
#[inline]
fn chunk_suspect(x: u64) -> bool {
    (has_below(x, 0x20)
        | has_byte(x, b'"')
        | has_byte(x, b'\\')
        | has_byte(x, b'<')
        | has_byte(x, b'>')
        | has_byte(x, b'&')
        | has_byte(x, 0xe2))
        != 0
}

/// Appends `s` escaped, without the surrounding quotes.
pub fn escape_into(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    loop {
        i = next_dirty(bytes, i, chunk_suspect, |b| CLASS[b as usize] != 0);
        if i >= bytes.len() {
            break;
        }
        let b = bytes[i];
        match CLASS[b as usize] {
            3 => {
                // U+2028 / U+2029 are E2 80 A8 / E2 80 A9; other E2 sequences pass.
                if i + 2 < bytes.len() && bytes[i + 1] == 0x80 && (bytes[i + 2] & 0xfe) == 0xa8 {
                    out.extend_from_slice(&bytes[start..i]);
                    out.extend_from_slice(if bytes[i + 2] == 0xa8 {
                        b"\\u2028"
                    } else {
                        b"\\u2029"
                    });
                    i += 3;
                    start = i;
                } else {
                    i += 1;
                }
            }
            1 => {
                out.extend_from_slice(&bytes[start..i]);
                out.push(b'\\');
                out.push(match b {
                    b'\n' => b'n',
                    b'\r' => b'r',
                    b'\t' => b't',
                    other => other,
                });
                i += 1;
                start = i;
            }
            _ => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 15) as usize]);
                i += 1;
                start = i;
            }
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Appends `s` escaped as serde_json escapes it (no HTML escaping): `"`, `\\`, and control
/// characters (`\b \f \n \r \t`, others as `\u00xx`), without the surrounding quotes.
pub fn escape_plain_into(out: &mut Vec<u8>, s: &str) {
    let word = |x: u64| (has_below(x, 0x20) | has_byte(x, b'"') | has_byte(x, b'\\')) != 0;
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    loop {
        i = next_dirty(bytes, i, word, |b| b < 0x20 || b == b'"' || b == b'\\');
        if i >= bytes.len() {
            break;
        }
        let b = bytes[i];
        out.extend_from_slice(&bytes[start..i]);
        match short_escape(b) {
            Some(e) => out.extend_from_slice(e),
            None => u00(out, b),
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// The two-byte escape JSON has for `b`, if any (`\" \\ \b \f \n \r \t`).
#[inline]
pub fn short_escape(b: u8) -> Option<&'static [u8; 2]> {
    Some(match b {
        b'"' => b"\\\"",
        b'\\' => b"\\\\",
        0x08 => b"\\b",
        0x0c => b"\\f",
        b'\n' => b"\\n",
        b'\r' => b"\\r",
        b'\t' => b"\\t",
        _ => return None,
    })
}

/// Appends `\u00xx` (lower-case hex) for a byte below 0x80.
#[inline]
pub fn u00(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"\\u00");
    out.push(HEX[(b >> 4) as usize]);
    out.push(HEX[(b & 15) as usize]);
}

/// Appends `"s"` escaped as serde_json escapes it.
pub fn plain_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    escape_plain_into(out, s);
    out.push(b'"');
}

/// Appends `"s"`.
pub fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    escape_into(out, s);
    out.push(b'"');
}

/// Appends `"key":`. Keys are the exporters' own attribute names, which never need
/// escaping, so they are copied as they are.
pub fn key(out: &mut Vec<u8>, k: &str) {
    debug_assert!(k.bytes().all(|b| CLASS[b as usize] == 0), "key {k:?}");
    out.push(b'"');
    out.extend_from_slice(k.as_bytes());
    out.extend_from_slice(b"\":");
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

    /// The serde-style escape is serde_json's, for every byte value at every position.
    #[test]
    fn plain_escape_is_serde_jsons() {
        let mut specials: Vec<String> = (0u8..0x80).map(|b| (b as char).to_string()).collect();
        specials.extend(["é", "\u{2028}", "<>&", "😀"].map(String::from));
        for sp in &specials {
            for pos in 0..18 {
                for tail in [0, 1, 9] {
                    let s = format!("{}{sp}{}", "x".repeat(pos), "y".repeat(tail));
                    let mut o = Vec::new();
                    plain_string(&mut o, &s);
                    assert_eq!(
                        String::from_utf8(o).unwrap(),
                        serde_json::to_string(&s).unwrap()
                    );
                }
            }
        }
    }

    /// The word-at-a-time scan agrees with a byte-by-byte reference on every byte value at
    /// every position of a word, and on strings cut in the middle of an E2 sequence.
    #[test]
    fn fast_scan_matches_reference() {
        fn reference(s: &str) -> String {
            let mut o = String::new();
            for c in s.chars() {
                match c {
                    '"' => o.push_str("\\\""),
                    '\\' => o.push_str("\\\\"),
                    '\n' => o.push_str("\\n"),
                    '\r' => o.push_str("\\r"),
                    '\t' => o.push_str("\\t"),
                    c if (c as u32) < 0x20 || c == '<' || c == '>' || c == '&' => {
                        o.push_str(&format!("\\u{:04x}", c as u32))
                    }
                    '\u{2028}' => o.push_str("\\u2028"),
                    '\u{2029}' => o.push_str("\\u2029"),
                    c => o.push(c),
                }
            }
            o
        }
        let specials = [
            "\"", "\\", "\n", "\r", "\t", "\u{0}", "\u{1f}", "<", ">", "&", "\u{2028}", "\u{2029}",
            "\u{2027}", "\u{202a}", "é", "\u{7f}", " ", "~",
        ];
        for sp in specials {
            for pos in 0..20 {
                for len in [pos, pos + 1, pos + 9, 24] {
                    let mut s = "x".repeat(pos);
                    s.push_str(sp);
                    s.push_str(&"y".repeat(len.saturating_sub(pos)));
                    let mut o = Vec::new();
                    escape_into(&mut o, &s);
                    assert_eq!(String::from_utf8(o).unwrap(), reference(&s), "{s:?}");
                }
            }
        }
    }
}
