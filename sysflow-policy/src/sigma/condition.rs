//! The `condition` of a Sigma detection: `and`, `or`, `not`, parentheses, search-identifier
//! names, and `1 of X` / `all of X` where X is `them` or a pattern with `*` wildcards.
//! Precedence, least to most binding: `or`, `and`, `not`, `x of`, parentheses (Sigma
//! specification, "Condition"). Keywords are case-insensitive.

/// A parsed condition. Offsets are bytes into the condition text.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// A search identifier.
    Ident {
        name: String,
        at: usize,
    },
    /// `1 of X` (`all: false`) or `all of X`; `pattern: None` is `them`.
    Of {
        all: bool,
        pattern: Option<String>,
        at: usize,
    },
}

/// Why a condition does not parse.
#[derive(Debug, Clone, PartialEq)]
pub struct CondError {
    pub at: usize,
    pub message: String,
    pub help: Option<String>,
    /// Valid Sigma that this engine does not evaluate (aggregations, `N of` with N > 1):
    /// the rule is skipped with a warning rather than failing the load.
    pub unsupported: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    Word(String),
}

/// Nesting bound: deeper conditions are rejected instead of exhausting the stack.
const MAX_DEPTH: usize = 64;

fn lex(text: &str) -> Result<Vec<(Tok, usize)>, CondError> {
    let mut out = Vec::new();
    let mut it = text.char_indices().peekable();
    while let Some(&(i, c)) = it.peek() {
        match c {
            c if c.is_whitespace() => {
                it.next();
            }
            '(' => {
                it.next();
                out.push((Tok::Open, i));
            }
            ')' => {
                it.next();
                out.push((Tok::Close, i));
            }
            '|' => {
                return Err(CondError {
                    at: i,
                    message: "aggregations ('| count() …') are not supported".into(),
                    help: Some(
                        "Sigma correlation rules replace aggregations; neither is evaluated here"
                            .into(),
                    ),
                    unsupported: true,
                })
            }
            _ => {
                let mut end = i;
                while let Some(&(j, c)) = it.peek() {
                    if c.is_whitespace() || c == '(' || c == ')' || c == '|' {
                        break;
                    }
                    end = j + c.len_utf8();
                    it.next();
                }
                out.push((Tok::Word(text[i..end].to_string()), i));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    end: usize,
    depth: usize,
}

fn is_kw(t: Option<&(Tok, usize)>, kw: &str) -> bool {
    matches!(t, Some((Tok::Word(w), _)) if w.eq_ignore_ascii_case(kw))
}

impl Parser {
    fn peek(&self) -> Option<&(Tok, usize)> {
        self.toks.get(self.pos)
    }
    fn at(&self) -> usize {
        self.peek().map(|t| t.1).unwrap_or(self.end)
    }
    fn err(&self, message: impl Into<String>, help: Option<&str>) -> CondError {
        CondError {
            at: self.at(),
            message: message.into(),
            help: help.map(str::to_string),
            unsupported: false,
        }
    }

    fn or(&mut self) -> Result<Expr, CondError> {
        self.chain("or", Self::and, Expr::Or)
    }

    fn and(&mut self) -> Result<Expr, CondError> {
        self.chain("and", Self::not, Expr::And)
    }

    /// `next (kw next)*`, one term without a wrapper.
    fn chain(
        &mut self,
        kw: &str,
        next: fn(&mut Self) -> Result<Expr, CondError>,
        make: fn(Vec<Expr>) -> Expr,
    ) -> Result<Expr, CondError> {
        let mut v = vec![next(self)?];
        while is_kw(self.peek(), kw) {
            self.pos += 1;
            v.push(next(self)?);
        }
        Ok(if v.len() == 1 { v.remove(0) } else { make(v) })
    }

    fn not(&mut self) -> Result<Expr, CondError> {
        if is_kw(self.peek(), "not") {
            self.pos += 1;
            self.nested(|p| p.not()).map(|e| Expr::Not(Box::new(e)))
        } else {
            self.primary()
        }
    }

    fn nested(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<Expr, CondError>,
    ) -> Result<Expr, CondError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("condition nested too deeply", None));
        }
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn primary(&mut self) -> Result<Expr, CondError> {
        let Some((tok, at)) = self.peek().cloned() else {
            return Err(self.err(
                "condition ends too early",
                Some("expected a search identifier, 'not', '(' or '1 of'/'all of'"),
            ));
        };
        match tok {
            Tok::Open => {
                self.pos += 1;
                let e = self.nested(|p| p.or())?;
                if !matches!(self.peek(), Some((Tok::Close, _))) {
                    return Err(self.err("unbalanced '(': expected ')'", None));
                }
                self.pos += 1;
                Ok(e)
            }
            Tok::Close => Err(self.err(
                "unexpected ')'",
                Some("expected a search identifier, 'not', '(' or '1 of'/'all of'"),
            )),
            Tok::Word(w) => {
                let lower = w.to_ascii_lowercase();
                if matches!(lower.as_str(), "and" | "or" | "of" | "them") {
                    return Err(self.err(
                        format!("unexpected '{w}'"),
                        Some("expected a search identifier, 'not', '(' or '1 of'/'all of'"),
                    ));
                }
                self.pos += 1;
                if !is_kw(self.peek(), "of") {
                    return Ok(Expr::Ident { name: w, at });
                }
                let all = match lower.as_str() {
                    "1" | "any" => false,
                    "all" => true,
                    n if n.parse::<u32>().is_ok() => {
                        return Err(CondError {
                            at,
                            message: format!("'{w} of' is not supported"),
                            help: Some("only '1 of' and 'all of' are Sigma".into()),
                            unsupported: true,
                        })
                    }
                    _ => {
                        return Err(CondError {
                            at,
                            message: format!("'{w} of': expected '1 of' or 'all of'"),
                            help: None,
                            unsupported: false,
                        })
                    }
                };
                self.pos += 1;
                match self.peek().cloned() {
                    Some((Tok::Word(t), _)) => {
                        self.pos += 1;
                        let pattern = (!t.eq_ignore_ascii_case("them")).then_some(t);
                        Ok(Expr::Of { all, pattern, at })
                    }
                    _ => Err(self.err(
                        "expected 'them' or a search-identifier pattern after 'of'",
                        Some("e.g. '1 of selection_*' or 'all of them'"),
                    )),
                }
            }
        }
    }
}

/// Parses a condition.
pub fn parse(text: &str) -> Result<Expr, CondError> {
    let toks = lex(text)?;
    let mut p = Parser {
        toks,
        pos: 0,
        end: text.len(),
        depth: 0,
    };
    let e = p.or()?;
    if p.pos < p.toks.len() {
        let what = match &p.toks[p.pos].0 {
            Tok::Close => "unbalanced ')'".to_string(),
            Tok::Open => "unexpected '('".to_string(),
            Tok::Word(w) => format!("unexpected '{w}'"),
        };
        return Err(p.err(
            what,
            Some("expected 'and', 'or' or the end of the condition"),
        ));
    }
    Ok(e)
}

/// Whether a search identifier matches an `x of` pattern (`*` = any run of characters).
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    use crate::text::WildPart;
    let parts: Vec<WildPart> = pattern
        .split('*')
        .enumerate()
        .flat_map(|(i, lit)| {
            let star = (i > 0).then_some(WildPart::Star);
            star.into_iter()
                .chain((!lit.is_empty()).then(|| WildPart::Lit(lit.into())))
        })
        .collect();
    crate::text::wild(&parts, name.as_bytes(), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: &str, at: usize) -> Expr {
        Expr::Ident { name: n.into(), at }
    }

    #[test]
    fn precedence_and_quantifiers() {
        assert_eq!(
            parse("a or b and not c").unwrap(),
            Expr::Or(vec![
                id("a", 0),
                Expr::And(vec![id("b", 5), Expr::Not(Box::new(id("c", 15)))])
            ])
        );
        assert_eq!(
            parse("1 of sel* and not ALL OF them").unwrap(),
            Expr::And(vec![
                Expr::Of {
                    all: false,
                    pattern: Some("sel*".into()),
                    at: 0
                },
                Expr::Not(Box::new(Expr::Of {
                    all: true,
                    pattern: None,
                    at: 18
                }))
            ])
        );
        assert_eq!(
            parse("(a or b) and c").unwrap(),
            Expr::And(vec![Expr::Or(vec![id("a", 1), id("b", 6)]), id("c", 13)])
        );
    }

    #[test]
    fn errors_are_positioned() {
        let e = parse("a and (b or c").unwrap_err();
        assert_eq!((e.at, e.unsupported), (13, false));
        let e = parse("a b").unwrap_err();
        assert_eq!(e.at, 2);
        let e = parse("sel | count() > 5").unwrap_err();
        assert!(e.unsupported && e.at == 4);
        assert!(parse("2 of sel*").unwrap_err().unsupported);
        assert!(!parse("x of sel*").unwrap_err().unsupported);
        assert!(parse("").is_err());
        assert!(parse("a and").is_err());
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn patterns() {
        assert!(pattern_matches("selection_*", "selection_cli"));
        assert!(pattern_matches("sel*", "sel"));
        assert!(!pattern_matches("sel*", "filter"));
    }
}
