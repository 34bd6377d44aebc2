//! Building an engine: policy files are read, their items collected, conditions compiled,
//! and the compiled rules and filters indexed by record type and operation (runs once per
//! load or reload, never per record).

use std::path::Path;

use sysflow_model::RecordType;

use super::index::{requirement, ALL_TYPES};
use super::optimize::optimize;
use super::{Compiled, LoadOptions, LoadSummary, Mode, PolicyEngine};
use crate::compile::{Compiler, Problem};
use crate::error::{DiagKind, Diagnostic, PolicyError};
use crate::eval::Cond;
use crate::items::{Defs, ItemReader};
use crate::load::{load_file, parse_text, policy_files, Node, Sources};
use crate::rule::Rule;

impl PolicyEngine {
    /// Loads a policy file or directory (recursively, `.yaml`/`.yml`, lexical order).
    /// Returns the engine and the warnings (skipped rules, tolerated input, …).
    pub fn load(path: &Path, mode: Mode) -> Result<(PolicyEngine, Vec<Diagnostic>), PolicyError> {
        Self::load_with(
            path,
            LoadOptions {
                mode,
                strict: false,
            },
        )
    }

    /// [`PolicyEngine::load`] with options.
    pub fn load_with(
        path: &Path,
        opts: LoadOptions,
    ) -> Result<(PolicyEngine, Vec<Diagnostic>), PolicyError> {
        let files = policy_files(path)?;
        let mut sources = Sources::default();
        let mut warnings = Vec::new();
        let mut errors = Vec::new();
        let mut roots = Vec::new();
        for f in &files {
            match load_file(&mut sources, f, &mut warnings)? {
                Ok(n) => roots.push(n),
                Err(d) => {
                    errors.push(d);
                    roots.push(None);
                }
            }
        }
        Self::build(sources, roots, errors, warnings, opts)
    }

    /// Compiles policy text (one in-memory file named `name`), for tests and tools.
    pub fn from_str(
        name: &str,
        text: &str,
        opts: LoadOptions,
    ) -> Result<(PolicyEngine, Vec<Diagnostic>), PolicyError> {
        let mut sources = Sources::default();
        let mut warnings = Vec::new();
        let mut errors = Vec::new();
        let root = match parse_text(&mut sources, Path::new(name).into(), text, &mut warnings) {
            Ok(n) => n,
            Err(d) => {
                errors.push(d);
                None
            }
        };
        Self::build(sources, vec![root], errors, warnings, opts)
    }

