//! Sigma YAML documents: rules, meta filters and correlation rules, with the legacy rule
//! collections of one file (`action: global`, `reset`, `repeat`) merged first.

use crate::error::{DiagKind, Diagnostic};
use crate::load::{Mark, Node, Sources, Yaml};
use crate::rule::Priority;

use super::logsource::LogSource;

/// One document of a Sigma file.
#[derive(Debug, Clone)]
pub enum Doc {
    Rule(Node),
    /// A meta filter (`filter:` with `rules:`), applied to the rules it names.
    Filter(Node),
    /// A correlation rule: needs state across records, not evaluated.
    Correlation(Node),
}

/// Whether a top-level node looks like a Sigma document (a mapping with Sigma's keys).
pub fn looks_like_sigma(n: &Node) -> bool {
    ["detection", "logsource", "correlation", "filter", "action"]
        .iter()
        .any(|k| n.get(k).is_some())
}

/// Merges `b` over `a`: nested mappings key by key, anything else replaced.
fn merge(a: &Node, b: &Node) -> Node {
    match (&a.val, &b.val) {
        (Yaml::Map(x), Yaml::Map(y)) => {
            let mut out = x.clone();
            for (k, v) in y {
                match out.iter_mut().find(|(ok, _)| ok.as_str() == k.as_str()) {
                    Some((_, ov)) => *ov = merge(ov, v),
                    None => out.push((k.clone(), v.clone())),
                }
            }
            Node {
                mark: b.mark,
                val: Yaml::Map(out),
            }
        }
        _ => b.clone(),
    }
}

fn without(n: &Node, key: &str) -> Node {
    match &n.val {
        Yaml::Map(kv) => Node {
            mark: n.mark,
            val: Yaml::Map(
                kv.iter()
                    .filter(|(k, _)| k.as_str() != Some(key))
                    .cloned()
                    .collect(),
            ),
        },
        _ => n.clone(),
    }
}

/// The documents of one file, collections merged and each classified.
pub fn documents(sources: &Sources, nodes: Vec<Node>, errors: &mut Vec<Diagnostic>) -> Vec<Doc> {
    let mut out = Vec::new();
    let mut global: Option<Node> = None;
    let mut previous: Option<Node> = None;
    for n in nodes {
        if n.is_null() {
            continue;
        }
        if !matches!(n.val, Yaml::Map(_)) {
            errors.push(sources.diag(
                DiagKind::Item,
                n.mark,
                "a Sigma document must be a mapping".into(),
                Some("expected title, logsource and detection".into()),
            ));
            continue;
        }
        let doc = match n.get("action").and_then(Node::as_str).map(str::trim) {
            Some("global") => {
                let g = without(&n, "action");
                global = Some(match &global {
                    Some(old) => merge(old, &g),
                    None => g,
                });
                continue;
            }
            Some("reset") => {
                global = None;
                continue;
            }
            Some("repeat") => match &previous {
                Some(p) => merge(p, &without(&n, "action")),
                None => {
                    errors.push(sources.diag(
                        DiagKind::Item,
                        n.mark,
                        "'action: repeat' needs a rule before it".into(),
                        None,
                    ));
                    continue;
                }
            },
            Some(a) => {
                errors.push(sources.diag(
                    DiagKind::Item,
                    n.mark,
                    format!("unknown action '{a}'"),
                    Some("expected global, reset or repeat".into()),
                ));
                continue;
            }
            None => match &global {
                Some(g) => merge(g, &n),
                None => n,
            },
        };
        previous = Some(doc.clone());
        if doc.get("correlation").is_some() {
            out.push(Doc::Correlation(doc));
        } else if doc.get("filter").is_some() && doc.get("detection").is_none() {
            out.push(Doc::Filter(doc));
        } else if doc.get("detection").is_some() || doc.get("logsource").is_some() {
            out.push(Doc::Rule(doc));
        } else {
            errors.push(sources.diag(
                DiagKind::Item,
                doc.mark,
                "not a Sigma rule: no 'detection' and no 'logsource'".into(),
                Some("a Sigma rule is a mapping with title, logsource and detection; a Falco rule file is a YAML list of items".into()),
            ));
        }
    }
    out
}

