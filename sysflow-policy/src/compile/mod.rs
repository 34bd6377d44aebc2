//! Conditions to [`Cond`] trees: names resolve to fields once, macros are inlined (cycles
//! are errors), lists expand recursively, and `in`/`pmatch` lists become hash sets and
//! Aho-Corasick automata. A rule's exceptions are compiled in [`exceptions`].

mod exceptions;

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind};
use sysflow_model::flat::{falco_evt_type_ops, Attr};
use sysflow_model::{OpFlags, OpenFlags, RecordType};

use crate::ast::{Expr, Item, Op, Operand, Rhs, Span};
use crate::error::{DiagKind, Diagnostic};
use crate::eval::{Cond, FieldRef, Lit, Net4, NumOp, PairOp, StrSet, Test};
use crate::falco;
use crate::items::{CondSrc, Defs};
use crate::load::Sources;
use crate::namespace::{Namespace, POLICY};
use crate::parse::{parse, ParseError};

/// Why a condition did not compile.
#[derive(Debug, Clone)]
pub enum Problem {
    /// A mistake: the policy does not load.
    Fatal(Diagnostic),
    /// A field SysFlow does not have: the rule is skipped with this warning.
    Skip(Diagnostic),
}

/// Falco field classes: names in them that SysFlow lacks are "unsupported", not typos.
const FALCO_CLASSES: &[&str] = &[
    "evt",
    "fd",
    "proc",
    "thread",
    "user",
    "group",
    "container",
    "k8s",
    "ka",
    "syscall",
    "fs",
    "mesos",
    "marathon",
    "span",
    "evtin",
    "jevt",
    "k8smeta",
    "fdlist",
    "gvisor",
    "plugin",
];

/// Inlines at most this many nested macros (a guard besides cycle detection).
const MAX_DEPTH: usize = 64;

/// Compiles conditions against the collected definitions.
pub struct Compiler<'a> {
    pub sources: &'a Sources,
    pub defs: &'a Defs,
    parsed: HashMap<String, Result<Expr, ParseError>>,
    compiled: HashMap<String, Result<Cond, Problem>>,
    stack: Vec<String>,
    /// Non-fatal remarks (e.g. list names that look misspelt).
    pub warnings: Vec<Diagnostic>,
    /// All attribute names, for suggestions.
    names: Vec<&'static str>,
    /// Memo slot per shared sub-condition key (macro name, test text).
    memo_ids: HashMap<String, u32>,
    /// The field names conditions use.
    ns: &'a Namespace,
}

impl<'a> Compiler<'a> {
    /// A compiler of policy conditions (the attribute catalogue's names).
    pub fn new(sources: &'a Sources, defs: &'a Defs) -> Self {
        Self::with_namespace(sources, defs, &POLICY)
    }

    /// A compiler whose conditions use the field names of `ns`.
    pub fn with_namespace(sources: &'a Sources, defs: &'a Defs, ns: &'a Namespace) -> Self {
        let mut parsed = HashMap::new();
        for (name, m) in &defs.macros {
            parsed.insert(name.clone(), parse(&m.cond.text));
        }
        Compiler {
            sources,
            defs,
            parsed,
            compiled: HashMap::new(),
            stack: Vec::new(),
            warnings: Vec::new(),
            names: {
                let mut v = (ns.names)();
                if ns.falco {
                    v.extend(falco::fields::names());
                }
                v
            },
            memo_ids: HashMap::new(),
            ns,
        }
    }

    /// Wraps `c` in a memo slot keyed by `key`: the same key anywhere gets the same slot,
    /// so a sub-condition shared by many rules runs once per record. The engine later drops
    /// slots used once and slots around cheap tests.
    fn memo(&mut self, key: String, c: Cond) -> Cond {
        if matches!(c, Cond::Const(_) | Cond::Type(_)) {
            return c;
        }
        let n = self.memo_ids.len() as u32;
        let id = *self.memo_ids.entry(key).or_insert(n);
        Cond::Memo(id, Box::new(c))
    }

    /// Number of memo slots handed out.
    pub fn memo_slots(&self) -> usize {
        self.memo_ids.len()
    }

    /// Syntax errors of all macros, used or not.
    pub fn macro_syntax_errors(&self) -> Vec<Diagnostic> {
        let mut v: Vec<_> = self
            .parsed
            .iter()
            .filter_map(|(n, r)| {
                r.as_ref()
                    .err()
                    .map(|e| self.parse_diag(&self.defs.macros[n].cond, e))
            })
            .collect();
        v.sort_by(|a, b| {
            (&a.loc.file, a.loc.line, a.loc.col).cmp(&(&b.loc.file, b.loc.line, b.loc.col))
        });
        v
    }

