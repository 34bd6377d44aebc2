//! A standalone condition (a query such as `sensor print -f EXPR`, sfql) with the lists and
//! macros of optional definition files, compiled by the policy compiler in any
//! [`Namespace`]: the field names and what they read are the caller's ([`FieldRef`],
//! [`Getter`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sysflow_model::flat::FlatRecord;

use crate::compile::{Compiler, Problem};
use crate::error::{Diagnostic, PolicyError};
use crate::eval::{Cond, Scratch};
pub use crate::eval::{FieldRef, Getter};
use crate::items::{CondSrc, Defs, ItemReader};
use crate::load::{load_file, policy_files, Mark, Node, SourceFile, Sources, Yaml};
pub use crate::namespace::Namespace;

/// A compiled query.
#[derive(Debug)]
pub struct Query {
    cond: Cond,
    memo_slots: usize,
}

/// Per-thread evaluation state of a [`Query`].
#[derive(Debug, Default)]
pub struct QueryScratch(Scratch);

impl Query {
    /// Compiles `expr` (named `origin` in diagnostics, e.g. `-f`) with the lists and macros
    /// of `defs` (files or directories of YAML `- list:`/`- macro:` items; rules in them
    /// are checked but unused). Returns the query and the warnings.
    pub fn compile(
        origin: &str,
        expr: &str,
        defs: &[PathBuf],
        ns: &Namespace,
    ) -> Result<(Query, Vec<Diagnostic>), PolicyError> {
        let mut sources = Sources::default();
        let mut warnings = Vec::new();
        let mut errors = Vec::new();
        let mut roots = Vec::new();
        for d in defs {
            for f in policy_files(d)? {
                match load_file(&mut sources, &f, &mut warnings)? {
                    Ok(n) => roots.push(n),
                    Err(e) => errors.push(e),
                }
            }
        }
        // The expression is one more source "file" of one line, so diagnostics point at
        // its column like at a column of a policy file.
        let file = sources.files.len() as u32;
        let line: String = expr.replace(['\n', '\r'], " ");
        sources.files.push(SourceFile {
            path: Arc::from(Path::new(origin)),
            lines: vec![line.clone()],
            shift: vec![0],
        });
        let src = CondSrc {
            text: line.clone(),
            segs: vec![(
                0,
                Node {
                    mark: Mark {
                        file,
                        line: 1,
                        col: 0,
                    },
                    val: Yaml::Scalar {
                        text: line,
                        quoted: false,
                    },
                },
            )],
        };
        let mut d = Defs::default();
        {
            let mut c = ItemReader {
                sources: &sources,
                defs: &mut d,
                errors: &mut errors,
                warnings: &mut warnings,
            };
            for r in &roots {
                c.file(r.as_ref());
            }
        }
        let mut comp = Compiler::with_namespace(&sources, &d, ns);
        errors.extend(comp.macro_syntax_errors());
        let cond = match comp.condition(&src) {
            Ok(c) => Some(c),
            // An unknown name skips a rule in a policy; in a query it is an error.
            Err(Problem::Fatal(e)) | Err(Problem::Skip(e)) => {
                errors.push(e);
                None
            }
        };
        warnings.append(&mut comp.warnings);
        match cond {
            Some(cond) if errors.is_empty() => Ok((
                Query {
                    cond,
                    memo_slots: comp.memo_slots(),
                },
                warnings,
            )),
            _ => Err(PolicyError::Invalid(errors)),
        }
    }

    /// Whether the record matches.
    #[inline]
    pub fn matches(&self, r: &FlatRecord, s: &mut QueryScratch) -> bool {
        s.0.next_record(r, self.memo_slots, 0);
        self.cond.eval(r, &mut s.0)
    }
}
