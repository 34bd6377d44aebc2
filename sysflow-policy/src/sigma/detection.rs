//! Search identifiers to condition trees: a map is the AND of its field items, a list of maps
//! the OR of the maps, a list of strings keywords; a field item's values are OR-ed (AND-ed
//! with `all`). Field names resolve through the mapping file, then the built-in mapping of the
//! log source, then SysFlow's own attribute names.

use std::collections::HashMap;

use aho_corasick::AhoCorasick;

use crate::compile::Problem;
use crate::error::{DiagKind, Diagnostic};
use crate::eval::{Cond, FieldRef, Net4, PairOp, Test};
use crate::load::{Mark, Node, Sources, Yaml};
use crate::text::{TextLit, TextMatch, TextTest};

use super::logsource::{self, Category, Target};
use super::mapping::Mapping;
use super::modifiers::{self, Kind, ModError, Modifier, TestKind};
use super::value::{Shape, SigmaStr, MAX_EXPANSION};

/// Memo slots for sub-conditions shared by several rules (the same field item written in
/// several rules is evaluated once per record), numbered after the Falco compiler's.
#[derive(Debug)]
pub struct Memo {
    ids: HashMap<String, u32>,
    base: u32,
}

impl Memo {
    pub fn new(base: usize) -> Self {
        Memo {
            ids: HashMap::new(),
            base: base as u32,
        }
    }

    pub fn wrap(&mut self, key: String, c: Cond) -> Cond {
        if matches!(c, Cond::Const(_) | Cond::Type(_)) {
            return c;
        }
        let n = self.base + self.ids.len() as u32;
        let id = *self.ids.entry(key).or_insert(n);
        Cond::Memo(id, Box::new(c))
    }

    /// The total number of slots (the Falco compiler's and these).
    pub fn slots(&self) -> usize {
        self.base as usize + self.ids.len()
    }
}

/// What compiling a rule's detection needs.
pub struct Ctx<'a> {
    pub sources: &'a Sources,
    pub mapping: Option<&'a Mapping>,
    pub category: Category,
    pub memo: &'a mut Memo,
    /// Fields of Sigma's taxonomy that SysFlow lacks, as used by this rule.
    pub absent: Vec<String>,
}

/// A value as written: `None` for YAML null.
type Value = (Option<String>, Mark);

