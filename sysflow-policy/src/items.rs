//! YAML items (`rule`, `macro`, `list`, `filter`/`drop`, `required_engine_version`) to
//! definitions, applying Falco's `append` and `override` in load order.

use std::collections::HashMap;

use crate::error::{DiagKind, Diagnostic};
use crate::load::{Mark, Node, Sources, Yaml};
use crate::rule::Priority;

/// Condition text, possibly assembled from several scalars by `append`; each segment keeps
/// its scalar so that offsets map back to file positions.
#[derive(Debug, Clone, Default)]
pub struct CondSrc {
    pub text: String,
    pub segs: Vec<(usize, Node)>,
}

impl CondSrc {
    fn from_node(n: &Node) -> Self {
        let mut c = CondSrc::default();
        c.push(n);
        c
    }
    fn push(&mut self, n: &Node) {
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        self.segs.push((self.text.len(), n.clone()));
        self.text.push_str(n.as_str().unwrap_or(""));
    }
    /// File position of byte `at` of the text.
    pub fn mark(&self, sources: &Sources, at: usize) -> Mark {
        let Some((start, node)) = self
            .segs
            .iter()
            .rev()
            .find(|(s, _)| *s <= at)
            .or(self.segs.first())
        else {
            return Mark {
                file: 0,
                line: 1,
                col: 0,
            };
        };
        sources.locate_in_scalar(node, at.saturating_sub(*start))
    }
}

#[derive(Debug, Clone)]
pub struct ListDef {
    pub items: Vec<(String, Mark)>,
}

#[derive(Debug, Clone)]
pub struct MacroDef {
    pub cond: CondSrc,
}

/// One value of an exception tuple: a scalar, or a list for `in`-like comparisons.
#[derive(Debug, Clone)]
pub enum ExValue {
    One(String, Mark),
    Many(Vec<(String, Mark)>),
}

#[derive(Debug, Clone)]
pub struct ExceptionDef {
    pub name: String,
    pub fields: Vec<(String, Mark)>,
    pub comps: Vec<(String, Mark)>,
    pub values: Vec<Vec<ExValue>>,
    pub mark: Mark,
}

#[derive(Debug, Clone)]
pub struct RuleDef {
    pub name: String,
    pub desc: String,
    pub cond: CondSrc,
    pub output: Option<String>,
    pub priority: Priority,
    pub tags: Vec<String>,
    pub prefilter: Vec<(String, Mark)>,
    pub enabled: bool,
    pub actions: Vec<String>,
    pub exceptions: Vec<ExceptionDef>,
    pub mark: Mark,
}

#[derive(Debug, Clone)]
pub struct FilterDef {
    pub name: String,
    pub cond: CondSrc,
    pub enabled: bool,
}

/// Everything defined by the loaded files, in declaration order.
#[derive(Debug, Default)]
pub struct Defs {
    pub lists: HashMap<String, ListDef>,
    pub macros: HashMap<String, MacroDef>,
    pub rules: Vec<RuleDef>,
    rule_idx: HashMap<String, usize>,
    pub filters: Vec<FilterDef>,
    /// Rules skipped at load (other event source): name and reason.
    pub skipped: Vec<String>,
    pub files: usize,
    /// Files in the Falco dialect (they declare `required_engine_version` or
    /// `required_plugin_versions`), by file index.
    pub falco_files: std::collections::HashSet<u32>,
}

/// Reads the items (rules, macros, lists, filters) of one file's top-level node into [`Defs`].
pub struct ItemReader<'a> {
    pub sources: &'a Sources,
    pub defs: &'a mut Defs,
    pub errors: &'a mut Vec<Diagnostic>,
    pub warnings: &'a mut Vec<Diagnostic>,
}

const RULE_KEYS: &[&str] = &[
    "rule",
    "desc",
    "condition",
    "output",
    "priority",
    "tags",
    "prefilter",
    "enabled",
    "action",
    "actions",
    "exceptions",
    "append",
    "override",
    "source",
    "warn_evttypes",
    "skip-if-unknown-filter",
    "required_engine_version",
    "capture",
    "capture_duration",
];