    fn parse_diag(&self, src: &CondSrc, e: &ParseError) -> Diagnostic {
        self.sources.diag(
            e.kind,
            src.mark(self.sources, e.at),
            e.message.clone(),
            e.help.clone(),
        )
    }

    fn diag(
        &self,
        kind: DiagKind,
        src: &CondSrc,
        span: Span,
        msg: String,
        help: Option<String>,
    ) -> Diagnostic {
        self.sources
            .diag(kind, src.mark(self.sources, span.start), msg, help)
    }

    /// Compiles a rule's or filter's condition.
    pub fn condition(&mut self, src: &CondSrc) -> Result<Cond, Problem> {
        let e = parse(&src.text).map_err(|e| Problem::Fatal(self.parse_diag(src, &e)))?;
        self.expr(&e, src)
    }

    fn expr(&mut self, e: &Expr, src: &CondSrc) -> Result<Cond, Problem> {
        Ok(match e {
            Expr::And(v) => Cond::And(
                v.iter()
                    .map(|x| self.expr(x, src))
                    .collect::<Result<Vec<_>, _>>()?
                    .into(),
            ),
            Expr::Or(v) => Cond::Or(
                v.iter()
                    .map(|x| self.expr(x, src))
                    .collect::<Result<Vec<_>, _>>()?
                    .into(),
            ),
            Expr::Not(x) => Cond::Not(Box::new(self.expr(x, src)?)),
            Expr::Exists(o) => {
                let c = Cond::Test(self.field(o, src)?, Test::Exists);
                self.memo(format!("exists\0{}", o.text), c)
            }
            Expr::Macro { name, span } => self.macro_ref(name, *span, src)?,
            Expr::Cmp {
                lhs,
                op,
                op_span,
                rhs,
            } => {
                let f = self.field(lhs, src)?;
                match rhs {
                    Rhs::Value(v)
                        if self.ns.falco
                            && is_evt_type(&lhs.text)
                            && matches!(op, Op::Eq | Op::Ne)
                            && (falco_evt_type_ops(&v.text).is_some()
                                || self.unreported_syscall(&v.text, src)) =>
                    {
                        // Falco `evt.type = open`: the SysFlow operations of that syscall
                        // (none for a syscall SysFlow does not report: never equal).
                        let ops = falco_evt_type_ops(&v.text).unwrap_or_default();
                        let c = list_test(
                            f,
                            Op::In,
                            ops.iter().map(|s| s.to_string()).collect(),
                            self.ns,
                            false,
                        );
                        if *op == Op::Ne {
                            Cond::Not(Box::new(c))
                        } else {
                            c
                        }
                    }
                    Rhs::Value(v) => {
                        let c = self.cmp_value(f, *op, *op_span, v, src)?;
                        let key = format!(
                            "{}{:?}\0{}\0{}\0{}{}",
                            lhs.text,
                            lhs.xf,
                            op.as_str(),
                            v.text,
                            v.quoted as u8,
                            v.val as u8
                        );
                        self.memo(key, c)
                    }
                    Rhs::List(items) => {
                        let mut out = Vec::new();
                        let mut seen = Vec::new();
                        self.expand(items, src, &mut out, &mut seen)?;
                        if self.ns.falco && is_evt_type(&lhs.text) && *op != Op::Pmatch {
                            let falco = self.is_falco(src);
                            out = out
                                .into_iter()
                                .flat_map(|s| match falco_evt_type_ops(&s) {
                                    Some(ops) => ops.iter().map(|o| o.to_string()).collect(),
                                    // In a Falco file a syscall SysFlow does not report
                                    // (listen, ptrace, …) matches nothing; dropping it keeps
                                    // the rest a bit test the index understands.
                                    None if falco && is_syscall_name(&s) => vec![],
                                    None => vec![s],
                                })
                                .collect();
                        }
                        let key = format!(
                            "{}{:?}\0{}\0({})",
                            lhs.text,
                            lhs.xf,
                            op.as_str(),
                            out.join("\0")
                        );
                        let c = list_test(f, *op, out, self.ns, self.is_falco(src));
                        self.memo(key, c)
                    }
                }
            }
        })
    }

