//! Tokens of the condition language.

use crate::ast::Span;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    LParen,
    RParen,
    Comma,
    /// `=`, `==`, `!=`, `<`, `<=`, `>`, `>=`.
    Sym(&'static str),
    /// A bare word: field, keyword, operator word, macro or list name, literal.
    Word(String),
    /// A quoted string (quotes removed).
    Str(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
}

/// A lexing error: byte offset and message.
#[derive(Debug, Clone, PartialEq)]
pub struct LexError {
    pub at: usize,
    pub message: String,
}

fn ends_word(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | ',' | '=' | '<' | '>' | '"' | '\'')
}

/// The body of a string quoted with `q` (`rest` starts after the opening quote): its text
/// with escapes resolved, and its length up to the closing quote. Falco's escapes: `\\`,
/// `\"`, `\'`, `\b`, `\f`, `\n`, `\r`, `\t`; any other backslash stays as written
/// (Falco's own rules test `proc.args contains "\ "`, a backslash and a space).
fn quoted(rest: &str, q: char) -> Option<(String, usize)> {
    let mut text = String::new();
    let mut chars = rest.char_indices();
    while let Some((i, ch)) = chars.next() {
        match ch {
            _ if ch == q => return Some((text, i)),
            '\\' => match chars.clone().next() {
                Some((_, e @ ('\\' | '"' | '\'' | 'b' | 'f' | 'n' | 'r' | 't'))) => {
                    chars.next();
                    text.push(match e {
                        'b' => '\u{8}',
                        'f' => '\u{c}',
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        other => other,
                    });
                }
                _ => text.push('\\'),
            },
            _ => text.push(ch),
        }
    }
    None
}

/// Splits a condition into tokens. Words run until whitespace or punctuation; a `[...]`
/// suffix (`proc.aname[2]`, `sf.ke.message[items.0.name]`) stays part of the word.
pub fn lex(src: &str) -> Result<Vec<Token>, LexError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let simple = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            ',' => Some(Tok::Comma),
            _ => None,
        };
        if let Some(t) = simple {
            i += 1;
            out.push(Token {
                tok: t,
                span: Span { start, end: i },
            });
            continue;
        }
        let two = b.get(i + 1).copied() == Some(b'=');
        let sym = match (c, two) {
            ('=', true) => Some(("==", 2)),
            ('=', false) => Some(("=", 1)),
            ('!', true) => Some(("!=", 2)),
            ('<', true) => Some(("<=", 2)),
            ('<', false) => Some(("<", 1)),
            ('>', true) => Some((">=", 2)),
            ('>', false) => Some((">", 1)),
            _ => None,
        };
        if let Some((s, n)) = sym {
            i += n;
            out.push(Token {
                tok: Tok::Sym(s),
                span: Span { start, end: i },
            });
            continue;
        }
        if c == '"' || c == '\'' {
            let (text, len) = quoted(&src[i + 1..], c).ok_or_else(|| LexError {
                at: start,
                message: format!("unterminated string: missing closing {c}"),
            })?;
            i += len + 2;
            out.push(Token {
                tok: Tok::Str(text),
                span: Span { start, end: i },
            });
            continue;
        }
        // A word.
        let mut depth = 0usize;
        for (off, ch) in src[i..].char_indices() {
            match ch {
                '[' => depth += 1,
                ']' if depth > 0 => depth -= 1,
                '!' if depth == 0 && src[start + off..].starts_with("!=") => break,
                _ if depth == 0 && ends_word(ch) => break,
                _ => {}
            }
            i = start + off + ch.len_utf8();
        }
        if depth > 0 {
            return Err(LexError {
                at: start,
                message: "unclosed '[' in name".into(),
            });
        }
        if i == start {
            // Only a lone '!' gets here.
            return Err(LexError {
                at: start,
                message: format!("unexpected character '{c}'"),
            });
        }
        out.push(Token {
            tok: Tok::Word(src[start..i].to_string()),
            span: Span { start, end: i },
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn splits_operators_without_spaces() {
        assert_eq!(
            toks("sf.ts>=15 and a!=b and proc.aname[2]=sh"),
            vec![
                Tok::Word("sf.ts".into()),
                Tok::Sym(">="),
                Tok::Word("15".into()),
                Tok::Word("and".into()),
                Tok::Word("a".into()),
                Tok::Sym("!="),
                Tok::Word("b".into()),
                Tok::Word("and".into()),
                Tok::Word("proc.aname[2]".into()),
                Tok::Sym("="),
                Tok::Word("sh".into()),
            ]
        );
    }

    #[test]
    fn strings_lists_and_negative_numbers() {
        assert_eq!(
            toks("x in ('a b', -1, /usr/bin/x)"),
            vec![
                Tok::Word("x".into()),
                Tok::Word("in".into()),
                Tok::LParen,
                Tok::Str("a b".into()),
                Tok::Comma,
                Tok::Word("-1".into()),
                Tok::Comma,
                Tok::Word("/usr/bin/x".into()),
                Tok::RParen,
            ]
        );
        assert!(lex("x = 'abc").is_err());
    }

    #[test]
    fn escapes_in_quoted_strings() {
        // Falco's own rule: an escaped double quote inside a double-quoted string.
        assert_eq!(
            toks(r#"c startswith "sh -c envdir \"/run/etc\" wal-g" or x"#),
            vec![
                Tok::Word("c".into()),
                Tok::Word("startswith".into()),
                Tok::Str(r#"sh -c envdir "/run/etc" wal-g"#.into()),
                Tok::Word("or".into()),
                Tok::Word("x".into()),
            ]
        );
        assert_eq!(toks(r"'a\'b\\c\td'"), vec![Tok::Str("a'b\\c\td".into())]);
        // Unknown escapes keep the backslash; a bare backslash is a word.
        assert_eq!(toks(r#""\ ""#), vec![Tok::Str("\\ ".into())]);
        assert_eq!(
            toks(r"(a endswith \)"),
            vec![
                Tok::LParen,
                Tok::Word("a".into()),
                Tok::Word("endswith".into()),
                Tok::Word("\\".into()),
                Tok::RParen
            ]
        );
        assert!(lex(r#""abc\""#).is_err());
    }
}
