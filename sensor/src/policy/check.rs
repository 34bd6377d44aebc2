//! `sensor policy check PATH`: load, report errors and warnings, print a summary.

use std::path::PathBuf;

use sysflow_policy::{LoadOptions, PolicyEngine};

/// Arguments of `sensor policy check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Policy file or directory (searched recursively for .yaml/.yml).
    pub path: PathBuf,
    /// Treat unknown field names as errors instead of skipping their rules.
    #[arg(long)]
    pub strict: bool,
    /// Do not print warnings, only their count.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs the check; exit code 0 when the policy loads, 1 otherwise.
pub fn run(a: CheckArgs) -> anyhow::Result<u8> {
    let opts = LoadOptions {
        strict: a.strict,
        ..LoadOptions::default()
    };
    match PolicyEngine::load_with(&a.path, opts) {
        Ok((engine, warnings)) => {
            if !a.quiet {
                for w in &warnings {
                    eprintln!("warning: {w}");
                }
            }
            let s = engine.summary();
            println!(
                "{}: OK: {} file(s), {} rule(s) ({} disabled, {} skipped), {} macro(s), {} list(s), {} filter(s), {} warning(s)",
                a.path.display(),
                s.files,
                s.rules,
                s.disabled_rules,
                s.skipped_rules,
                s.macros,
                s.lists,
                s.filters,
                warnings.len()
            );
            println!("{} rule(s) active, {} skipped", s.rules, s.skipped_rules);
            for (rule, why) in &s.skipped {
                println!("  skipped: {rule}: {why}");
            }
            Ok(0)
        }
        Err(e) => {
            let d = e.diagnostics();
            if d.is_empty() {
                eprintln!("error: {e}");
            } else {
                for x in d {
                    eprintln!("error: {x}");
                }
                eprintln!("{}: {} error(s)", a.path.display(), d.len());
            }
            Ok(1)
        }
    }
}