    fn macro_ref(&mut self, name: &str, span: Span, src: &CondSrc) -> Result<Cond, Problem> {
        if let Some(c) = self.compiled.get(name) {
            return c.clone();
        }
        let Some(parsed) = self.parsed.get(name).cloned() else {
            let (msg, help) = if self.defs.lists.contains_key(name) {
                (
                    format!(
                        "'{name}' is a list, not a macro: lists can only be used inside '(...)'"
                    ),
                    Some(format!("expected e.g. sf.proc.name in ({name})")),
                )
            } else {
                let help =
                    super::suggest::closest(name, self.defs.macros.keys().map(String::as_str))
                        .map(|s| format!("did you mean macro '{s}'?"))
                        .or_else(|| {
                            Some(
                        "expected a macro name, or a comparison such as 'sf.proc.name = bash'"
                            .into(),
                    )
                        });
                (format!("undefined macro '{name}'"), help)
            };
            return Err(Problem::Fatal(self.diag(
                DiagKind::UndefinedMacro,
                src,
                span,
                msg,
                help,
            )));
        };
        if self.stack.iter().any(|s| s == name) || self.stack.len() > MAX_DEPTH {
            let chain = format!("{} -> {name}", self.stack.join(" -> "));
            return Err(Problem::Fatal(self.diag(
                DiagKind::Cycle,
                src,
                span,
                format!("macro '{name}' refers to itself: {chain}"),
                None,
            )));
        }
        let Ok(expr) = parsed else {
            // Its syntax error is reported once, for the macro itself.
            let m = &self.defs.macros[name];
            let e = parsed.err().unwrap_or_else(|| ParseError {
                kind: DiagKind::Syntax,
                at: 0,
                message: String::new(),
                help: None,
            });
            return Err(Problem::Fatal(self.parse_diag(&m.cond, &e)));
        };
        let msrc = self.defs.macros[name].cond.clone();
        self.stack.push(name.to_string());
        let res = self
            .expr(&expr, &msrc)
            .map(|c| self.memo(format!("macro\0{name}"), c));
        self.stack.pop();
        // Cache only results that do not depend on the current macro stack.
        if self.stack.is_empty()
            || !matches!(&res, Err(Problem::Fatal(d)) if d.kind == DiagKind::Cycle)
        {
            self.compiled.insert(name.to_string(), res.clone());
        }
        res
    }

    /// Resolves an operand that must be a field.
    fn field(&self, o: &Operand, src: &CondSrc) -> Result<FieldRef, Problem> {
        let found = match self.resolve(&o.text, src) {
            Ok(f) => f,
            Err(why) => {
                return Err(Problem::Skip(self.diag(
                    DiagKind::UnsupportedField,
                    src,
                    o.span,
                    format!("field '{}' is not supplied by SysFlow", o.text),
                    Some(format!("{why} (docs/policy-language.md, \"Falco fields\")")),
                )))
            }
        };
        if let Some(mut f) = found {
            if !o.xf.is_empty() {
                if f.render {
                    return Err(Problem::Fatal(self.diag(
                        DiagKind::BadValue,
                        src,
                        o.span,
                        format!("transformers do not apply to '{}'", o.text),
                        Some("expected a field without a json path or rendered JSON".into()),
                    )));
                }
                f.render = true;
                f.xf = o.xf.clone().into();
            }
            return Ok(f);
        }
        Err(self.unknown_field(&o.text, o.span, src))
    }

    /// Whether `src` was written in the Falco dialect (its file declares Falco's engine
    /// version); only for the policy namespace.
    fn is_falco(&self, src: &CondSrc) -> bool {
        self.ns.falco
            && src
                .segs
                .first()
                .is_some_and(|(_, n)| self.defs.falco_files.contains(&n.mark.file))
    }

    /// `evt.type = NAME` in a Falco file with a syscall SysFlow does not report.
    fn unreported_syscall(&self, name: &str, src: &CondSrc) -> bool {
        self.is_falco(src) && is_syscall_name(name)
    }

