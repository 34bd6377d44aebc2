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
use crate::load::{load_file, parse_documents, parse_text, policy_files, Node, Sources, Yaml};
use crate::rule::Rule;
use crate::sigma::document::looks_like_sigma;
use crate::sigma::mapping::Mapping;
use crate::sigma::{self, Language, LanguageOptions};

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
        Self::load_lang(path, opts, &LanguageOptions::default())
    }

    /// [`PolicyEngine::load_with`] with the rule language(s) and Sigma's field-mapping file:
    /// Falco-dialect and Sigma files load side by side (Falco rules first, then Sigma rules,
    /// each in file order).
    pub fn load_lang(
        path: &Path,
        opts: LoadOptions,
        lang: &LanguageOptions,
    ) -> Result<(PolicyEngine, Vec<Diagnostic>), PolicyError> {
        let files = policy_files(path)?;
        let mut input = Input::default();
        for f in &files {
            let res = load_file(&mut input.sources, f, &mut input.warnings)?;
            input.add(res, lang.language);
        }
        input.mapping(lang)?;
        Self::build(input, opts)
    }

    /// Compiles policy text (one in-memory file named `name`), for tests and tools.
    pub fn from_str(
        name: &str,
        text: &str,
        opts: LoadOptions,
    ) -> Result<(PolicyEngine, Vec<Diagnostic>), PolicyError> {
        Self::from_str_lang(name, text, opts, &LanguageOptions::default())
    }

    /// [`PolicyEngine::from_str`] with the rule language and Sigma's field-mapping file.
    pub fn from_str_lang(
        name: &str,
        text: &str,
        opts: LoadOptions,
        lang: &LanguageOptions,
    ) -> Result<(PolicyEngine, Vec<Diagnostic>), PolicyError> {
        let mut input = Input::default();
        let res = parse_text(
            &mut input.sources,
            Path::new(name).into(),
            text,
            &mut input.warnings,
        );
        input.add(res, lang.language);
        input.mapping(lang)?;
        Self::build(input, opts)
    }

    fn build(
        input: Input,
        opts: LoadOptions,
    ) -> Result<(PolicyEngine, Vec<Diagnostic>), PolicyError> {
        let Input {
            sources,
            roots,
            sigma,
            mapping,
            mut errors,
            mut warnings,
        } = input;
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
            files: defs.files + sigma.len(),
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
                id: None,
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
        // Sigma rules after the Falco-dialect ones, sharing the index and memo slots (numbered
        // after every slot of the Falco compiler, filters included).
        let sig = sigma::compile::compile(
            &sources,
            sigma,
            mapping.as_ref(),
            comp.memo_slots(),
            opts.strict,
            &mut errors,
            &mut warnings,
        );
        summary.skipped_rules += sig.skipped.len();
        summary.skipped.extend(sig.skipped);
        summary.sigma_rules = sig.rules.len();
        for (rule, cond) in sig.rules {
            let ops = index(&cond, ALL_TYPES, rules.len(), &mut rules_by_type);
            rules.push(rule);
            conds.push(Compiled { cond, ops });
        }
        summary.rules = rules.len();
        let (memo_slots, proc_slots) = optimize(&mut conds, &mut filters, sig.memo_slots);
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

/// Lists compiled rule `idx` under each record type it can match (within `types` and what its
/// condition requires); returns the op flags one of which it requires.
fn index(cond: &Cond, types: u16, idx: usize, by_type: &mut [Vec<u32>; 12]) -> u32 {
    let (t, ops) = requirement(cond);
    let types = types & t;
    for (i, list) in by_type.iter_mut().enumerate() {
        if types & (1 << i) != 0 {
            list.push(idx as u32);
        }
    }
    ops
}

/// The files of a load, read and sorted by language, before anything is compiled.
#[derive(Default)]
struct Input {
    sources: Sources,
    /// Falco-dialect files: their top-level nodes.
    roots: Vec<Option<Node>>,
    /// Sigma files: index in `sources` and their documents.
    sigma: Vec<(u32, Vec<Node>)>,
    mapping: Option<Mapping>,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Input {
    /// Adds the file just parsed into `sources` to the Falco or the Sigma files.
    fn add(&mut self, parsed: Result<Option<Node>, Diagnostic>, language: Language) {
        let file = self.sources.files.len() as u32 - 1;
        let node = match parsed {
            Ok(n) => n,
            Err(d) => {
                self.errors.push(d);
                self.roots.push(None);
                return;
            }
        };
        let sigma_shaped = node
            .as_ref()
            .is_some_and(|n| matches!(n.val, Yaml::Map(_)) && looks_like_sigma(n));
        let sigma = match language {
            Language::Sigma => true,
            Language::Auto => sigma_shaped,
            Language::Falco => {
                if let (true, Some(n)) = (sigma_shaped, &node) {
                    self.errors.push(self.sources.diag(
                        DiagKind::Item,
                        n.mark,
                        "this is a Sigma rule, and the policy language is falco".into(),
                        Some("load it with the language sigma (or auto)".into()),
                    ));
                    self.roots.push(None);
                    return;
                }
                false
            }
        };
        if !sigma {
            self.roots.push(node);
            return;
        }
        match parse_documents(&self.sources, file) {
            Ok(docs) => self.sigma.push((file, docs)),
            Err(d) => self.errors.push(d),
        }
    }

    /// Reads the Sigma field-mapping file, if any.
    fn mapping(&mut self, lang: &LanguageOptions) -> Result<(), PolicyError> {
        let Some(path) = &lang.sigma_config else {
            return Ok(());
        };
        let root = match load_file(&mut self.sources, path, &mut self.warnings)? {
            Ok(n) => n,
            Err(d) => {
                self.errors.push(d);
                return Ok(());
            }
        };
        self.mapping = Some(Mapping::read(
            &self.sources,
            root.as_ref(),
            &mut self.errors,
            &mut self.warnings,
        ));
        Ok(())
    }
}
