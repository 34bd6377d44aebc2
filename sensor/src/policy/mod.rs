//! The policy engine (Falco-dialect rules over flat SysFlow records) and `sensor policy`.
//!
//! Pipeline: [`load`] (files, YAML with positions) → [`items`] (rules, macros, lists,
//! filters; append/override) → [`parse`] (conditions to [`ast`]) → [`compile`] (fields
//! resolved, macros inlined, lists expanded) → [`eval`] (closure-free enum tree) →
//! [`engine`] (index by record type and op flags, verdicts, batches).
//! The language and every difference from Falco and the original is in
//! `docs/policy-language.md`.

pub mod ast;
mod check;
pub mod compile;
pub mod engine;
pub mod error;
pub mod eval;
#[cfg(test)]
mod eval_props;
pub mod items;
pub mod lexer;
pub mod load;
mod names;
pub mod namespace;
pub mod parse;
pub mod query;
pub mod rule;
mod suggest;

pub use engine::{BatchResult, LoadOptions, Matches, Mode, PolicyEngine, Summary, Verdict};
pub use error::{DiagKind, Diagnostic, Loc, PolicyError};
pub use rule::{Priority, Rule};

/// Arguments of `sensor policy`.
#[derive(clap::Args, Debug)]
pub struct PolicyArgs {
    #[command(subcommand)]
    pub command: PolicyCommand,
}

/// `sensor policy` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum PolicyCommand {
    /// Validate a policy file or directory and print a summary.
    Check(check::CheckArgs),
}

/// Entry point of `sensor policy`; returns the process exit code.
pub fn main(args: PolicyArgs) -> anyhow::Result<u8> {
    match args.command {
        PolicyCommand::Check(a) => check::run(a),
    }
}