    /// A field name in the dialect of `src`: Falco's table first for Falco files, then the
    /// namespace. `Err(reason)` for a Falco field SysFlow cannot supply.
    fn resolve(&self, name: &str, src: &CondSrc) -> Result<Option<FieldRef>, &'static str> {
        if self.is_falco(src) {
            match falco::fields::resolve(name) {
                Some(Ok(f)) => return Ok(Some(f)),
                Some(Err(why)) => return Err(why),
                None => {}
            }
        }
        Ok((self.ns.resolve)(name))
    }

    fn unknown_field(&self, name: &str, span: Span, src: &CondSrc) -> Problem {
        let base = name.split('[').next().unwrap_or(name);
        let class = base.split('.').next().unwrap_or("");
        let suggestion = super::suggest::closest(base, self.names.iter().copied())
            .map(|s| format!("did you mean '{s}'?"));
        if self.ns.falco && base.contains('.') && FALCO_CLASSES.contains(&class) {
            Problem::Skip(self.diag(
                DiagKind::UnsupportedField,
                src,
                span,
                format!("field '{name}' is not supplied by SysFlow"),
                suggestion.or_else(|| {
                    Some("see docs/policy-language.md for the Falco fields SysFlow maps".into())
                }),
            ))
        } else {
            Problem::Skip(self.diag(
                DiagKind::UnknownField,
                src,
                span,
                format!("unknown field '{name}'"),
                suggestion.or_else(|| Some(self.ns.expected.into())),
            ))
        }
    }

    fn cmp_value(
        &self,
        f: FieldRef,
        op: Op,
        op_span: Span,
        v: &Operand,
        src: &CondSrc,
    ) -> Result<Cond, Problem> {
        // A right-hand side naming a field compares two fields (as the original does);
        // quotes force a literal, `val(x)` forces a field.
        if !v.quoted {
            if let Ok(Some(g)) = self.resolve(&v.text, src) {
                let pop = match op {
                    Op::Eq | Op::Ne => PairOp::Eq,
                    Op::Contains => PairOp::Contains,
                    Op::IContains => PairOp::IContains,
                    Op::StartsWith => PairOp::StartsWith,
                    Op::EndsWith => PairOp::EndsWith,
                    Op::Lt => PairOp::Num(NumOp::Lt),
                    Op::Le => PairOp::Num(NumOp::Le),
                    Op::Gt => PairOp::Num(NumOp::Gt),
                    Op::Ge => PairOp::Num(NumOp::Ge),
                    _ => {
                        return Err(Problem::Fatal(self.diag(DiagKind::BadOperator, src, op_span, format!("'{}' cannot compare two fields", op.as_str()), Some("expected =, !=, <, <=, >, >=, contains, icontains, startswith or endswith".into()))))
                    }
                };
                let c = Cond::Pair(f, pop, g);
                return Ok(if op == Op::Ne {
                    Cond::Not(Box::new(c))
                } else {
                    c
                });
            } else if v.val {
                return Err(self.unknown_field(&v.text, v.span, src));
            }
        }
        let text = v.text.as_str();
        let num = |nop| -> Result<Cond, Problem> {
            match text.trim().parse::<i64>() {
                Ok(n) => Ok(Cond::Test(f.clone(), Test::Num(nop, n))),
                Err(_) => Err(Problem::Fatal(self.diag(
                    DiagKind::BadValue,
                    src,
                    v.span,
                    format!("'{}' needs a number, found '{text}'", op.as_str()),
                    Some("expected an integer such as 0, 1024 or -1".into()),
                ))),
            }
        };
        Ok(match op {
            // Falco's `evt.dir`: a SysFlow record is a whole call, both enter (>) and exit (<).
            Op::Eq | Op::Ne
                if f.field.attr == Attr::EvtDir
                    && f.custom.is_none()
                    && matches!(text.trim(), "<" | ">") =>
            {
                Cond::Const(op == Op::Eq)
            }
            Op::Eq | Op::Ne => {
                let c = match flag_test(&f, &[text], self.ns).or_else(|| cidr_test(&f, &[text])) {
                    Some(c) => c,
                    None => Cond::Test(f, Test::Eq(Lit::new(text))),
                };
                if op == Op::Ne {
                    Cond::Not(Box::new(c))
                } else {
                    c
                }
            }
            Op::Lt => num(NumOp::Lt)?,
            Op::Le => num(NumOp::Le)?,
            Op::Gt => num(NumOp::Gt)?,
            Op::Ge => num(NumOp::Ge)?,
            Op::Contains => Cond::Test(f, Test::Contains(text.into())),
            Op::IContains => Cond::Test(f, Test::IContains(text.to_ascii_lowercase().into())),
            Op::StartsWith => Cond::Test(f, Test::StartsWith(text.into())),
            Op::EndsWith => Cond::Test(f, Test::EndsWith(text.into())),
            Op::Glob => Cond::Test(f, Test::Glob(text.into())),
            Op::IGlob => Cond::Test(f, Test::IGlob(text.to_ascii_lowercase().into())),
            Op::BContains | Op::BStartsWith => {
                // Hex-encoded bytes; field values are text, so bytes that are not UTF-8
                // never occur in them.
                let Some(bytes) = hex_bytes(text) else {
                    return Err(Problem::Fatal(self.diag(
                        DiagKind::BadValue,
                        src,
                        v.span,
                        format!("'{}' needs hex-encoded bytes, found '{text}'", op.as_str()),
                        Some("expected an even number of hex digits such as cafebabe".into()),
                    )));
                };
                match (String::from_utf8(bytes), op) {
                    (Ok(s), Op::BContains) => Cond::Test(f, Test::Contains(s.into())),
                    (Ok(s), _) => Cond::Test(f, Test::StartsWith(s.into())),
                    (Err(_), _) => Cond::Const(false),
                }
            }
            Op::Regex => match regex::Regex::new(&format!("^(?:{text})$")) {
                Ok(re) => Cond::Test(f, Test::Regex(re)),
                Err(e) => {
                    return Err(Problem::Fatal(self.diag(
                        DiagKind::BadValue,
                        src,
                        v.span,
                        format!("'regex' needs a regular expression: {e}"),
                        Some("expected RE2 syntax, e.g. '^/tmp/[a-z]+\\.sh$'".into()),
                    )))
                }
            },
            Op::In | Op::Intersects | Op::Pmatch => {
                list_test(f, op, vec![text.to_string()], self.ns, self.is_falco(src))
            }
        })
    }

    /// Flattens list items: list names expand (recursively), nested lists merge.
    fn expand(
        &mut self,
        items: &[Item],
        src: &CondSrc,
        out: &mut Vec<String>,
        seen: &mut Vec<String>,
    ) -> Result<(), Problem> {
        for it in items {
            match it {
                Item::List(v) => self.expand(v, src, out, seen)?,
                Item::Atom(o) if !o.quoted && self.defs.lists.contains_key(&o.text) => {
                    self.expand_list(&o.text, o.span, src, out, seen)?;
                }
                Item::Atom(o) => {
                    if !o.quoted && looks_like_list_name(&o.text) {
                        if let Some(s) = super::suggest::closest(
                            &o.text,
                            self.defs.lists.keys().map(String::as_str),
                        ) {
                            let d = self.diag(
                                DiagKind::UndefinedList,
                                src,
                                o.span,
                                format!(
                                    "'{}' is not a defined list and is taken as a literal",
                                    o.text
                                ),
                                Some(format!("did you mean list '{s}'?")),
                            );
                            if !self.warnings.contains(&d) {
                                self.warnings.push(d);
                            }
                        }
                    }
                    out.push(o.text.clone());
                }
            }
        }
        Ok(())
    }

    fn expand_list(
        &mut self,
        name: &str,
        span: Span,
        src: &CondSrc,
        out: &mut Vec<String>,
        seen: &mut Vec<String>,
    ) -> Result<(), Problem> {
        if seen.iter().any(|s| s == name) {
            return Err(Problem::Fatal(self.diag(
                DiagKind::Cycle,
                src,
                span,
                format!(
                    "list '{name}' contains itself: {} -> {name}",
                    seen.join(" -> ")
                ),
                None,
            )));
        }
        seen.push(name.to_string());
        let items: Vec<String> = self.defs.lists[name]
            .items
            .iter()
            .map(|(s, _)| s.clone())
            .collect();
        for it in items {
            if self.defs.lists.contains_key(&it) {
                self.expand_list(&it, span, src, out, seen)?;
            } else {
                out.push(it);
            }
        }
        seen.pop();
        Ok(())
    }
}

