//! Sigma documents to compiled rules: each rule's log source selects the SysFlow records, its
//! detection and condition compile to the engine's condition tree, and the meta filters that
//! name it are AND-ed on.

use std::collections::HashMap;

use crate::compile::Problem;
use crate::error::{DiagKind, Diagnostic};
use crate::eval::Cond;
use crate::load::{Mark, Node, Sources, Yaml};
use crate::rule::Rule;

use super::condition::{self, Expr};
use super::detection::{and, fold, not, or, Ctx, Memo};
use super::document::{self, Doc, Meta};
use super::logsource;
use super::mapping::Mapping;

/// Compiled Sigma rules, in file order.
#[derive(Debug, Default)]
pub struct Output {
    pub rules: Vec<(Rule, Cond)>,
    /// Rules skipped with a warning (other log sources, unsupported features, unknown
    /// fields): title and why.
    pub skipped: Vec<(String, String)>,
    /// Memo slots handed out in all (the Falco compiler's included).
    pub memo_slots: usize,
}

/// A meta filter: its detection is AND-ed to the rules it names.
struct Filter {
    meta: Meta,
    node: Node,
    /// Rule ids, names or titles; `None`: every rule of the log source.
    rules: Option<Vec<String>>,
    used: bool,
}

/// Compiles the Sigma documents of `files` (file index in `sources`, its YAML documents).
pub fn compile(
    sources: &Sources,
    files: Vec<(u32, Vec<Node>)>,
    mapping: Option<&Mapping>,
    memo_base: usize,
    strict: bool,
    errors: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) -> Output {
    let mut out = Output::default();
    let mut memo = Memo::new(memo_base);
    // Filters first: they apply to rules of any file.
    let mut docs = Vec::new();
    let mut filters = Vec::new();
    for (_, nodes) in files {
        for d in document::documents(sources, nodes, errors) {
            match d {
                Doc::Filter(n) => filters.extend(filter(sources, n, errors)),
                d => docs.push(d),
            }
        }
    }
    for d in docs {
        let n = match d {
            Doc::Rule(n) => n,
            Doc::Filter(_) => continue,
            Doc::Correlation(n) => {
                let title = n.get("title").and_then(Node::as_str).unwrap_or("?");
                warnings.push(sources.diag(
                    DiagKind::Skipped,
                    n.get("title").map_or(n.mark, |t| t.mark),
                    format!("correlation rule '{title}' skipped: correlations (event counts, temporal order) need state across records and are not evaluated"),
                    Some("the rules it correlates load on their own".into()),
                ));
                out.skipped
                    .push((title.to_string(), "a correlation rule".into()));
                continue;
            }
        };
        let n = &n;
        let Some(meta) = document::meta(sources, n, errors) else {
            continue;
        };
        let skip = |d: Diagnostic,
                    warnings: &mut Vec<Diagnostic>,
                    errors: &mut Vec<Diagnostic>,
                    skipped: &mut Vec<(String, String)>| {
            if strict && matches!(d.kind, DiagKind::UnknownField | DiagKind::BadOperator) {
                errors.push(d);
            } else {
                let mut d = d;
                skipped.push((meta.title.clone(), d.message.clone()));
                d.message = format!("rule '{}' skipped: {}", meta.title, d.message);
                warnings.push(d);
            }
        };
        if meta.status.as_deref() == Some("unsupported") {
            skip(
                sources.diag(
                    DiagKind::Skipped,
                    meta.mark,
                    "its status is 'unsupported'".into(),
                    None,
                ),
                warnings,
                errors,
                &mut out.skipped,
            );
            continue;
        }
        let category = match meta.logsource.category() {
            Ok(c) => c,
            Err(why) => {
                let at = n.get("logsource").map_or(meta.mark, |l| l.mark);
                skip(
                    sources.diag(
                        DiagKind::Skipped,
                        at,
                        format!("log source ({}) is not mapped to SysFlow: {why}", meta.logsource.describe()),
                        Some("SysFlow records map to process_creation, file_event, file_delete, file_rename and network_connection (product linux), or service sysflow".into()),
                    ),
                    warnings,
                    errors,
                    &mut out.skipped,
                );
                continue;
            }
        };
        let mut ctx = Ctx {
            sources,
            mapping,
            category,
            memo: &mut memo,
            absent: Vec::new(),
        };
        let mut res = detection(&mut ctx, n, meta.mark);
        for f in filters.iter_mut() {
            if res.is_err() {
                break;
            }
            if !applies(f, &meta) {
                continue;
            }
            f.used = true;
            let fc = detection(&mut ctx, &f.node, f.meta.mark);
            res = match (res, fc) {
                (Ok(c), Ok(fc)) => Ok(and(vec![c, fc])),
                (Err(e), _) | (_, Err(e)) => Err(e),
            };
        }
        let absent = std::mem::take(&mut ctx.absent);
        let det = match res {
            Ok(c) => c,
            Err(Problem::Fatal(d)) => {
                errors.push(d);
                continue;
            }
            Err(Problem::Skip(d)) => {
                skip(d, warnings, errors, &mut out.skipped);
                continue;
            }
        };
        let cond = fold(and(vec![logsource::records(category), det]));
        if matches!(cond, Cond::Const(false)) {
            warnings.push(sources.diag(
                DiagKind::UnsupportedField,
                meta.mark,
                format!(
                    "rule '{}' can never match: SysFlow does not record {}",
                    meta.title,
                    if absent.is_empty() { "what it selects".to_string() } else { absent.join(", ") }
                ),
                Some("it is loaded, as sf-processor loads it; see docs/sigma.md for the fields SysFlow has".into()),
            ));
        }
        let loc = sources.loc(meta.mark);
        out.rules.push((
            Rule {
                name: meta.title.clone(),
                desc: if meta.description.is_empty() {
                    meta.title.clone()
                } else {
                    meta.description.clone()
                },
                output: None,
                priority: meta.priority,
                tags: meta.tags.clone(),
                actions: Vec::new(),
                origin: format!("{}:{}", loc.file.display(), loc.line),
                id: meta.id.clone(),
                falco: false,
                template: None,
            },
            cond,
        ));
    }
    for f in &filters {
        if !f.used {
            warnings.push(sources.diag(
                DiagKind::Skipped,
                f.meta.mark,
                format!("filter '{}' applies to no loaded rule", f.meta.title),
                Some("its 'rules' name rule ids, names or titles; its log source must cover theirs".into()),
            ));
        }
    }
    out.memo_slots = memo.slots();
    out
}

