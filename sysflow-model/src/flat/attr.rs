//! The attribute catalogue (reference §4.2): `sf.*` names, Falco aliases, and how each one is
//! read from a [`FlatRecord`].
//!
//! CONTRACT (used by the policy engine and exporters; keep these signatures):
//! - [`Field::resolve`] turns a name as written in a rule or config (`sf.proc.exe`, `proc.name`,
//!   `proc.aname[2]`, `sf.ke.message[items.0.namespace]`) into a [`Field`], once, at compile time.
//! - [`FlatRecord::get`] reads a field's [`Value`] per record without allocating.
//! - [`FlatRecord::get_into`] is the same for fields that must render (json-path suffixes),
//!   using a caller-owned scratch string that is reused across records.
//! - [`Attr::exported`] lists the attributes that appear in JSON output, with their keys.

use super::{FlatRecord, Value};

/// One attribute of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Attr {
    Type,
}

/// A resolved attribute reference: the attribute plus an optional ancestor index or json path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub attr: Attr,
    /// `proc.aname[N]`-style index into a list attribute.
    pub index: Option<usize>,
    /// `attr[path]` json-path suffix on a json-valued attribute.
    pub json_path: Option<Box<str>>,
    /// The canonical `sf.*` name.
    pub name: &'static str,
}

impl Field {
    /// Resolves a name; `None` when it is not an attribute or alias.
    pub fn resolve(name: &str) -> Option<Field> {
        match name {
            "sf.type" => Some(Field {
                attr: Attr::Type,
                index: None,
                json_path: None,
                name: "sf.type",
            }),
            _ => None,
        }
    }
}

impl FlatRecord {
    /// Value of a field for this record. Hot path: allocates nothing.
    pub fn get(&self, f: &Field) -> Value<'_> {
        match f.attr {
            Attr::Type => Value::Str(self.rec.record_type().code()),
        }
    }

    /// Like [`FlatRecord::get`], for fields whose value must be rendered (json paths);
    /// the rendering goes into `scratch`, which the caller reuses.
    pub fn get_into<'s>(&'s self, f: &Field, scratch: &'s mut String) -> Value<'s> {
        let _ = scratch;
        self.get(f)
    }
}