/// A lower-case name as Falco's syscall names are (`listen`, `userfaultfd`), as opposed to
/// SysFlow's upper-case operation names.
fn is_syscall_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Falco's `evt.type`: its syscall-name literals are rewritten to SysFlow operation names
/// at compile time (`evt.type in (open, openat)` matches OPEN records).
fn is_evt_type(name: &str) -> bool {
    name == "evt.type"
}

fn looks_like_list_name(s: &str) -> bool {
    s.contains('_') && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `=`/`in` against names of bits, compiled to bit tests: `sf.type` (record type codes),
/// `sf.opflags` (operation names, READ/WRITE vs RECV/SEND spelt per record type as the
/// attribute does) and `sf.file.openflags`. `None` when the field is another one or an item
/// is not such a name (the string test then keeps its meaning).
fn flag_test(f: &FieldRef, items: &[&str], ns: &Namespace) -> Option<Cond> {
    if f.custom.is_some() || f.field.index.is_some() || f.field.json_path.is_some() {
        return None;
    }
    match f.field.attr {
        Attr::Type => {
            let mut mask = 0u16;
            for it in items {
                let t = RecordType::ALL.iter().find(|t| t.code() == *it)?;
                mask |= 1 << (*t as u16);
            }
            Some(Cond::Type(mask))
        }
        Attr::OpFlags => {
            let (mut any, mut net, mut other) = (0, 0, 0);
            for it in items {
                let b = OpFlags::bit_of(it)?;
                match *it {
                    _ if ns.opflags_any_direction => any |= b,
                    "RECV" | "SEND" => net |= b,
                    "READ" | "WRITE" => other |= b,
                    _ => any |= b,
                }
            }
            Some(Cond::Test(f.clone(), Test::OpMask { any, net, other }))
        }
        Attr::FileOpenFlags => {
            let mut masks = Vec::new();
            let mut none = false;
            for it in items {
                if *it == "NONE" {
                    none = true;
                } else {
                    masks.push(open_flag_bits(it)?);
                }
            }
            Some(Cond::Test(
                f.clone(),
                Test::OpenMask {
                    masks: masks.into(),
                    none,
                },
            ))
        }
        _ => None,
    }
}

/// The bits an open-flag name stands for: the smallest value whose names include it
/// (RDWR = 3, CREAT = 4, …), found through [`OpenFlags::names`] so the two never disagree.
fn open_flag_bits(name: &str) -> Option<u32> {
    std::iter::once(3)
        .chain((0..32).map(|i| 1u32 << i))
        .filter(|v| OpenFlags(*v).names().any(|n| n == name))
        .min()
}

/// Bytes of a hex string (`cafebabe`); `None` when it is not one.
fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// `=`/`in` on an IPv4 address field with at least one network literal (`10.0.0.0/8`):
/// CIDR matching, every item a network or an address (= `/32`). `None` otherwise (plain
/// addresses keep the string test, which means the same).
fn cidr_test(f: &FieldRef, items: &[&str]) -> Option<Cond> {
    let ip_field = f.custom.is_none()
        && f.field.index.is_none()
        && matches!(
            f.field.attr,
            Attr::NetSip | Attr::NetDip | Attr::NetIp | Attr::NetLIp | Attr::NetRIp
        );
    if !ip_field || !items.iter().any(|s| s.contains('/')) {
        return None;
    }
    let nets = items
        .iter()
        .map(|s| Net4::parse(s))
        .collect::<Option<Vec<_>>>()?;
    Some(Cond::Test(f.clone(), Test::Cidr(nets.into())))
}

/// `in`/`intersects` (any part equals any item) and `pmatch`: any part contains any item
/// (SysFlow), or in the Falco dialect (`falco`) any part is one of the paths or below it.
fn list_test(f: FieldRef, op: Op, items: Vec<String>, ns: &Namespace, falco: bool) -> Cond {
    if items.is_empty() {
        return Cond::Const(false);
    }
    if op == Op::Pmatch && falco {
        let dirs = items.into_iter().map(Into::into).collect();
        return Cond::Test(f, Test::PathPrefix(dirs));
    }
    if op == Op::Pmatch {
        // A DFA without prefilter: haystacks are short (names, paths), where a prefilter's
        // setup costs more than it saves.
        let ac = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::DFA))
            .prefilter(false)
            .build(&items);
        return match ac {
            Ok(ac) => Cond::Test(f, Test::Pmatch(ac)),
            // Unreachable for string patterns; fall back to an OR of substring tests.
            Err(_) => Cond::Or(
                items
                    .into_iter()
                    .map(|s| Cond::Test(f.clone(), Test::Contains(s.into())))
                    .collect(),
            ),
        };
    }
    if op != Op::Pmatch {
        let refs: Vec<&str> = items.iter().map(String::as_str).collect();
        if let Some(c) = flag_test(&f, &refs, ns).or_else(|| cidr_test(&f, &refs)) {
            return c;
        }
    }
    if items.len() <= 8 {
        Cond::Test(f, Test::InList(items.into_iter().map(Into::into).collect()))
    } else {
        let set: StrSet = items.into_iter().map(Into::into).collect();
        Cond::Test(f, Test::InSet(set))
    }
}

#[cfg(test)]
mod tests;