/// Whether filter `f` applies to the rule of `m`.
fn applies(f: &Filter, m: &Meta) -> bool {
    f.meta.logsource.covers(&m.logsource)
        && f.rules.as_ref().is_none_or(|names| {
            names
                .iter()
                .any(|r| Some(r) == m.id.as_ref() || Some(r) == m.name.as_ref() || *r == m.title)
        })
}

fn filter(sources: &Sources, n: Node, errors: &mut Vec<Diagnostic>) -> Option<Filter> {
    let meta = document::meta(sources, &n, errors)?;
    let body = n.get("filter")?.clone();
    let rules = match body.get("rules").map(|r| &r.val) {
        Some(Yaml::Scalar { text, .. })
            if matches!(text.trim().to_ascii_lowercase().as_str(), "any" | "all") =>
        {
            None
        }
        Some(Yaml::Scalar { text, .. }) => Some(vec![text.trim().to_string()]),
        Some(Yaml::Seq(xs)) if xs.is_empty() => None,
        Some(Yaml::Seq(xs)) => Some(
            xs.iter()
                .filter_map(|x| x.as_str().map(|s| s.trim().to_string()))
                .collect(),
        ),
        _ => {
            errors.push(sources.diag(
                DiagKind::Item,
                body.mark,
                "a Sigma filter needs 'rules': rule ids or names, or 'any'".into(),
                None,
            ));
            return None;
        }
    };
    Some(Filter {
        meta,
        node: body,
        rules,
        used: false,
    })
}

