//! Sigma string values: wildcards and escapes, and the transformation modifiers that turn one
//! value into others (`contains`/`startswith`/`endswith` add wildcards; `base64`,
//! `base64offset`, `utf16le`/`utf16be`/`utf16`/`wide` re-encode; `windash` expands dashes),
//! following the Sigma specification and pySigma's definitions of each.

use crate::text::WildPart;

/// One piece of a value: literal bytes (bytes, because `wide` and `base64` work on
/// encodings), `*` or `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Lit(Vec<u8>),
    Star,
    One,
}

/// A Sigma string: literal runs and wildcards, adjacent literals merged.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SigmaStr(pub Vec<Part>);

/// What a finished value tests, before case folding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(String),
    Wild(Vec<WildPart>),
}

/// The dash-like characters `windash` makes interchangeable (pySigma's set).
const DASHES: [&str; 5] = ["-", "/", "\u{2013}", "\u{2014}", "\u{2015}"];

/// At most this many values from one value's expansion (windash multiplies by five per dash).
pub const MAX_EXPANSION: usize = 4096;

impl SigmaStr {
    /// Parses a value: `*` and `?` are wildcards; `\*`, `\?` and `\\` stand for the plain
    /// character; any other backslash is itself (Sigma specification, "Escaping").
    pub fn parse(s: &str) -> SigmaStr {
        let mut out = SigmaStr::default();
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.peek() {
                    Some(&n @ ('*' | '?' | '\\')) => {
                        chars.next();
                        out.push_char(n);
                    }
                    _ => out.push_char('\\'),
                },
                '*' => out.0.push(Part::Star),
                '?' => out.0.push(Part::One),
                c => out.push_char(c),
            }
        }
        out
    }

    /// A plain string (no wildcards), as a keyword or an encoded value.
    pub fn plain(s: &[u8]) -> SigmaStr {
        let mut out = SigmaStr::default();
        out.push_bytes(s);
        out
    }

    fn push_char(&mut self, c: char) {
        let mut b = [0u8; 4];
        self.push_bytes(c.encode_utf8(&mut b).as_bytes());
    }

    fn push_bytes(&mut self, b: &[u8]) {
        if let Some(Part::Lit(l)) = self.0.last_mut() {
            l.extend_from_slice(b);
        } else if !b.is_empty() {
            self.0.push(Part::Lit(b.to_vec()));
        }
    }

    /// The literal bytes of a value without wildcards.
    fn bytes(&self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        for p in &self.0 {
            match p {
                Part::Lit(l) => out.extend_from_slice(l),
                _ => return None,
            }
        }
        Some(out)
    }

    /// `contains`: a `*` on each side that lacks one.
    pub fn contains(mut self) -> SigmaStr {
        self = self.starts_with();
        self.ends_with()
    }

    /// `startswith`: a `*` at the end unless there is one.
    pub fn starts_with(mut self) -> SigmaStr {
        if self.0.last() != Some(&Part::Star) {
            self.0.push(Part::Star);
        }
        self
    }

    /// `endswith`: a `*` at the start unless there is one.
    pub fn ends_with(mut self) -> SigmaStr {
        if self.0.first() != Some(&Part::Star) {
            self.0.insert(0, Part::Star);
        }
        self
    }

    /// `base64`: the Base64 encoding of the value (which may have no wildcards).
    pub fn base64(&self) -> Result<SigmaStr, String> {
        let b = self.no_wildcards("base64")?;
        Ok(SigmaStr::plain(base64(&b).as_bytes()))
    }

    /// `base64offset`: the three encodings of the value at offsets 0, 1 and 2 within a
    /// Base64 group, stripped of the characters that depend on its neighbours (pySigma:
    /// `b64encode(i * b' ' + value)[start[i]:end[(len + i) % 3]]`, start 0/2/3,
    /// end none/-3/-2).
    pub fn base64offset(&self) -> Result<Vec<SigmaStr>, String> {
        let b = self.no_wildcards("base64offset")?;
        let start = [0usize, 2, 3];
        let end_cut = [0usize, 3, 2];
        Ok((0..3)
            .map(|i| {
                let mut v = vec![b' '; i];
                v.extend_from_slice(&b);
                let e = base64(&v);
                let cut = end_cut[(b.len() + i) % 3];
                let end = e.len().saturating_sub(cut).max(start[i]);
                SigmaStr::plain(&e.as_bytes()[start[i].min(end)..end])
            })
            .collect())
    }

    fn no_wildcards(&self, m: &str) -> Result<Vec<u8>, String> {
        self.bytes()
            .ok_or_else(|| format!("'{m}' cannot encode a value with wildcards (* or ?)"))
    }

    /// `utf16le`/`wide`, `utf16be`, `utf16` (little-endian with a byte-order mark): the
    /// literal text re-encoded; wildcards stay wildcards.
    pub fn utf16(&self, big_endian: bool, bom: bool) -> Result<SigmaStr, String> {
        let mut out = SigmaStr::default();
        if bom {
            out.push_bytes(&[0xff, 0xfe]);
        }
        for p in &self.0 {
            match p {
                Part::Lit(l) => {
                    let s = std::str::from_utf8(l)
                        .map_err(|_| "'utf16' needs text, not an already encoded value")?;
                    for u in s.encode_utf16() {
                        let b = if big_endian {
                            u.to_be_bytes()
                        } else {
                            u.to_le_bytes()
                        };
                        out.push_bytes(&b);
                    }
                }
                other => out.0.push(other.clone()),
            }
        }
        Ok(out)
    }

    /// `windash`: every `-` or `/` that starts a word after a non-word character (the regex
    /// `\B[-/]\b` on each literal) in each of its five forms: `-`, `/`, en dash, em dash,
    /// horizontal bar; all combinations.
    pub fn windash(&self) -> Result<Vec<SigmaStr>, String> {
        // Pieces: literal text between replaceable dashes, wildcards, and dash slots.
        enum Piece {
            Text(Vec<u8>),
            Other(Part),
            Dash,
        }
        let mut pieces = Vec::new();
        let mut slots = 0usize;
        for p in &self.0 {
            let Part::Lit(l) = p else {
                pieces.push(Piece::Other(p.clone()));
                continue;
            };
            let s = std::str::from_utf8(l)
                .map_err(|_| "'windash' needs text, not an already encoded value")?;
            let chars: Vec<(usize, char)> = s.char_indices().collect();
            let mut from = 0;
            for (k, &(i, c)) in chars.iter().enumerate() {
                let prev_word = k > 0 && is_word(chars[k - 1].1);
                let next_word = chars.get(k + 1).is_some_and(|&(_, n)| is_word(n));
                if (c == '-' || c == '/') && !prev_word && next_word {
                    pieces.push(Piece::Text(s.as_bytes()[from..i].to_vec()));
                    pieces.push(Piece::Dash);
                    slots += 1;
                    from = i + 1;
                }
            }
            pieces.push(Piece::Text(s.as_bytes()[from..].to_vec()));
        }
        let total = (0..slots).try_fold(1usize, |n, _| n.checked_mul(DASHES.len()));
        if total.is_none_or(|n| n > MAX_EXPANSION) {
            return Err(format!(
                "'windash' expands this value into more than {MAX_EXPANSION} values"
            ));
        }
        let mut out = vec![SigmaStr::default()];
        for piece in &pieces {
            match piece {
                Piece::Text(t) => out.iter_mut().for_each(|v| v.push_bytes(t)),
                Piece::Other(p) => out.iter_mut().for_each(|v| v.0.push(p.clone())),
                Piece::Dash => {
                    out = out
                        .into_iter()
                        .flat_map(|v| {
                            DASHES.iter().map(move |d| {
                                let mut v = v.clone();
                                v.push_bytes(d.as_bytes());
                                v
                            })
                        })
                        .collect()
                }
            }
        }
        Ok(out)
    }

    /// The test this value makes, or an error when the value is no longer text (e.g.
    /// `wide` without `base64`, for a non-ASCII value).
    pub fn shape(&self) -> Result<Shape, String> {
        let text = |b: &[u8]| -> Result<String, String> {
            String::from_utf8(b.to_vec())
                .map_err(|_| "the value is not text after its modifiers (add 'base64'?)".into())
        };
        Ok(match self.0.as_slice() {
            [] => Shape::Exact(String::new()),
            [Part::Lit(l)] => Shape::Exact(text(l)?),
            [Part::Lit(l), Part::Star] => Shape::Prefix(text(l)?),
            [Part::Star, Part::Lit(l)] => Shape::Suffix(text(l)?),
            [Part::Star, Part::Lit(l), Part::Star] => Shape::Contains(text(l)?),
            parts => {
                let mut w = Vec::new();
                for p in parts {
                    w.push(match p {
                        Part::Lit(l) => WildPart::Lit(text(l)?.into()),
                        Part::Star if w.last() == Some(&WildPart::Star) => continue,
                        Part::Star => WildPart::Star,
                        Part::One => WildPart::One,
                    });
                }
                Shape::Wild(w)
            }
        })
    }
}

