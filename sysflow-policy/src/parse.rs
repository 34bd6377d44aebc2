//! Recursive-descent parser of conditions: `or` < `and` < `not` < comparisons.

use crate::ast::{Expr, Item, Op, Operand, Rhs, Span, Xf, OPERATORS};
use crate::error::DiagKind;
use crate::lexer::{lex, Tok, Token};

/// A parse error at a byte offset of the condition.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub kind: DiagKind,
    pub at: usize,
    pub message: String,
    pub help: Option<String>,
}

/// Parses a whole condition.
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    let toks = lex(src).map_err(|e| ParseError {
        kind: DiagKind::Syntax,
        at: e.at,
        message: e.message,
        help: None,
    })?;
    let mut p = P {
        toks,
        pos: 0,
        len: src.len(),
    };
    if p.toks.is_empty() {
        return Err(p.err_at(0, "empty condition", Some("expected an expression")));
    }
    let e = p.or()?;
    if let Some(t) = p.peek() {
        let t = t.clone();
        return Err(match t.tok {
            Tok::RParen => p.err_at(
                t.span.start,
                "unbalanced parentheses: ')' without a matching '('",
                None,
            ),
            _ => p.err_at(
                t.span.start,
                &format!("unexpected {}", describe(&t.tok)),
                Some("expected 'and', 'or' or the end of the condition"),
            ),
        });
    }
    Ok(e)
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::Comma => "','".into(),
        Tok::Sym(s) => format!("'{s}'"),
        Tok::Word(w) => format!("'{w}'"),
        Tok::Str(s) => format!("string '{s}'"),
    }
}

struct P {
    toks: Vec<Token>,
    pos: usize,
    len: usize,
}

