//! The `policyengine` stage: the rule engine (the `sysflow-policy` crate) applied to the
//! pipeline's events, and the `sensor policy` command.
//!
//! - [`rules`]: a compiled rule set behind a trait, and its loader (a path or the built-in
//!   rules), called at start and on every reload.
//! - [`stage`]: the stage's thread: evaluates batches on `concurrency` workers and passes the
//!   records on in input order.
//! - [`reload`]: SIGHUP and file watching swap in recompiled rules.
//! - [`adaptive`]: `events: auto`: the eBPF event classes the rules can use.
//! - [`check`]: `sensor policy check PATH`.

pub mod adaptive;
pub mod check;
pub mod reload;
pub mod rules;
pub mod stage;

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
