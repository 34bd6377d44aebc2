//! sf-processor's Sigma field-mapping file (the `"config"` key of its policy engine): a legacy
//! sigmac configuration whose `fieldmappings` map Sigma field names to SysFlow attributes.
//! Its entries extend the built-in mapping and override it for the names they define.

use std::collections::HashMap;

use crate::error::{DiagKind, Diagnostic};
use crate::load::{Node, Sources, Yaml};

/// Field name → SysFlow attributes (several: a record matches through any of them).
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    pub fields: HashMap<String, Vec<String>>,
}

/// Top-level keys of a sigmac configuration that mean nothing here (log sources are built
/// in; index names and backends belong to query converters).
const IGNORED: &[&str] = &[
    "title",
    "order",
    "backends",
    "logsources",
    "defaultindex",
    "placeholders",
    "logsourcemerging",
];

impl Mapping {
    /// Reads a configuration's top-level node; errors and warnings are positioned in it.
    pub fn read(
        sources: &Sources,
        root: Option<&Node>,
        errors: &mut Vec<Diagnostic>,
        warnings: &mut Vec<Diagnostic>,
    ) -> Mapping {
        let mut m = Mapping::default();
        let Some(root) = root else { return m };
        let Yaml::Map(kv) = &root.val else {
            errors.push(sources.diag(
                DiagKind::Item,
                root.mark,
                "a Sigma field-mapping file must be a mapping".into(),
                Some("expected 'fieldmappings: {Image: sf.proc.exe, …}'".into()),
            ));
            return m;
        };
        for (k, v) in kv {
            match k.as_str().unwrap_or("") {
                "fieldmappings" => m.fields_of(sources, v, errors, warnings),
                key if IGNORED.contains(&key) => {}
                key => warnings.push(sources.diag(
                    DiagKind::UnknownKey,
                    k.mark,
                    format!("unknown key '{key}' in a Sigma field-mapping file ignored"),
                    Some("expected fieldmappings (title, order, backends, logsources are accepted and unused)".into()),
                )),
            }
        }
        m
    }

    fn fields_of(
        &mut self,
        sources: &Sources,
        v: &Node,
        errors: &mut Vec<Diagnostic>,
        warnings: &mut Vec<Diagnostic>,
    ) {
        let Yaml::Map(kv) = &v.val else {
            if !v.is_null() {
                errors.push(sources.diag(
                    DiagKind::Item,
                    v.mark,
                    "'fieldmappings' must be a mapping".into(),
                    Some("expected 'Image: sf.proc.exe'".into()),
                ));
            }
            return;
        };
        for (k, t) in kv {
            let Some(name) = k.as_str().map(str::trim).filter(|s| !s.is_empty()) else {
                errors.push(sources.diag(
                    DiagKind::Item,
                    k.mark,
                    "a field mapping needs a Sigma field name".into(),
                    None,
                ));
                continue;
            };
            let targets: Vec<&Node> = match &t.val {
                Yaml::Scalar { .. } => vec![t],
                Yaml::Seq(xs) => xs.iter().collect(),
                Yaml::Map(_) => {
                    warnings.push(sources.diag(
                        DiagKind::Skipped,
                        t.mark,
                        format!("conditional field mapping of '{name}' ignored"),
                        Some("map a field to one attribute or a list of attributes".into()),
                    ));
                    continue;
                }
            };
            let mut out = Vec::new();
            for t in targets {
                let Some(attr) = t.as_str().map(str::trim).filter(|s| !s.is_empty()) else {
                    errors.push(sources.diag(
                        DiagKind::Item,
                        t.mark,
                        format!("the mapping of '{name}' must name SysFlow attributes"),
                        None,
                    ));
                    continue;
                };
                if (crate::namespace::POLICY.resolve)(attr).is_none() {
                    let help = crate::suggest::closest(
                        attr,
                        crate::names::attribute_names().iter().copied(),
                    )
                    .map(|s| format!("did you mean '{s}'?"))
                    .or_else(|| Some(crate::namespace::POLICY.expected.into()));
                    errors.push(sources.diag(
                        DiagKind::UnknownField,
                        t.mark,
                        format!("'{name}' is mapped to '{attr}', which is no SysFlow attribute"),
                        help,
                    ));
                    continue;
                }
                out.push(attr.to_string());
            }
            if !out.is_empty() {
                self.fields.insert(name.to_string(), out);
            }
        }
    }
}