impl P {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.pos)
    }
    fn peek_at(&self, n: usize) -> Option<&Token> {
        self.toks.get(self.pos + n)
    }
    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Word(x), .. }) if x == w)
    }
    fn err_at(&self, at: usize, msg: &str, help: Option<&str>) -> ParseError {
        ParseError {
            kind: DiagKind::Syntax,
            at,
            message: msg.to_string(),
            help: help.map(str::to_string),
        }
    }
    fn end_err(&self, what: &str) -> ParseError {
        self.err_at(
            self.len,
            "unexpected end of condition",
            Some(&format!("expected {what}")),
        )
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut v = vec![self.and()?];
        while self.is_word("or") {
            self.pos += 1;
            v.push(self.and()?);
        }
        Ok(if v.len() == 1 {
            v.pop().unwrap_or(Expr::Or(vec![]))
        } else {
            Expr::Or(v)
        })
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut v = vec![self.not()?];
        while self.is_word("and") {
            self.pos += 1;
            v.push(self.not()?);
        }
        Ok(if v.len() == 1 {
            v.pop().unwrap_or(Expr::And(vec![]))
        } else {
            Expr::And(v)
        })
    }

    fn not(&mut self) -> Result<Expr, ParseError> {
        if self.is_word("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let Some(t) = self.peek().cloned() else {
            return Err(self.end_err("a condition"));
        };
        match &t.tok {
            Tok::LParen => {
                self.pos += 1;
                let e = self.or()?;
                match self.peek() {
                    Some(Token {
                        tok: Tok::RParen, ..
                    }) => {
                        self.pos += 1;
                        Ok(e)
                    }
                    Some(u) => Err(self.err_at(
                        u.span.start,
                        &format!("unexpected {}", describe(&u.tok)),
                        Some("expected ')', 'and' or 'or'"),
                    )),
                    None => Err(self.err_at(
                        t.span.start,
                        "unbalanced parentheses: this '(' is never closed",
                        Some("expected ')'"),
                    )),
                }
            }
            Tok::Word(w) if w == "exists" && !self.next_is_operator(1) => {
                // Prefix form `exists field`.
                self.pos += 1;
                let lhs = self.operand("a field name after 'exists'")?;
                Ok(Expr::Exists(lhs))
            }
            Tok::Word(w) if matches!(w.as_str(), "and" | "or") => Err(self.err_at(
                t.span.start,
                &format!("unexpected '{w}'"),
                Some("expected a comparison, a macro name, 'not' or '('"),
            )),
            Tok::Word(_) | Tok::Str(_) => self.comparison(),
            _ => Err(self.err_at(
                t.span.start,
                &format!("unexpected {}", describe(&t.tok)),
                Some("expected a comparison, a macro name, 'not' or '('"),
            )),
        }
    }

    fn next_is_operator(&self, n: usize) -> bool {
        match self.peek_at(n) {
            Some(Token {
                tok: Tok::Sym(_), ..
            }) => true,
            Some(Token {
                tok: Tok::Word(w), ..
            }) => Op::from_text(w).is_some() || w == "exists",
            _ => false,
        }
    }

    fn operand(&mut self, what: &str) -> Result<Operand, ParseError> {
        let Some(t) = self.peek().cloned() else {
            return Err(self.end_err(what));
        };
        match t.tok {
            Tok::Word(w)
                if (w == "val" || Xf::from_name(&w).is_some())
                    && matches!(
                        self.peek_at(1),
                        Some(Token {
                            tok: Tok::LParen,
                            ..
                        })
                    ) =>
            {
                // `val(field)` (an explicit field reference) or a transformer
                // (`tolower(proc.name)`, nested as `tolower(basename(fd.name))`).
                self.pos += 2;
                let mut inner = self.operand(&format!("a field name inside {w}(...)"))?;
                match self.peek() {
                    Some(Token {
                        tok: Tok::RParen,
                        span,
                    }) => {
                        inner.span = Span {
                            start: t.span.start,
                            end: span.end,
                        };
                        self.pos += 1;
                    }
                    _ => {
                        return Err(self.err_at(
                            t.span.start,
                            &format!("unbalanced parentheses: '{w}(' is never closed"),
                            Some("expected ')'"),
                        ))
                    }
                }
                inner.xf.extend(Xf::from_name(&w));
                inner.val = true;
                Ok(inner)
            }
            Tok::Word(w) => {
                self.pos += 1;
                Ok(Operand {
                    text: w,
                    quoted: false,
                    val: false,
                    xf: Vec::new(),
                    span: t.span,
                })
            }
            Tok::Str(s) => {
                self.pos += 1;
                Ok(Operand {
                    text: s,
                    quoted: true,
                    val: false,
                    xf: Vec::new(),
                    span: t.span,
                })
            }
            // Falco allows bare `<` and `>` as values (`evt.dir = <`).
            Tok::Sym(s @ ("<" | ">")) => {
                self.pos += 1;
                Ok(Operand {
                    text: s.to_string(),
                    quoted: true,
                    val: false,
                    xf: Vec::new(),
                    span: t.span,
                })
            }
            other => Err(self.err_at(
                t.span.start,
                &format!("unexpected {}", describe(&other)),
                Some(&format!("expected {what}")),
            )),
        }
    }

    fn comparison(&mut self) -> Result<Expr, ParseError> {
        let lhs = self.operand("a field")?;
        let Some(t) = self.peek().cloned() else {
            return Ok(self.macro_ref(lhs));
        };
        let op_text = match &t.tok {
            Tok::Sym(s) => s.to_string(),
            Tok::Word(w) if w == "and" || w == "or" => return Ok(self.macro_ref(lhs)),
            Tok::Word(w) => w.clone(),
            Tok::RParen | Tok::Comma => return Ok(self.macro_ref(lhs)),
            Tok::LParen | Tok::Str(_) => {
                return Err(self.err_at(
                    t.span.start,
                    &format!("unexpected {} after '{}'", describe(&t.tok), lhs.text),
                    Some(&format!("expected an operator: {OPERATORS}")),
                ))
            }
        };
        if op_text == "exists" {
            self.pos += 1;
            return Ok(Expr::Exists(lhs));
        }
        let Some(op) = Op::from_text(&op_text) else {
            let mut help = format!("expected an operator: {OPERATORS}");
            if let Some(s) = super::suggest::closest(&op_text, OPERATORS.split(", ")) {
                help = format!("did you mean '{s}'? ({help})");
            }
            return Err(ParseError {
                kind: DiagKind::BadOperator,
                at: t.span.start,
                message: format!("unknown operator '{op_text}' after '{}'", lhs.text),
                help: Some(help),
            });
        };
        self.pos += 1;
        let rhs = if op.takes_list() {
            match self.peek().cloned() {
                Some(Token {
                    tok: Tok::LParen,
                    span,
                }) => {
                    self.pos += 1;
                    Rhs::List(self.items(span.start)?)
                }
                Some(u) => {
                    return Err(self.err_at(
                        u.span.start,
                        &format!(
                            "'{}' needs a parenthesised list, found {}",
                            op.as_str(),
                            describe(&u.tok)
                        ),
                        Some("expected '(' as in: sf.proc.name in (bash, sh, my_list)"),
                    ))
                }
                None => return Err(self.end_err("'(' and a list")),
            }
        } else {
            Rhs::Value(self.operand("a value")?)
        };
        Ok(Expr::Cmp {
            lhs,
            op,
            op_span: t.span,
            rhs,
        })
    }

    fn macro_ref(&self, o: Operand) -> Expr {
        Expr::Macro {
            name: o.text,
            span: o.span,
        }
    }

    /// Items after '(' up to the matching ')'.
    fn items(&mut self, open: usize) -> Result<Vec<Item>, ParseError> {
        let mut v = Vec::new();
        loop {
            let Some(t) = self.peek().cloned() else {
                return Err(self.err_at(
                    open,
                    "unbalanced parentheses: this '(' is never closed",
                    Some("expected ')'"),
                ));
            };
            match t.tok {
                Tok::RParen => {
                    self.pos += 1;
                    return Ok(v);
                }
                Tok::Comma => {
                    self.pos += 1;
                }
                Tok::LParen => {
                    self.pos += 1;
                    v.push(Item::List(self.items(t.span.start)?));
                }
                _ => v.push(Item::Atom(self.operand("a list item")?)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(text: &str, s: usize, e: usize) -> Operand {
        Operand {
            text: text.into(),
            quoted: false,
            val: false,
            xf: Vec::new(),
            span: Span { start: s, end: e },
        }
    }

    #[test]
    fn precedence_not_and_or() {
        let e = parse("a or not b and c").unwrap();
        match e {
            Expr::Or(v) => {
                assert_eq!(v.len(), 2);
                assert!(matches!(&v[0], Expr::Macro { name, .. } if name == "a"));
                match &v[1] {
                    Expr::And(w) => {
                        assert!(matches!(&w[0], Expr::Not(_)));
                        assert!(matches!(&w[1], Expr::Macro { name, .. } if name == "c"));
                    }
                    o => panic!("{o:?}"),
                }
            }
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn exists_prefix_and_postfix() {
        assert_eq!(parse("x exists").unwrap(), Expr::Exists(lit("x", 0, 1)));
        assert_eq!(parse("exists x").unwrap(), Expr::Exists(lit("x", 7, 8)));
    }

    #[test]
    fn nested_lists_and_val() {
        let e = parse("f in (a, (b, 'c'), d) and g = val(h)").unwrap();
        let Expr::And(v) = e else { panic!() };
        let Expr::Cmp {
            rhs: Rhs::List(items),
            ..
        } = &v[0]
        else {
            panic!()
        };
        assert_eq!(items.len(), 3);
        assert!(matches!(&items[1], Item::List(x) if x.len() == 2));
        let Expr::Cmp {
            rhs: Rhs::Value(o), ..
        } = &v[1]
        else {
            panic!()
        };
        assert!(o.val && o.text == "h");
    }

    #[test]
    fn transformers_wrap_fields() {
        let Expr::Cmp { lhs, .. } = parse("tolower(basename(fd.name)) = x").unwrap() else {
            panic!()
        };
        assert_eq!(lhs.text, "fd.name");
        assert_eq!(lhs.xf, vec![Xf::Basename, Xf::ToLower]);
        assert_eq!((lhs.span.start, lhs.span.end), (0, 26));
        assert!(parse("tolower(fd.name = x").is_err());
        // Without '(' the word is an ordinary name.
        assert!(matches!(parse("len").unwrap(), Expr::Macro { .. }));
    }

    #[test]
    fn errors_point_at_the_problem() {
        let e = parse("(a = b and c = d").unwrap_err();
        assert_eq!((e.at, e.message.contains("never closed")), (0, true));
        let e = parse("a = b)").unwrap_err();
        assert_eq!(e.at, 5);
        let e = parse("a equals b").unwrap_err();
        assert_eq!((e.kind, e.at), (DiagKind::BadOperator, 2));
        let e = parse("a in b").unwrap_err();
        assert_eq!(e.at, 5);
        let e = parse("a = ").unwrap_err();
        assert_eq!(e.at, 4);
    }
}