impl Ctx<'_> {
    fn diag(&self, kind: DiagKind, m: Mark, msg: String, help: Option<String>) -> Diagnostic {
        self.sources.diag(kind, m, msg, help)
    }
    fn fatal(&self, kind: DiagKind, m: Mark, msg: String, help: Option<String>) -> Problem {
        Problem::Fatal(self.diag(kind, m, msg, help))
    }

    /// Compiles a search identifier's definition.
    pub fn search(&mut self, n: &Node) -> Result<Cond, Problem> {
        match &n.val {
            Yaml::Map(kv) => {
                let mut v = Vec::new();
                for (k, val) in kv {
                    v.push(self.item(k, val)?);
                }
                Ok(and(v))
            }
            Yaml::Seq(xs) if !xs.is_empty() && xs.iter().all(|x| matches!(x.val, Yaml::Map(_))) => {
                let mut v = Vec::new();
                for x in xs {
                    v.push(self.search(x)?);
                }
                Ok(or(v))
            }
            Yaml::Seq(xs) if xs.iter().all(|x| matches!(x.val, Yaml::Scalar { .. })) => {
                let values = xs
                    .iter()
                    .map(|x| (x.as_str().map(str::to_string), x.mark))
                    .collect();
                self.keywords(&Kind::default(), values, n.mark)
            }
            Yaml::Seq(_) => Err(self.fatal(
                DiagKind::Item,
                n.mark,
                "a search identifier's list must hold only maps or only strings".into(),
                Some("maps are OR-ed field selections, strings keywords".into()),
            )),
            Yaml::Scalar { .. } if !n.is_null() => {
                let v = vec![(n.as_str().map(str::to_string), n.mark)];
                self.keywords(&Kind::default(), v, n.mark)
            }
            Yaml::Scalar { .. } => Err(self.fatal(
                DiagKind::Item,
                n.mark,
                "empty search identifier".into(),
                Some("expected a map of fields, a list of maps or a list of keywords".into()),
            )),
        }
    }

    /// One `Field|modifiers: value(s)` of a map.
    fn item(&mut self, key: &Node, val: &Node) -> Result<Cond, Problem> {
        let text = key.as_str().unwrap_or("");
        let mut parts = text.split('|');
        let field = parts.next().unwrap_or("").trim();
        let mods: Vec<&str> = parts.map(str::trim).collect();
        let kind = self.modifiers(&mods, key.mark)?;
        let values = self.values(val)?;
        if field.is_empty() {
            return self.keywords(&kind, values, key.mark);
        }
        let targets = self.target(field, key.mark)?;
        let key_text = format!(
            "{}\0{:?}",
            mods.join("|"),
            values.iter().map(|v| &v.0).collect::<Vec<_>>()
        );
        match targets {
            Target::Absent => {
                if !self.absent.iter().any(|a| a == field) {
                    self.absent.push(field.to_string());
                }
                let one = |v: &Value| {
                    let holds = match (&kind.test, &v.0) {
                        (TestKind::Exists, Some(b)) => b.trim().eq_ignore_ascii_case("false"),
                        (_, None) => true,
                        _ => false,
                    };
                    Cond::Const(holds != kind.neq)
                };
                let v: Vec<Cond> = values.iter().map(one).collect();
                Ok(fold(if kind.all { and(v) } else { or(v) }))
            }
            Target::Initiated => {
                let mut v = Vec::new();
                for (s, m) in &values {
                    match s.as_deref().and_then(logsource::initiated) {
                        Some(c) => v.push(if kind.neq { not(c) } else { c }),
                        None => {
                            return Err(self.fatal(
                                DiagKind::BadValue,
                                *m,
                                "'Initiated' is 'true' or 'false'".into(),
                                None,
                            ))
                        }
                    }
                }
                Ok(if kind.all { and(v) } else { or(v) })
            }
            Target::Attrs(attrs) => {
                let mut v = Vec::new();
                for a in &attrs {
                    let Some(f) = (crate::namespace::POLICY.resolve)(a) else {
                        continue;
                    };
                    let c = self.field_values(f, a, &kind, &values, key.mark)?;
                    v.push(self.memo.wrap(format!("sigma\0{a}\0{key_text}"), c));
                }
                Ok(or(v))
            }
        }
    }

    fn modifiers(&self, mods: &[&str], at: Mark) -> Result<Kind, Problem> {
        modifiers::parse(mods).map_err(|e| match e {
            // Skipped, not fatal: the specification adds modifiers over time, and a rule of
            // a newer revision must not stop the rest of a corpus from loading (`strict`
            // makes it an error, as an unknown field).
            ModError::Unknown(m) => {
                let help = crate::suggest::closest(&m, modifiers::NAMES.iter().copied())
                    .map(|s| format!("did you mean '{s}'?"))
                    .or_else(|| Some(format!("expected one of: {}", modifiers::NAMES.join(", "))));
                Problem::Skip(self.diag(
                    DiagKind::BadOperator,
                    at,
                    format!("unknown modifier '{m}'"),
                    help,
                ))
            }
            ModError::Conflict(m) => self.fatal(DiagKind::BadOperator, at, m, None),
            ModError::Unsupported(m) => Problem::Skip(self.diag(DiagKind::Skipped, at, m, None)),
        })
    }

    /// A scalar, null, or a list of them.
    fn values(&self, val: &Node) -> Result<Vec<Value>, Problem> {
        let one = |n: &Node| -> Result<Value, Problem> {
            match &n.val {
                Yaml::Scalar { .. } if n.is_null() => Ok((None, n.mark)),
                Yaml::Scalar { text, .. } => Ok((Some(text.clone()), n.mark)),
                _ => Err(self.fatal(
                    DiagKind::Item,
                    n.mark,
                    "a field's value must be a string, a number, null or a list of them".into(),
                    None,
                )),
            }
        };
        match &val.val {
            Yaml::Seq(xs) if xs.is_empty() => Err(self.fatal(
                DiagKind::Item,
                val.mark,
                "empty list of values".into(),
                None,
            )),
            Yaml::Seq(xs) => xs.iter().map(one).collect(),
            _ => Ok(vec![one(val)?]),
        }
    }

    /// What a field name stands for in this rule's log source.
    fn target(&self, field: &str, at: Mark) -> Result<Target, Problem> {
        if let Some(t) = self.mapping.and_then(|m| m.fields.get(field)) {
            return Ok(Target::Attrs(t.clone()));
        }
        if let Some(t) = logsource::builtin(self.category, field) {
            return Ok(t);
        }
        if (crate::namespace::POLICY.resolve)(field).is_some() {
            return Ok(Target::Attrs(vec![field.to_string()]));
        }
        let mut names: Vec<&str> = logsource::builtin_names().collect();
        if let Some(m) = self.mapping {
            names.extend(m.fields.keys().map(String::as_str));
        }
        let help = crate::suggest::closest(field, names)
            .map(|s| format!("did you mean '{s}'?"))
            .or_else(|| {
                Some(format!(
                    "not a field of {} on SysFlow: map it in the Sigma field-mapping file, or use a SysFlow attribute (sf.*)",
                    self.category.name()
                ))
            });
        Err(Problem::Skip(self.diag(
            DiagKind::UnknownField,
            at,
            format!("unknown field '{field}'"),
            help,
        )))
    }

    /// The test of one attribute against the item's values.
    fn field_values(
        &mut self,
        f: FieldRef,
        attr: &str,
        kind: &Kind,
        values: &[Value],
        at: Mark,
    ) -> Result<Cond, Problem> {
        let fold = !kind.cased;
        let combine = |v: Vec<Cond>| if kind.all { and(v) } else { or(v) };
        let neg = |c: Cond| if kind.neq { not(c) } else { c };
        match &kind.test {
            TestKind::Exists => {
                let mut v = Vec::new();
                for (s, m) in values {
                    let present = match s.as_deref().map(|s| s.trim().to_ascii_lowercase()) {
                        Some(b) if b == "true" => true,
                        Some(b) if b == "false" => false,
                        _ => {
                            return Err(self.fatal(
                                DiagKind::BadValue,
                                *m,
                                "'exists' takes true or false".into(),
                                None,
                            ))
                        }
                    };
                    let t = if present {
                        TextMatch::Present
                    } else {
                        TextMatch::Null
                    };
                    v.push(neg(text(&f, fold, t)));
                }
                Ok(combine(v))
            }
            TestKind::Num(op) => {
                let mut v = Vec::new();
                for (s, m) in values {
                    match s.as_deref().and_then(|s| s.trim().parse::<i64>().ok()) {
                        Some(n) => v.push(neg(Cond::Test(f.clone(), Test::Num(*op, n)))),
                        None => {
                            return Err(self.fatal(
                                DiagKind::BadValue,
                                *m,
                                "gt/gte/lt/lte need a number".into(),
                                Some("expected an integer such as 0, 1024 or -1".into()),
                            ))
                        }
                    }
                }
                Ok(combine(v))
            }
            TestKind::Fieldref => {
                let op = match kind.transforms.last() {
                    Some(Modifier::Contains) if fold => PairOp::IContains,
                    Some(Modifier::Contains) => PairOp::Contains,
                    Some(Modifier::StartsWith) => PairOp::StartsWith,
                    Some(Modifier::EndsWith) => PairOp::EndsWith,
                    _ => PairOp::Eq,
                };
                let mut v = Vec::new();
                for (s, m) in values {
                    let name = s.as_deref().unwrap_or("").trim();
                    let g = match self.target(name, *m)? {
                        Target::Attrs(a) => (crate::namespace::POLICY.resolve)(&a[0]),
                        _ => None,
                    };
                    let Some(g) = g else {
                        return Err(self.fatal(
                            DiagKind::UnknownField,
                            *m,
                            format!("'fieldref' names '{name}', which SysFlow does not record"),
                            None,
                        ));
                    };
                    v.push(neg(Cond::Pair(f.clone(), op, g)));
                }
                Ok(combine(v))
            }
            TestKind::Re(flags) => {
                // Unanchored (a match anywhere), case-sensitive unless `i`, as the modifiers
                // appendix says; `all` tests each expression, otherwise one alternation.
                let build = |pats: &[&str], m: Mark| {
                    let alt = pats
                        .iter()
                        .map(|p| format!("(?:{p})"))
                        .collect::<Vec<_>>()
                        .join("|");
                    regex::RegexBuilder::new(&alt)
                        .case_insensitive(flags.contains(&'i'))
                        .multi_line(flags.contains(&'m'))
                        .dot_matches_new_line(flags.contains(&'s'))
                        .build()
                        .map(|re| neg(Cond::Test(f.clone(), Test::Regex(re))))
                        .map_err(|e| {
                            let why = e.to_string();
                            let why = why.lines().last().unwrap_or("").trim().to_string();
                            self.fatal(
                                DiagKind::BadValue,
                                m,
                                format!("bad regular expression: {why}"),
                                None,
                            )
                        })
                };
                let mut pats = Vec::new();
                for (s, m) in values {
                    match s {
                        Some(p) => pats.push((p.as_str(), *m)),
                        None => {
                            return Err(self.fatal(
                                DiagKind::BadValue,
                                *m,
                                "'re' needs a regular expression, not null".into(),
                                None,
                            ))
                        }
                    }
                }
                if kind.all || kind.neq {
                    let v = pats
                        .iter()
                        .map(|(p, m)| build(&[p], *m))
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(combine(v))
                } else {
                    let all: Vec<&str> = pats.iter().map(|(p, _)| *p).collect();
                    build(&all, at)
                }
            }
            TestKind::Cidr => {
                // SysFlow's flows carry IPv4 addresses: an IPv6 network matches none of them.
                let mut nets = Vec::new();
                let mut per_value = Vec::new();
                for (s, m) in values {
                    let text = s.as_deref().unwrap_or("").trim();
                    match Net4::parse(text) {
                        Some(n) => {
                            nets.push(n);
                            per_value.push(neg(Cond::Test(f.clone(), Test::Cidr(vec![n].into()))));
                        }
                        None if text.contains(':') => per_value.push(neg(Cond::Const(false))),
                        None => {
                            return Err(self.fatal(
                                DiagKind::BadValue,
                                *m,
                                format!("'{text}' is not a network"),
                                Some("expected a CIDR network such as 10.0.0.0/8".into()),
                            ))
                        }
                    }
                }
                if kind.all || kind.neq {
                    Ok(combine(per_value))
                } else if nets.is_empty() {
                    Ok(Cond::Const(false))
                } else {
                    Ok(Cond::Test(f, Test::Cidr(nets.into())))
                }
            }
            TestKind::Text => {
                let proto = attr == "sf.net.proto";
                let mut groups = Vec::new();
                for (s, m) in values {
                    let Some(s) = s else {
                        groups.push(vec![Expanded::Null]);
                        continue;
                    };
                    let s = match proto.then(|| logsource::protocol_number(s)).flatten() {
                        Some(n) => n,
                        None => s.as_str(),
                    };
                    let shapes = self.expand(SigmaStr::parse(s), kind, *m)?;
                    groups.push(shapes.into_iter().map(Expanded::Shape).collect());
                }
                if kind.all || kind.neq {
                    // Each value on its own (its expansions OR-ed), then combined.
                    let v = groups
                        .into_iter()
                        .map(|g| neg(tests(&f, fold, g)))
                        .collect();
                    Ok(combine(v))
                } else {
                    Ok(tests(&f, fold, groups.into_iter().flatten().collect()))
                }
            }
        }
    }

    /// Applies the transformation modifiers in order.
    fn expand(&self, s: SigmaStr, kind: &Kind, at: Mark) -> Result<Vec<Shape>, Problem> {
        let mut vals = vec![s];
        let bad = |m: String| self.fatal(DiagKind::BadValue, at, m, None);
        for t in &kind.transforms {
            let mut next = Vec::new();
            for v in vals {
                match t {
                    Modifier::Contains => next.push(v.contains()),
                    Modifier::StartsWith => next.push(v.starts_with()),
                    Modifier::EndsWith => next.push(v.ends_with()),
                    Modifier::Base64 => next.push(v.base64().map_err(bad)?),
                    Modifier::Base64Offset => next.extend(v.base64offset().map_err(bad)?),
                    Modifier::Utf16Le => next.push(v.utf16(false, false).map_err(bad)?),
                    Modifier::Utf16Be => next.push(v.utf16(true, false).map_err(bad)?),
                    Modifier::Utf16 => next.push(v.utf16(false, true).map_err(bad)?),
                    Modifier::Windash => next.extend(v.windash().map_err(bad)?),
                    _ => next.push(v),
                }
            }
            if next.len() > MAX_EXPANSION {
                return Err(bad(format!(
                    "the modifiers expand this value into more than {MAX_EXPANSION} values"
                )));
            }
            vals = next;
        }
        vals.iter().map(|v| v.shape().map_err(bad)).collect()
    }

    /// Keywords: each value (with wildcards, as a substring) in any of the log source's
    /// keyword attributes.
    fn keywords(&mut self, kind: &Kind, values: Vec<Value>, at: Mark) -> Result<Cond, Problem> {
        if kind.test != TestKind::Text || kind.neq {
            return Err(self.fatal(
                DiagKind::BadOperator,
                at,
                "keywords take only string modifiers and 'all'".into(),
                None,
            ));
        }
        let fold = !kind.cased;
        let mut per_value = Vec::new();
        for (s, m) in &values {
            let Some(s) = s else {
                return Err(self.fatal(
                    DiagKind::BadValue,
                    *m,
                    "a keyword cannot be null".into(),
                    None,
                ));
            };
            let shapes = self.expand(SigmaStr::parse(s).contains(), kind, *m)?;
            per_value.push(shapes);
        }
        let mut by_field = |shapes: Vec<Shape>| -> Cond {
            let v = logsource::keyword_fields(self.category)
                .iter()
                .filter_map(|a| (crate::namespace::POLICY.resolve)(a))
                .map(|f| {
                    tests(
                        &f,
                        fold,
                        shapes.iter().cloned().map(Expanded::Shape).collect(),
                    )
                })
                .collect();
            or(v)
        };
        let c = if kind.all {
            and(per_value.into_iter().map(&mut by_field).collect())
        } else {
            by_field(per_value.into_iter().flatten().collect())
        };
        let key = format!(
            "sigma-kw\0{}\0{:?}",
            self.category.name(),
            values.iter().map(|v| &v.0).collect::<Vec<_>>()
        );
        Ok(self
            .memo
            .wrap(format!("{key}\0{}{}", kind.all, kind.cased), c))
    }
}