/// A detection (a rule's `detection`, or a filter's `filter` body): its search identifiers
/// combined by its condition(s); several conditions are OR-ed.
fn detection(ctx: &mut Ctx<'_>, doc: &Node, title_mark: Mark) -> Result<Cond, Problem> {
    let s = ctx.sources;
    let det = match doc.get("detection") {
        Some(d) => d,
        None if doc.get("condition").is_some() => doc,
        None => {
            return Err(Problem::Fatal(s.diag(
                DiagKind::Item,
                title_mark,
                "a Sigma rule needs a 'detection'".into(),
                None,
            )))
        }
    };
    let Yaml::Map(kv) = &det.val else {
        return Err(Problem::Fatal(s.diag(
            DiagKind::Item,
            det.mark,
            "'detection' must be a mapping".into(),
            None,
        )));
    };
    let idents: Vec<(&str, &Node)> = kv
        .iter()
        .filter_map(|(k, v)| k.as_str().map(|k| (k, v)))
        .filter(|(k, _)| !matches!(*k, "condition" | "timeframe" | "rules"))
        .collect();
    let Some(cnode) = det.get("condition") else {
        return Err(Problem::Fatal(s.diag(
            DiagKind::Item,
            det.mark,
            "the detection has no 'condition'".into(),
            Some("e.g. 'condition: selection'".into()),
        )));
    };
    let conds: Vec<&Node> = match &cnode.val {
        Yaml::Seq(xs) => xs.iter().collect(),
        _ => vec![cnode],
    };
    let mut cache: HashMap<String, Cond> = HashMap::new();
    let mut out = Vec::new();
    for c in conds {
        let Some(text) = c.as_str() else {
            return Err(Problem::Fatal(s.diag(
                DiagKind::Item,
                c.mark,
                "a condition must be a string".into(),
                None,
            )));
        };
        let expr = condition::parse(text).map_err(|e| {
            let d = s.diag(
                if e.unsupported {
                    DiagKind::Skipped
                } else {
                    DiagKind::Syntax
                },
                s.locate_in_scalar(c, e.at),
                e.message,
                e.help,
            );
            if e.unsupported {
                Problem::Skip(d)
            } else {
                Problem::Fatal(d)
            }
        })?;
        out.push(expr_cond(ctx, &expr, &idents, c, &mut cache)?);
    }
    Ok(or(out))
}

fn expr_cond(
    ctx: &mut Ctx<'_>,
    e: &Expr,
    idents: &[(&str, &Node)],
    cnode: &Node,
    cache: &mut HashMap<String, Cond>,
) -> Result<Cond, Problem> {
    let ident = |ctx: &mut Ctx<'_>,
                 name: &str,
                 cache: &mut HashMap<String, Cond>|
     -> Result<Cond, Problem> {
        if let Some(c) = cache.get(name) {
            return Ok(c.clone());
        }
        let (_, n) = idents
            .iter()
            .find(|(k, _)| *k == name)
            .ok_or_else(|| unreachable_ident(ctx, name, cnode))?;
        let c = ctx.search(n)?;
        cache.insert(name.to_string(), c.clone());
        Ok(c)
    };
    Ok(match e {
        Expr::And(v) => and(v
            .iter()
            .map(|x| expr_cond(ctx, x, idents, cnode, cache))
            .collect::<Result<_, _>>()?),
        Expr::Or(v) => or(v
            .iter()
            .map(|x| expr_cond(ctx, x, idents, cnode, cache))
            .collect::<Result<_, _>>()?),
        Expr::Not(x) => not(expr_cond(ctx, x, idents, cnode, cache)?),
        Expr::Ident { name, at } => {
            if !idents.iter().any(|(k, _)| k == name) {
                let help = crate::suggest::closest(name, idents.iter().map(|(k, _)| *k))
                    .map(|s| format!("did you mean '{s}'?"))
                    .or_else(|| {
                        Some(format!(
                            "defined: {}",
                            idents
                                .iter()
                                .map(|(k, _)| *k)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    });
                return Err(Problem::Fatal(ctx.sources.diag(
                    DiagKind::Item,
                    ctx.sources.locate_in_scalar(cnode, *at),
                    format!("undefined search identifier '{name}'"),
                    help,
                )));
            }
            ident(ctx, name, cache)?
        }
        Expr::Of { all, pattern, at } => {
            let names: Vec<&str> = idents
                .iter()
                .map(|(k, _)| *k)
                .filter(|k| match pattern {
                    Some(p) => condition::pattern_matches(p, k),
                    None => !k.starts_with('_'),
                })
                .collect();
            if names.is_empty() {
                return Err(Problem::Fatal(ctx.sources.diag(
                    DiagKind::Item,
                    ctx.sources.locate_in_scalar(cnode, *at),
                    format!(
                        "no search identifier matches '{}'",
                        pattern.as_deref().unwrap_or("them")
                    ),
                    None,
                )));
            }
            let v = names
                .iter()
                .map(|n| ident(ctx, n, cache))
                .collect::<Result<Vec<_>, _>>()?;
            if *all {
                and(v)
            } else {
                or(v)
            }
        }
    })
}

fn unreachable_ident(ctx: &Ctx<'_>, name: &str, cnode: &Node) -> Problem {
    Problem::Fatal(ctx.sources.diag(
        DiagKind::Item,
        cnode.mark,
        format!("undefined search identifier '{name}'"),
        None,
    ))
}
