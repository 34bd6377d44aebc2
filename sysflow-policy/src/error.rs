//! Diagnostics (errors and warnings) with file, line and column, and the load error type.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// A position in a policy file: 1-based line and column (columns count characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    pub file: Arc<Path>,
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// What kind of mistake a diagnostic reports (stable for tests and tooling).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiagKind {
    /// The file is not YAML (or not the YAML subset the original processor accepted).
    Yaml,
    /// A required key is missing, or a key has a value of the wrong shape.
    Item,
    /// An unknown top-level item or key (warning).
    UnknownKey,
    /// The condition does not parse (bad token, unbalanced parentheses, …).
    Syntax,
    /// An operator that does not exist.
    BadOperator,
    /// A name on the left of an operator that is no SysFlow attribute.
    UnknownField,
    /// A Falco field that SysFlow cannot supply (the rule is skipped).
    UnsupportedField,
    /// A bare name in a condition that is no macro.
    UndefinedMacro,
    /// A list item that looks like the name of a list that is not defined.
    UndefinedList,
    /// Macros (or lists) that refer to themselves.
    Cycle,
    /// A literal of the wrong type (e.g. a non-number after `<`).
    BadValue,
    /// A rule of another event source, disabled, or otherwise skipped (warning).
    Skipped,
    /// Input that was accepted although it is not valid YAML (warning).
    Tolerated,
}

/// One error or warning: where, what, the offending source line, and a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub kind: DiagKind,
    pub loc: Loc,
    pub message: String,
    /// The source line the location points into.
    pub source_line: String,
    /// What was expected, or "did you mean …?".
    pub help: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.loc, self.message)?;
        if !self.source_line.is_empty() {
            let line = self.source_line.replace('\t', " ");
            write!(f, "\n    | {}", line)?;
            let pad: String = line
                .chars()
                .take((self.loc.col as usize).saturating_sub(1))
                .map(|_| ' ')
                .collect();
            write!(f, "\n    | {pad}^")?;
        }
        if let Some(h) = &self.help {
            write!(f, "\n    = {h}")?;
        }
        Ok(())
    }
}

/// Loading a policy failed.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no policy files (.yaml/.yml) found in {0}")]
    Empty(String),
    #[error("{} error(s) in policy:\n{}", .0.len(), join(.0))]
    Invalid(Vec<Diagnostic>),
}

fn join(d: &[Diagnostic]) -> String {
    d.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

impl PolicyError {
    /// The diagnostics of an invalid policy (empty for I/O errors).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            PolicyError::Invalid(d) => d,
            _ => &[],
        }
    }
}