    fn build(
        sources: Sources,
        roots: Vec<Option<Node>>,
        mut errors: Vec<Diagnostic>,
        mut warnings: Vec<Diagnostic>,
        opts: LoadOptions,
    ) -> Result<(PolicyEngine, Vec<Diagnostic>), PolicyError> {
        let mut defs = Defs::default();
        {
            let mut c = ItemReader {
                sources: &sources,
                defs: &mut defs,
                errors: &mut errors,
                warnings: &mut warnings,
            };
            for r in &roots {
                c.file(r.as_ref());
            }
        }
        let mut comp = Compiler::new(&sources, &defs);
        errors.extend(comp.macro_syntax_errors());
        let mut summary = LoadSummary {
            files: defs.files,
            macros: defs.macros.len(),
            lists: defs.lists.len(),
            skipped_rules: defs.skipped.len(),
            ..LoadSummary::default()
        };
        let skip = |p: Problem,
                    what: &str,
                    errors: &mut Vec<Diagnostic>,
                    warnings: &mut Vec<Diagnostic>|
         -> Option<String> {
            match p {
                Problem::Fatal(d) => {
                    errors.push(d);
                    None
                }
                Problem::Skip(d) if opts.strict && d.kind == DiagKind::UnknownField => {
                    errors.push(d);
                    None
                }
                Problem::Skip(mut d) => {
                    let why = d.message.clone();
                    d.message = format!("{what} skipped: {}", d.message);
                    warnings.push(d);
                    Some(why)
                }
            }
        };
        summary.skipped = defs
            .skipped
            .iter()
            .map(|n| (n.clone(), "its source is not syscall".to_string()))
            .collect();
        let mut rules = Vec::new();
        let mut conds = Vec::new();
        let mut rules_by_type: [Vec<u32>; 12] = Default::default();
        for r in &defs.rules {
            let what = format!("rule '{}'", r.name);
            let compiled = comp.condition(&r.cond).and_then(|c| {
                Ok(match comp.exceptions(&r.exceptions)? {
                    Some(ex) => Cond::And(vec![c, ex].into()),
                    None => c,
                })
            });
            let cond = match compiled {
                Ok(c) => c,
                Err(p) => {
                    if let Some(why) = skip(p, &what, &mut errors, &mut warnings) {
                        summary.skipped.push((r.name.clone(), why));
                    }
                    summary.skipped_rules += 1;
                    continue;
                }
            };
            let mut types = ALL_TYPES;
            if !r.prefilter.is_empty() {
                let mut mask = 0u16;
                for (p, m) in &r.prefilter {
                    match RecordType::ALL.iter().find(|t| t.code() == p.trim()) {
                        Some(t) => mask |= 1 << (*t as u16),
                        None => errors.push(sources.diag(
                            DiagKind::Item,
                            *m,
                            format!("unknown record type '{p}' in prefilter"),
                            Some("expected PE, PF, NF, FF, FE, NE or KE".into()),
                        )),
                    }
                }
                types &= mask;
            }
            if !r.enabled {
                summary.disabled_rules += 1;
                continue;
            }
            let (t, ops) = requirement(&cond);
            if t == 0 && defs.falco_files.contains(&r.mark.file) {
                // A Falco rule false for every record (a syscall SysFlow does not report,
                // an empty list): reported as skipped rather than counted as working.
                let why = "its condition holds for no SysFlow record (a syscall SysFlow does not report, or an empty list)".to_string();
                warnings.push(sources.diag(
                    DiagKind::Skipped,
                    r.mark,
                    format!("rule '{}' skipped: {why}", r.name),
                    None,
                ));
                summary.skipped.push((r.name.clone(), why));
                summary.skipped_rules += 1;
                continue;
            }
            types &= t;
            let idx = rules.len() as u32;
            for (i, list) in rules_by_type.iter_mut().enumerate() {
                if types & (1 << i) != 0 {
                    list.push(idx);
                }
            }
            rules.push(Rule {
                name: r.name.clone(),
                desc: r.desc.clone(),
                output: r.output.clone(),
                priority: r.priority,
                tags: r.tags.clone(),
                actions: r.actions.clone(),
                origin: format!("{}:{}", sources.loc(r.mark).file.display(), r.mark.line),
                falco: defs.falco_files.contains(&r.mark.file),
                template: r.output.as_deref().map(|o| {
                    std::sync::Arc::new(crate::falco::output::Template::compile(
                        o,
                        defs.falco_files.contains(&r.mark.file),
                    ))
                }),
            });
            conds.push(Compiled { cond, ops });
        }
        summary.rules = rules.len();
        let mut filters = Vec::new();
        let mut filters_by_type: [Vec<u32>; 12] = Default::default();
        for f in &defs.filters {
            let cond = match comp.condition(&f.cond) {
                Ok(c) => c,
                Err(p) => {
                    skip(
                        p,
                        &format!("filter '{}'", f.name),
                        &mut errors,
                        &mut warnings,
                    );
                    continue;
                }
            };
            if !f.enabled {
                continue;
            }
            let (types, ops) = requirement(&cond);
            let idx = filters.len() as u32;
            for (i, list) in filters_by_type.iter_mut().enumerate() {
                if types & (1 << i) != 0 {
                    list.push(idx);
                }
            }
            filters.push(Compiled { cond, ops });
        }
        summary.filters = filters.len();
        let (memo_slots, proc_slots) = optimize(&mut conds, &mut filters, comp.memo_slots());
        warnings.append(&mut comp.warnings);
        if !errors.is_empty() {
            return Err(PolicyError::Invalid(errors));
        }
        let engine = PolicyEngine {
            mode: opts.mode,
            rules,
            conds,
            filters,
            rules_by_type,
            filters_by_type,
            memo_slots,
            proc_slots,
            summary,
        };
        Ok((engine, warnings))
    }
}