impl ItemReader<'_> {
    fn err(&mut self, kind: DiagKind, m: Mark, msg: String, help: Option<String>) {
        self.errors.push(self.sources.diag(kind, m, msg, help));
    }
    fn warn(&mut self, kind: DiagKind, m: Mark, msg: String, help: Option<String>) {
        self.warnings.push(self.sources.diag(kind, m, msg, help));
    }

    /// Processes the top-level node of a file.
    pub fn file(&mut self, root: Option<&Node>) {
        self.defs.files += 1;
        let Some(root) = root else { return };
        let Yaml::Seq(items) = &root.val else {
            if !root.is_null() {
                self.err(
                    DiagKind::Item,
                    root.mark,
                    "a policy file must be a YAML list of items".into(),
                    Some("expected items such as '- rule: NAME'".into()),
                );
            }
            return;
        };
        for it in items {
            self.item(it);
        }
    }

    fn item(&mut self, it: &Node) {
        let Yaml::Map(kv) = &it.val else {
            self.err(
                DiagKind::Item,
                it.mark,
                "an item must be a mapping".into(),
                Some(
                    "expected one of: rule, macro, list, filter, drop, required_engine_version"
                        .into(),
                ),
            );
            return;
        };
        for kind in [
            "rule",
            "macro",
            "list",
            "filter",
            "drop",
            "required_engine_version",
            "required_plugin_versions",
        ] {
            if let Some(v) = it.get(kind) {
                match kind {
                    "rule" => self.rule(it, v),
                    "macro" => self.macro_(it, v),
                    "list" => self.list(it, v),
                    "filter" | "drop" => self.filter(it, v),
                    // Accepted, not checked (Falco's versions mean nothing here); they mark
                    // the file as Falco's dialect.
                    _ => {
                        self.defs.falco_files.insert(it.mark.file);
                    }
                }
                return;
            }
        }
        let (k, _) = &kv[0];
        let name = k.as_str().unwrap_or("?").to_string();
        let help = super::suggest::closest(&name, ["rule", "macro", "list", "filter", "drop"])
            .map(|s| format!("did you mean '{s}'?"));
        self.warn(
            DiagKind::UnknownKey,
            k.mark,
            format!("unknown item '{name}' ignored"),
            help,
        );
    }

    fn name_of(&mut self, v: &Node, what: &str) -> Option<String> {
        match v.as_str() {
            Some(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            _ => {
                self.err(
                    DiagKind::Item,
                    v.mark,
                    format!("{what} needs a name"),
                    Some(format!("expected '- {what}: NAME'")),
                );
                None
            }
        }
    }

    fn string_key(&mut self, it: &Node, key: &str) -> Option<String> {
        let v = it.get(key)?;
        match v.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                self.err(
                    DiagKind::Item,
                    v.mark,
                    format!("'{key}' must be a string"),
                    None,
                );
                None
            }
        }
    }

    fn bool_key(&mut self, it: &Node, key: &str) -> Option<bool> {
        let v = it.get(key)?;
        match v.as_str().map(|s| s.trim().to_ascii_lowercase()) {
            Some(s) if matches!(s.as_str(), "true" | "yes" | "on" | "1" | "t") => Some(true),
            Some(s) if matches!(s.as_str(), "false" | "no" | "off" | "0" | "f") => Some(false),
            _ => {
                self.err(
                    DiagKind::Item,
                    v.mark,
                    format!("'{key}' must be true or false"),
                    None,
                );
                None
            }
        }
    }

    /// A sequence (or a single scalar) of strings.
    fn strings(&mut self, v: &Node, key: &str) -> Vec<(String, Mark)> {
        match &v.val {
            Yaml::Seq(xs) => {
                let mut out = Vec::new();
                for x in xs {
                    match x.as_str() {
                        Some(s) => out.push((s.to_string(), x.mark)),
                        None => self.err(
                            DiagKind::Item,
                            x.mark,
                            format!("items of '{key}' must be strings"),
                            None,
                        ),
                    }
                }
                out
            }
            Yaml::Scalar { text, .. } if text.is_empty() => Vec::new(),
            Yaml::Scalar { text, .. } => vec![(text.to_string(), v.mark)],
            Yaml::Map(_) => {
                self.err(
                    DiagKind::Item,
                    v.mark,
                    format!("'{key}' must be a list"),
                    Some(format!("expected {key}: [a, b]")),
                );
                Vec::new()
            }
        }
    }

    /// `append: true` or `override: {key: append|replace}` for one key.
    fn merge_mode(&mut self, it: &Node, key: &str) -> Option<&'static str> {
        if let Some(ov) = it.get("override") {
            if let Some(m) = ov.get(key) {
                return match m.as_str().map(str::trim) {
                    Some("append") => Some("append"),
                    Some("replace") => Some("replace"),
                    _ => {
                        self.err(
                            DiagKind::Item,
                            m.mark,
                            format!("override of '{key}' must be 'append' or 'replace'"),
                            None,
                        );
                        None
                    }
                };
            }
            return None;
        }
        if self.bool_key(it, "append") == Some(true) {
            return Some("append");
        }
        None
    }

    fn list(&mut self, it: &Node, v: &Node) {
        let Some(name) = self.name_of(v, "list") else {
            return;
        };
        let items = match it.get("items") {
            Some(n) => self.strings(n, "items"),
            None => {
                self.err(
                    DiagKind::Item,
                    v.mark,
                    format!("list '{name}' has no 'items'"),
                    Some("expected items: [a, b]".into()),
                );
                return;
            }
        };
        // One pair of bounding quotes is stripped, as Falco and the original do
        // (`'"(systemd)"'` is the item `(systemd)`).
        let items: Vec<(String, Mark)> = items
            .into_iter()
            .map(|(s, m)| (strip_quotes(&s).to_string(), m))
            .collect();
        match (self.merge_mode(it, "items"), self.defs.lists.get_mut(&name)) {
            (Some("append"), Some(l)) => l.items.extend(items),
            (Some("append"), None) => self.err(
                DiagKind::Item,
                v.mark,
                format!("list '{name}' is appended to but not defined before"),
                None,
            ),
            _ => {
                self.defs.lists.insert(name.clone(), ListDef { items });
            }
        }
    }

    fn macro_(&mut self, it: &Node, v: &Node) {
        let Some(name) = self.name_of(v, "macro") else {
            return;
        };
        let Some(c) = it.get("condition") else {
            self.err(
                DiagKind::Item,
                v.mark,
                format!("macro '{name}' has no 'condition'"),
                None,
            );
            return;
        };
        if c.as_str().is_none() {
            self.err(
                DiagKind::Item,
                c.mark,
                "'condition' must be a string".into(),
                None,
            );
            return;
        }
        match (
            self.merge_mode(it, "condition"),
            self.defs.macros.get_mut(&name),
        ) {
            (Some("append"), Some(m)) => m.cond.push(c),
            (Some("append"), None) => self.err(
                DiagKind::Item,
                v.mark,
                format!("macro '{name}' is appended to but not defined before"),
                None,
            ),
            _ => {
                self.defs.macros.insert(
                    name.clone(),
                    MacroDef {
                        cond: CondSrc::from_node(c),
                    },
                );
            }
        }
    }

    fn filter(&mut self, it: &Node, v: &Node) {
        let Some(name) = self.name_of(v, "filter") else {
            return;
        };
        let Some(c) = it.get("condition").filter(|c| c.as_str().is_some()) else {
            self.err(
                DiagKind::Item,
                v.mark,
                format!("filter '{name}' has no 'condition'"),
                None,
            );
            return;
        };
        let enabled = self.bool_key(it, "enabled").unwrap_or(true);
        self.defs.filters.push(FilterDef {
            name,
            cond: CondSrc::from_node(c),
            enabled,
        });
    }

    fn rule(&mut self, it: &Node, v: &Node) {
        let Some(name) = self.name_of(v, "rule") else {
            return;
        };
        if let Yaml::Map(kv) = &it.val {
            for (k, _) in kv {
                let ks = k.as_str().unwrap_or("");
                if !RULE_KEYS.contains(&ks) {
                    let help = super::suggest::closest(ks, RULE_KEYS.iter().copied())
                        .map(|s| format!("did you mean '{s}'?"));
                    self.warn(
                        DiagKind::UnknownKey,
                        k.mark,
                        format!("unknown rule key '{ks}' ignored"),
                        help,
                    );
                }
            }
        }
        if let Some(src) = self.string_key(it, "source") {
            if !matches!(src.trim(), "syscall" | "sysflow") {
                self.warn(DiagKind::Skipped, v.mark, format!("rule '{name}' skipped: source '{}' is not supported", src.trim()), Some("only source 'syscall' (the default) and 'sysflow' apply to SysFlow records".into()));
                self.defs.skipped.push(name);
                return;
            }
        }
        let existing = self.defs.rule_idx.get(&name).copied();
        let is_mod = it.get("append").is_some() || it.get("override").is_some();
        if let (Some(i), true) = (existing, is_mod) {
            self.modify_rule(i, it, v);
            return;
        }
        if is_mod && existing.is_none() {
            let known = self.defs.skipped.contains(&name);
            if !known {
                self.err(
                    DiagKind::Item,
                    v.mark,
                    format!("rule '{name}' is appended to or overridden but not defined before"),
                    None,
                );
            }
            return;
        }
        // Falco's legacy form: `- rule: X` with only `enabled:` toggles an existing rule.
        if it.get("condition").is_none() {
            if let (Some(i), Some(en)) = (existing, self.bool_key(it, "enabled")) {
                self.defs.rules[i].enabled = en;
                return;
            }
        }
        let Some(c) = it.get("condition").filter(|c| c.as_str().is_some()) else {
            self.err(
                DiagKind::Item,
                v.mark,
                format!("rule '{name}' has no 'condition'"),
                Some("a rule needs desc and condition".into()),
            );
            return;
        };
        let Some(desc) = self.string_key(it, "desc") else {
            self.err(
                DiagKind::Item,
                v.mark,
                format!("rule '{name}' has no 'desc'"),
                Some("a rule needs desc and condition".into()),
            );
            return;
        };
        let priority = match it.get("priority") {
            None => Priority::Low,
            Some(p) => match p.as_str().and_then(Priority::parse) {
                Some(p) => p,
                None => {
                    self.err(
                        DiagKind::Item,
                        p.mark,
                        format!("unknown priority '{}'", p.as_str().unwrap_or("")),
                        Some(format!("expected one of: {}", Priority::WORDS)),
                    );
                    Priority::Low
                }
            },
        };
        let tags = it
            .get("tags")
            .map(|t| self.strings(t, "tags"))
            .unwrap_or_default()
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        let prefilter = it
            .get("prefilter")
            .map(|t| self.strings(t, "prefilter"))
            .unwrap_or_default();
        let mut actions: Vec<String> = Vec::new();
        for k in ["action", "actions"] {
            if let Some(a) = it.get(k) {
                actions.extend(self.strings(a, k).into_iter().map(|(s, _)| s));
            }
        }
        let exceptions = it
            .get("exceptions")
            .map(|e| self.exceptions(e))
            .unwrap_or_default();
        let rule = RuleDef {
            name: name.clone(),
            desc: desc.trim().to_string(),
            cond: CondSrc::from_node(c),
            output: self.string_key(it, "output").map(|s| s.trim().to_string()),
            priority,
            tags,
            prefilter,
            enabled: self.bool_key(it, "enabled").unwrap_or(true),
            actions,
            exceptions,
            mark: v.mark,
        };
        match existing {
            // Redefinition replaces the rule in its original place (Falco).
            Some(i) => self.defs.rules[i] = rule,
            None => {
                self.defs.rule_idx.insert(name, self.defs.rules.len());
                self.defs.rules.push(rule);
            }
        }
    }

    fn modify_rule(&mut self, i: usize, it: &Node, v: &Node) {
        let legacy_append = it.get("override").is_none();
        if let Some(c) = it.get("condition") {
            match self.merge_mode(it, "condition") {
                Some("append") => self.defs.rules[i].cond.push(c),
                Some(_) => self.defs.rules[i].cond = CondSrc::from_node(c),
                None => self.err(
                    DiagKind::Item,
                    c.mark,
                    "condition given without an override mode".into(),
                    Some("expected override: {condition: append} or {condition: replace}".into()),
                ),
            }
        }
        if let Some(e) = it.get("exceptions") {
            let ex = self.exceptions(e);
            match self.merge_mode(it, "exceptions") {
                Some("replace") => self.defs.rules[i].exceptions = ex,
                _ => {
                    for x in ex {
                        let r = &mut self.defs.rules[i];
                        match r.exceptions.iter_mut().find(|y| y.name == x.name) {
                            // Appending to an exception of the same name adds its values.
                            Some(y) if x.fields.is_empty() => y.values.extend(x.values),
                            _ => r.exceptions.push(x),
                        }
                    }
                }
            }
        }
        if !legacy_append {
            for key in ["desc", "output", "priority", "tags", "enabled"] {
                let Some(n) = it.get(key) else { continue };
                let mode = self.merge_mode(it, key);
                match (key, mode) {
                    ("desc", Some(_)) => {
                        self.defs.rules[i].desc = n.as_str().unwrap_or("").trim().to_string()
                    }
                    ("output", Some(_)) => {
                        self.defs.rules[i].output = n.as_str().map(|s| s.trim().to_string())
                    }
                    ("priority", Some(_)) => match n.as_str().and_then(Priority::parse) {
                        Some(p) => self.defs.rules[i].priority = p,
                        None => self.err(
                            DiagKind::Item,
                            n.mark,
                            "unknown priority".into(),
                            Some(format!("expected one of: {}", Priority::WORDS)),
                        ),
                    },
                    ("tags", Some(m)) => {
                        let t: Vec<String> = self
                            .strings(n, "tags")
                            .into_iter()
                            .map(|(s, _)| s)
                            .collect();
                        if m == "append" {
                            self.defs.rules[i].tags.extend(t)
                        } else {
                            self.defs.rules[i].tags = t
                        }
                    }
                    ("enabled", Some(_)) => {
                        if let Some(b) = self.bool_key(it, "enabled") {
                            self.defs.rules[i].enabled = b
                        }
                    }
                    _ => self.err(
                        DiagKind::Item,
                        n.mark,
                        format!("'{key}' given without an override mode"),
                        Some(format!("expected override: {{{key}: replace}}")),
                    ),
                }
            }
        }
        let _ = v;
    }

    fn exceptions(&mut self, e: &Node) -> Vec<ExceptionDef> {
        let Yaml::Seq(xs) = &e.val else {
            self.err(
                DiagKind::Item,
                e.mark,
                "'exceptions' must be a list".into(),
                Some("expected - name: X, fields: [...], values: [...]".into()),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for x in xs {
            let Some(name) = x.get("name").and_then(Node::as_str) else {
                self.err(
                    DiagKind::Item,
                    x.mark,
                    "exception has no 'name'".into(),
                    None,
                );
                continue;
            };
            let (single, fields) = match x.get("fields") {
                None => (false, Vec::new()),
                Some(f) => (
                    matches!(f.val, Yaml::Scalar { .. }),
                    self.strings(f, "fields"),
                ),
            };
            let comps = match x.get("comps") {
                Some(c) => self.strings(c, "comps"),
                // Falco: `in` for a single field, `=` for each of a list of fields.
                None => fields
                    .iter()
                    .map(|(_, m)| ((if single { "in" } else { "=" }).to_string(), *m))
                    .collect(),
            };
            if comps.len() != fields.len() && !fields.is_empty() {
                self.err(
                    DiagKind::Item,
                    x.mark,
                    format!(
                        "exception '{name}': {} fields but {} comps",
                        fields.len(),
                        comps.len()
                    ),
                    None,
                );
                continue;
            }
            let mut values = Vec::new();
            if let Some(Node {
                val: Yaml::Seq(vs), ..
            }) = x.get("values")
            {
                for v in vs {
                    let tuple = match (&v.val, single) {
                        (Yaml::Scalar { text, .. }, true) => {
                            vec![ExValue::One(text.clone(), v.mark)]
                        }
                        (Yaml::Seq(ts), _) => ts
                            .iter()
                            .map(|t| match &t.val {
                                Yaml::Seq(many) => ExValue::Many(
                                    many.iter()
                                        .map(|m| (m.as_str().unwrap_or("").to_string(), m.mark))
                                        .collect(),
                                ),
                                _ => ExValue::One(t.as_str().unwrap_or("").to_string(), t.mark),
                            })
                            .collect(),
                        _ => {
                            self.err(
                                DiagKind::Item,
                                v.mark,
                                format!(
                                    "exception '{name}': each value must be a list of {} item(s)",
                                    fields.len()
                                ),
                                None,
                            );
                            continue;
                        }
                    };
                    if !fields.is_empty() && tuple.len() != fields.len() && !single {
                        self.err(
                            DiagKind::Item,
                            v.mark,
                            format!(
                                "exception '{name}': value has {} item(s) but there are {} fields",
                                tuple.len(),
                                fields.len()
                            ),
                            None,
                        );
                        continue;
                    }
                    values.push(tuple);
                }
            }
            out.push(ExceptionDef {
                name: name.to_string(),
                fields,
                comps,
                values,
                mark: x.mark,
            });
        }
        out
    }
}

/// Strips one pair of matching bounding quotes.
pub fn strip_quotes(s: &str) -> &str {
    let b = s.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        &s[1..s.len() - 1]
    } else {
        s
    }
}