/// One value after its transformations.
#[derive(Debug, Clone)]
enum Expanded {
    Shape(Shape),
    Null,
}

fn text(f: &FieldRef, fold: bool, m: TextMatch) -> Cond {
    Cond::Test(f.clone(), Test::Text(TextTest { fold, m }))
}

/// The OR of tests for values: equal values in one list test, prefixes, suffixes and
/// substrings each in one test (substrings in one automaton), wildcard patterns alone.
fn tests(f: &FieldRef, fold: bool, vals: Vec<Expanded>) -> Cond {
    let lower = |s: &str| -> Box<str> {
        if fold {
            s.to_ascii_lowercase().into()
        } else {
            s.into()
        }
    };
    let (mut eq, mut pre, mut suf, mut sub) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut out = Vec::new();
    for v in vals {
        match v {
            Expanded::Null => out.push(text(f, fold, TextMatch::Null)),
            Expanded::Shape(Shape::Exact(s)) => eq.push(TextLit::new(&s, fold)),
            Expanded::Shape(Shape::Prefix(s)) => pre.push(lower(&s)),
            Expanded::Shape(Shape::Suffix(s)) => suf.push(lower(&s)),
            Expanded::Shape(Shape::Contains(s)) => sub.push(s),
            Expanded::Shape(Shape::Wild(p)) => {
                let p = p
                    .into_iter()
                    .map(|w| match w {
                        crate::text::WildPart::Lit(l) => crate::text::WildPart::Lit(lower(&l)),
                        o => o,
                    })
                    .collect();
                out.push(text(f, fold, TextMatch::Wild(p)));
            }
        }
    }
    match eq.len() {
        0 => {}
        1 => out.push(text(f, fold, TextMatch::Eq(eq.remove(0)))),
        _ => out.push(text(f, fold, TextMatch::In(eq.into()))),
    }
    match pre.len() {
        0 => {}
        1 => out.push(text(f, fold, TextMatch::Prefix(pre.remove(0)))),
        _ => out.push(text(f, fold, TextMatch::AnyPrefix(pre.into()))),
    }
    match suf.len() {
        0 => {}
        1 => out.push(text(f, fold, TextMatch::Suffix(suf.remove(0)))),
        _ => out.push(text(f, fold, TextMatch::AnySuffix(suf.into()))),
    }
    match sub.len() {
        0 => {}
        1 => out.push(text(f, fold, TextMatch::Contains(lower(&sub[0])))),
        _ => {
            // Patterns are strings from the rule: the builder cannot fail on them; were it to,
            // one substring test per value means the same.
            match AhoCorasick::builder()
                .ascii_case_insensitive(fold)
                .build(&sub)
            {
                Ok(ac) => out.push(text(f, fold, TextMatch::AnyContains(ac))),
                Err(_) => out.extend(
                    sub.iter()
                        .map(|s| text(f, fold, TextMatch::Contains(lower(s)))),
                ),
            }
        }
    }
    or(out)
}

