//! Field namespaces of the condition compiler: which names a condition may use and what
//! they read. The policy engine uses the attribute catalogue (`sf.*` and Falco aliases);
//! `sensor print -f` uses sysprint's attribute names (see `crate::print::sfql`). Both go
//! through the same parser, compiler and evaluator.

use sysflow_model::flat::Field;

use crate::eval::FieldRef;

/// A set of field names and how they resolve.
#[derive(Debug)]
pub struct Namespace {
    /// The field a name stands for (`None`: not a field of this namespace).
    pub resolve: fn(&str) -> Option<FieldRef>,
    /// Every name, for "did you mean …?" suggestions.
    pub names: fn() -> Vec<&'static str>,
    /// Help for an unknown name when no name is close.
    pub expected: &'static str,
    /// Falco compatibility: names of Falco field classes SysFlow lacks are "unsupported"
    /// (the rule is skipped) and `evt.type` literals are syscall names.
    pub falco: bool,
    /// `opflags = READ` also matches RECV (and WRITE matches SEND) on network records, as
    /// sfql's op-flag sets hold both spellings of the shared bits.
    pub opflags_any_direction: bool,
}

fn catalogue(name: &str) -> Option<FieldRef> {
    Field::resolve(name).map(FieldRef::new)
}

/// The policy engine's names: the attribute catalogue.
pub static POLICY: Namespace = Namespace {
    resolve: catalogue,
    names: super::names::attribute_names,
    expected: "expected a SysFlow attribute (sf.*) or a Falco alias (proc.name, fd.name, …)",
    falco: true,
    opflags_any_direction: false,
};