/// Python's `\w` for one character: letters, digits and `_`.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Standard Base64 with padding.
pub fn base64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for k in 0..4 {
            if k <= c.len() {
                out.push(A[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Part {
        Part::Lit(s.as_bytes().to_vec())
    }

    #[test]
    fn escapes_and_wildcards() {
        assert_eq!(
            SigmaStr::parse(r"a*b?c\*d\?e\\f\g"),
            SigmaStr(vec![
                lit("a"),
                Part::Star,
                lit("b"),
                Part::One,
                lit(r"c*d?e\f\g")
            ])
        );
        assert_eq!(
            SigmaStr::parse(r"\\*").0,
            vec![lit("\\"), Part::Star],
            "an escaped backslash before a wildcard"
        );
        assert_eq!(SigmaStr::parse(r"\\\*").0, vec![lit("\\*")]);
        assert_eq!(
            SigmaStr::parse("x").contains().shape().unwrap(),
            Shape::Contains("x".into())
        );
        assert_eq!(
            SigmaStr::parse("*x").contains().shape().unwrap(),
            Shape::Contains("x".into())
        );
        assert_eq!(
            SigmaStr::parse("/tmp/*.sh").shape().unwrap(),
            Shape::Wild(vec![
                WildPart::Lit("/tmp/".into()),
                WildPart::Star,
                WildPart::Lit(".sh".into())
            ])
        );
    }

    #[test]
    fn base64_vectors() {
        // RFC 4648 test vectors.
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
        // pySigma's base64offset of "foobar" (its unit test).
        let v: Vec<_> = SigmaStr::parse("foobar")
            .base64offset()
            .unwrap()
            .into_iter()
            .map(|s| s.shape().unwrap())
            .collect();
        assert_eq!(
            v,
            ["Zm9vYmFy", "Zvb2Jhc", "mb29iYX"].map(|s| Shape::Exact(s.into()))
        );
        assert!(SigmaStr::parse("a*").base64().is_err());
    }

    #[test]
    fn windash_expands_word_starting_dashes() {
        let v = SigmaStr::parse("-param-1 /x").windash().unwrap();
        assert_eq!(v.len(), 25);
        let texts: Vec<String> = v
            .iter()
            .map(|s| match s.shape().unwrap() {
                Shape::Exact(t) => t,
                o => panic!("{o:?}"),
            })
            .collect();
        assert!(texts.contains(&"-param-1 /x".to_string()));
        assert!(texts.contains(&"/param-1 -x".to_string()));
        assert!(texts.contains(&"\u{2013}param-1 \u{2015}x".to_string()));
        assert!(
            texts.iter().all(|t| t.contains("param-1")),
            "inner dash kept"
        );
        assert_eq!(SigmaStr::parse("a-b").windash().unwrap().len(), 1);
    }

    #[test]
    fn utf16_encodings() {
        let le = SigmaStr::parse("ab").utf16(false, false).unwrap();
        assert_eq!(le.0, vec![Part::Lit(vec![b'a', 0, b'b', 0])]);
        let be = SigmaStr::parse("a").utf16(true, false).unwrap();
        assert_eq!(be.0, vec![Part::Lit(vec![0, b'a'])]);
        let bom = SigmaStr::parse("a").utf16(false, true).unwrap();
        assert_eq!(bom.0, vec![Part::Lit(vec![0xff, 0xfe, b'a', 0])]);
        assert_eq!(
            SigmaStr::parse("a")
                .utf16(false, false)
                .unwrap()
                .base64()
                .unwrap(),
            SigmaStr::plain(b"YQA=")
        );
    }
}
