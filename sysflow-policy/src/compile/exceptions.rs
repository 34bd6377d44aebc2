//! Falco exceptions: each `exceptions` entry (fields, comparison operators, value tuples)
//! becomes `and not (...)` after the rule's condition.

use super::{list_test, Compiler, Problem};
use crate::ast::{Op, Operand, Span, OPERATORS};
use crate::error::DiagKind;
use crate::eval::Cond;
use crate::items::{strip_quotes, CondSrc, ExValue, ExceptionDef};
use crate::load::{Mark, Node, Yaml};

impl Compiler<'_> {
    /// `and not (...)` for a rule's exceptions.
    pub fn exceptions(&mut self, ex: &[ExceptionDef]) -> Result<Option<Cond>, Problem> {
        let mut alts = Vec::new();
        for e in ex {
            let mut fields = Vec::new();
            for (name, mark) in &e.fields {
                let src = mark_src(*mark, name);
                let o = Operand {
                    text: name.clone(),
                    quoted: false,
                    val: true,
                    xf: Vec::new(),
                    span: Span {
                        start: 0,
                        end: name.len(),
                    },
                };
                fields.push(self.field(&o, &src)?);
            }
            let mut ops = Vec::new();
            for (c, mark) in &e.comps {
                match Op::from_text(c.trim()) {
                    Some(op) => ops.push(op),
                    None => {
                        return Err(Problem::Fatal(self.sources.diag(
                            DiagKind::BadOperator,
                            *mark,
                            format!("exception '{}': unknown comparison '{c}'", e.name),
                            Some(format!("expected one of: {}", OPERATORS)),
                        )));
                    }
                }
            }
            for tuple in &e.values {
                let mut conj = Vec::new();
                for (i, v) in tuple.iter().enumerate() {
                    let (Some(f), Some(&op)) = (fields.get(i), ops.get(i)) else {
                        continue;
                    };
                    let vals: Vec<String> = match v {
                        ExValue::One(s, _) => vec![s.clone()],
                        ExValue::Many(m) => m.iter().map(|(s, _)| s.clone()).collect(),
                    };
                    let mark = match v {
                        ExValue::One(_, m) => *m,
                        ExValue::Many(m) => m.first().map(|x| x.1).unwrap_or(e.mark),
                    };
                    let c = if op.takes_list() {
                        // Names of lists expand, as in conditions.
                        let mut out = Vec::new();
                        for s in vals {
                            if self.defs.lists.contains_key(&s) {
                                let src = mark_src(mark, &s);
                                self.expand_list(
                                    &s,
                                    Span::default(),
                                    &src,
                                    &mut out,
                                    &mut Vec::new(),
                                )?;
                            } else {
                                out.push(strip_quotes(&s).to_string());
                            }
                        }
                        let falco = self.is_falco(&mark_src(mark, ""));
                        list_test(f.clone(), op, out, self.ns, falco)
                    } else {
                        let val = vals.into_iter().next().unwrap_or_default();
                        let src = mark_src(mark, &val);
                        let o = Operand {
                            text: strip_quotes(&val).to_string(),
                            quoted: true,
                            val: false,
                            xf: Vec::new(),
                            span: Span {
                                start: 0,
                                end: val.len(),
                            },
                        };
                        self.cmp_value(f.clone(), op, Span::default(), &o, &src)?
                    };
                    conj.push(c);
                }
                alts.push(Cond::And(conj.into()));
            }
        }
        Ok(if alts.is_empty() {
            None
        } else {
            Some(Cond::Not(Box::new(Cond::Or(alts.into()))))
        })
    }
}

/// A one-segment condition source located at a mark (for values outside conditions).
fn mark_src(mark: Mark, text: &str) -> CondSrc {
    let node = Node {
        mark,
        val: Yaml::Scalar {
            text: text.to_string(),
            quoted: false,
        },
    };
    CondSrc {
        text: text.to_string(),
        segs: vec![(0, node)],
    }
}
