//! The sysflow-sensor policy engine: Falco-dialect rules over flat SysFlow records.
//!
//! Rules, macros, lists and filters are read from YAML files ([`PolicyEngine::load`]),
//! compiled once into a closure-free condition tree, and indexed by record type and
//! operation. [`PolicyEngine::process`] then decides per record whether it is dropped,
//! passed or alerted, without allocating.
//!
//! Inside, the stages follow the data: `load` (YAML with positions) → `items` (rules,
//! macros, lists, filters; append/override) → `parse` (conditions, via `lexer`, to `ast`) →
//! `compile` (fields resolved, macros inlined, lists expanded) → `eval` (the condition tree)
//! → `engine` (build, index, optimise, and the per-record hot path). The language and every
//! difference from Falco and the original SysFlow processor are in
//! `docs/policy-language.md`.
//!
//! # Example
//!
//! ```
//! use sysflow_model::tables::{Flattener, TableConfig};
//! use sysflow_model::{OpFlags, Oid, Process, ProcessEvent, SysFlow};
//! use sysflow_policy::{LoadOptions, Matches, PolicyEngine, Verdict};
//!
//! let rules = r#"
//! - rule: Shell spawned
//!   desc: a shell was executed
//!   condition: sf.opflags = EXEC and sf.proc.exe in (/bin/sh, /bin/bash)
//!   output: "%sf.proc.exe started (%sf.proc.args)"
//!   priority: warning
//! "#;
//! let (engine, warnings) =
//!     PolicyEngine::from_str("example.yaml", rules, LoadOptions::default()).unwrap();
//! assert!(warnings.is_empty());
//!
//! // A flat record: the flattener joins an event with the process it references.
//! let oid = Oid { create_ts: 1, hpid: 42 };
//! let mut flattener = Flattener::new(TableConfig::default());
//! let proc_rec = Process { oid, exe: "/bin/sh".into(), exe_args: "-c id".into(), ..Process::default() };
//! assert!(flattener.push(SysFlow::Process(proc_rec)).is_none());
//! let exec = ProcessEvent { proc_oid: oid, ts: 2, op_flags: OpFlags(OpFlags::EXEC), ..ProcessEvent::default() };
//! let record = flattener.push(SysFlow::ProcessEvent(exec)).unwrap();
//!
//! // Per worker: one `Matches`, reused for every record (no allocation per record).
//! let mut m = Matches::new();
//! assert_eq!(engine.process(&record, &mut m), Verdict::Alert);
//! let fired: Vec<&str> = m.iter(&engine).map(|r| r.name.as_str()).collect();
//! assert_eq!(fired, ["Shell spawned"]);
//! ```
//!
//! Errors name the file, line and column and what was expected ([`Diagnostic`]); rules that
//! use a field SysFlow cannot supply are skipped with a warning, unless
//! [`LoadOptions::strict`] is set.

mod ast;
mod compile;
mod engine;
mod error;
mod eval;
#[cfg(test)]
mod eval_props;
pub mod falco;
mod items;
mod lexer;
mod load;
mod names;
mod namespace;
mod parse;
pub mod query;
mod rule;
mod suggest;

pub use engine::{BatchResult, LoadOptions, LoadSummary, Matches, Mode, PolicyEngine, Verdict};
pub use error::{DiagKind, Diagnostic, Loc, PolicyError};
pub use load::policy_files;
pub use rule::{Priority, Rule};

/// A syntax error in a condition: where (a byte offset into the condition) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte offset into the condition text (at most its length).
    pub at: usize,
    pub message: String,
}

/// Parses a condition without compiling it (no field or macro is resolved): `Ok` when it is
/// well-formed. For tools and for fuzzing the parser.
pub fn parse_condition(text: &str) -> Result<(), SyntaxError> {
    parse::parse(text).map(|_| ()).map_err(|e| SyntaxError {
        at: e.at,
        message: e.message,
    })
}
