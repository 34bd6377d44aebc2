//! Falco output templates: a rule's `output` with `%field` references, compiled once per
//! rule (names resolved like the rule's condition) and rendered per alert. Falco's text
//! forms: an absent value is `<NA>`, a network descriptor's `fd.name` is the connection
//! tuple `cip:cport->sip:sport`, `%%` is a literal `%`.

use std::fmt::Write as _;

use sysflow_model::flat::{Attr, AttrKind, Field, FlatRecord, Value};
use sysflow_model::SysFlow;

use crate::eval::FieldRef;

/// What Falco prints for a field without a value.
pub const NA: &str = "<NA>";

#[derive(Debug, Clone)]
enum Part {
    Lit(String),
    /// A field reference as written (`proc.aname[2]`), and its field when it resolves.
    Field(String, Option<FieldRef>),
}

/// A compiled output template.
#[derive(Debug, Clone, Default)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

impl PartialEq for Template {
    fn eq(&self, o: &Self) -> bool {
        self.source == o.source
    }
}

impl Eq for Template {}

/// A field's text in `output_fields`, and whether it is a number (JSON number in Falco's
/// alert).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldText {
    pub text: String,
    pub number: bool,
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

impl Template {
    /// Compiles `text`; `falco` resolves names with Falco's field table first (as in a
    /// Falco-dialect rule), else with the attribute catalogue only.
    pub fn compile(text: &str, falco: bool) -> Template {
        let text = text.trim().strip_prefix('*').unwrap_or(text.trim());
        let b = text.as_bytes();
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'%' {
                let ch = text[i..].chars().next().unwrap_or(' ');
                lit.push(ch);
                i += ch.len_utf8();
                continue;
            }
            if b.get(i + 1) == Some(&b'%') {
                lit.push('%');
                i += 2;
                continue;
            }
            // `%name`, `%name[arg]`, or Falco's `%(name)`.
            let (start, paren) = if b.get(i + 1) == Some(&b'(') {
                (i + 2, true)
            } else {
                (i + 1, false)
            };
            let mut end = start;
            while end < b.len() && is_name_byte(b[end]) {
                end += 1;
            }
            if end < b.len() && b[end] == b'[' {
                if let Some(close) = text[end..].find(']') {
                    end += close + 1;
                }
            }
            // A trailing dot ends the sentence, not the name.
            while end > start && b[end - 1] == b'.' {
                end -= 1;
            }
            if end == start {
                lit.push('%');
                i += 1;
                continue;
            }
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(&mut lit)));
            }
            let name = &text[start..end];
            parts.push(Part::Field(name.to_string(), resolve(name, falco)));
            i = if paren && b.get(end) == Some(&b')') {
                end + 1
            } else {
                end
            };
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Template {
            source: text.to_string(),
            parts,
        }
    }

    /// Appends the rendered text to `out`.
    pub fn render(&self, r: &FlatRecord, out: &mut String) {
        let mut scratch = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Field(_, f) => {
                    if !write_value(f.as_ref(), r, &mut scratch, out) {
                        out.push_str(NA);
                    }
                }
            }
        }
    }

    /// The referenced fields, each once in order of appearance, with their text (`None`
    /// when absent): Falco's `output_fields`.
    pub fn fields<'t>(
        &'t self,
        r: &'t FlatRecord,
    ) -> impl Iterator<Item = (&'t str, Option<FieldText>)> + 't {
        let mut seen: Vec<&str> = Vec::new();
        let mut scratch = String::new();
        self.parts.iter().filter_map(move |p| {
            let Part::Field(name, f) = p else {
                return None;
            };
            if seen.contains(&name.as_str()) {
                return None;
            }
            seen.push(name);
            let mut text = String::new();
            let some = write_value(f.as_ref(), r, &mut scratch, &mut text);
            let number = f.as_ref().is_some_and(|f| {
                f.custom.is_none()
                    && f.field.index.is_none()
                    && f.field.attr.kind() == AttrKind::Int
            });
            Some((name.as_str(), some.then_some(FieldText { text, number })))
        })
    }

    /// Whether the template references no field.
    pub fn is_plain(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }
}

fn resolve(name: &str, falco: bool) -> Option<FieldRef> {
    if falco {
        if let Some(r) = super::fields::resolve(name) {
            return r.ok();
        }
    }
    Field::resolve(name).map(FieldRef::new)
}

/// Writes the field's text; false when it has no value.
fn write_value(
    f: Option<&FieldRef>,
    r: &FlatRecord,
    scratch: &mut String,
    out: &mut String,
) -> bool {
    let Some(f) = f else {
        return false;
    };
    if f.custom.is_none() && f.field.attr == Attr::FilePath {
        if let SysFlow::NetworkFlow(n) = &r.rec {
            let ip = |v: i32| Value::Ipv4(v).to_string();
            let _ = write!(out, "{}:{}->{}:{}", ip(n.sip), n.sport, ip(n.dip), n.dport);
            return true;
        }
    }
    match f.get(r, scratch) {
        Value::Missing => false,
        v => {
            v.write_str(out);
            true
        }
    }
}