pub fn and(mut v: Vec<Cond>) -> Cond {
    if v.len() == 1 {
        v.remove(0)
    } else {
        Cond::And(v.into())
    }
}

pub fn or(mut v: Vec<Cond>) -> Cond {
    if v.len() == 1 {
        v.remove(0)
    } else {
        Cond::Or(v.into())
    }
}

pub fn not(c: Cond) -> Cond {
    match c {
        Cond::Const(b) => Cond::Const(!b),
        c => Cond::Not(Box::new(c)),
    }
}

/// Folds constants (fields SysFlow lacks compile to them): `x and false` is false, `x or
/// true` true, `not true` false; and/or of one term is the term.
pub fn fold(c: Cond) -> Cond {
    match c {
        Cond::And(v) => fold_terms(v.into_vec(), false, and),
        Cond::Or(v) => fold_terms(v.into_vec(), true, or),
        Cond::Not(c) => not(fold(*c)),
        Cond::Memo(id, c) => match fold(*c) {
            c @ Cond::Const(_) => c,
            c => Cond::Memo(id, Box::new(c)),
        },
        c => c,
    }
}

/// The terms of an and (`absorbing` false) or an or (true), folded: a term equal to
/// `absorbing` decides the whole, the other constant drops out.
fn fold_terms(v: Vec<Cond>, absorbing: bool, make: fn(Vec<Cond>) -> Cond) -> Cond {
    let mut out = Vec::new();
    for c in v {
        match fold(c) {
            Cond::Const(b) if b == absorbing => return Cond::Const(b),
            Cond::Const(_) => {}
            c => out.push(c),
        }
    }
    if out.is_empty() {
        Cond::Const(!absorbing)
    } else {
        make(out)
    }
}