/// The metadata of a rule or filter.
#[derive(Debug, Clone)]
pub struct Meta {
    pub title: String,
    pub id: Option<String>,
    pub name: Option<String>,
    pub description: String,
    pub status: Option<String>,
    pub priority: Priority,
    pub tags: Vec<String>,
    pub logsource: LogSource,
    pub mark: Mark,
}

/// Reads one document's metadata; `None` after reporting what is missing or malformed.
pub fn meta(sources: &Sources, doc: &Node, errors: &mut Vec<Diagnostic>) -> Option<Meta> {
    let mut ok = true;
    let mut err = |m: Mark, msg: String, help: Option<&str>| {
        errors.push(sources.diag(DiagKind::Item, m, msg, help.map(Into::into)));
        ok = false;
    };
    let text = |k: &str| {
        doc.get(k)
            .and_then(Node::as_str)
            .map(|s| s.trim().to_string())
    };
    let title = match doc.get("title") {
        Some(t) => match t.as_str().map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => s.to_string(),
            None => {
                err(t.mark, "'title' must be a non-empty string".into(), None);
                String::new()
            }
        },
        None => {
            err(doc.mark, "a Sigma rule needs a 'title'".into(), None);
            String::new()
        }
    };
    let priority = match doc.get("level") {
        None => Priority::Informational,
        Some(l) => match l.as_str().map(|s| s.trim().to_ascii_lowercase()) {
            Some(s) if s == "informational" => Priority::Informational,
            Some(s) if s == "low" => Priority::Low,
            Some(s) if s == "medium" => Priority::Medium,
            Some(s) if s == "high" => Priority::High,
            Some(s) if s == "critical" => Priority::Critical,
            _ => {
                err(
                    l.mark,
                    "unknown level".into(),
                    Some("expected informational, low, medium, high or critical"),
                );
                Priority::Informational
            }
        },
    };
    let mut tags = Vec::new();
    match doc.get("tags").map(|t| &t.val) {
        None => {}
        Some(Yaml::Seq(xs)) => {
            for x in xs {
                match x.as_str() {
                    Some(s) => tags.push(s.trim().to_string()),
                    None => err(x.mark, "tags must be strings".into(), None),
                }
            }
        }
        Some(_) => err(
            doc.get("tags").map_or(doc.mark, |t| t.mark),
            "'tags' must be a list".into(),
            Some("expected tags: [attack.execution, attack.t1059]"),
        ),
    }
    let mut logsource = LogSource::default();
    match doc.get("logsource") {
        Some(
            ls @ Node {
                val: Yaml::Map(kv), ..
            },
        ) => {
            let _ = ls;
            for (k, v) in kv {
                let slot = match k.as_str() {
                    Some("category") => &mut logsource.category,
                    Some("product") => &mut logsource.product,
                    Some("service") => &mut logsource.service,
                    _ => continue,
                };
                match v.as_str() {
                    Some(s) if !s.trim().is_empty() => *slot = Some(s.trim().to_ascii_lowercase()),
                    _ if v.is_null() => {}
                    _ => err(v.mark, "log source values must be strings".into(), None),
                }
            }
        }
        Some(ls) => err(
            ls.mark,
            "'logsource' must be a mapping".into(),
            Some("expected category, product and/or service"),
        ),
        None => err(doc.mark, "a Sigma rule needs a 'logsource'".into(), None),
    }
    ok.then(|| Meta {
        title,
        id: text("id"),
        name: text("name"),
        description: text("description").unwrap_or_default(),
        status: text("status").map(|s| s.to_ascii_lowercase()),
        priority,
        tags,
        logsource,
        mark: doc.get("title").map_or(doc.mark, |t| t.mark),
    })
}
