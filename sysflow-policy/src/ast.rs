//! Syntax tree of a condition. Spans are byte offsets into the condition text.

/// Byte range in the condition text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// A condition expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// `lhs op rhs`.
    Cmp {
        lhs: Operand,
        op: Op,
        op_span: Span,
        rhs: Rhs,
    },
    /// `lhs exists` or `exists lhs`.
    Exists(Operand),
    /// A bare name: a macro reference.
    Macro {
        name: String,
        span: Span,
    },
}

/// One operand as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Operand {
    /// Text with quotes removed.
    pub text: String,
    /// Written in quotes: always a literal, never a field.
    pub quoted: bool,
    /// Written as `val(field)`: always a field.
    pub val: bool,
    /// Falco transformers around the field, innermost first (`tolower(basename(fd.name))`
    /// is `[Basename, ToLower]`).
    pub xf: Vec<Xf>,
    pub span: Span,
}

/// A Falco field transformer: the field's value is rendered and transformed before the
/// comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Xf {
    ToLower,
    ToUpper,
    /// Base64-decoded (the value is left as it is when it is not valid base64 text).
    B64,
    Basename,
    /// Length in bytes.
    Len,
}

impl Xf {
    pub fn from_name(s: &str) -> Option<Xf> {
        Some(match s {
            "tolower" => Xf::ToLower,
            "toupper" => Xf::ToUpper,
            "b64" => Xf::B64,
            "basename" => Xf::Basename,
            "len" => Xf::Len,
            _ => return None,
        })
    }
}

/// Right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Rhs {
    Value(Operand),
    /// `( item, item, … )` after `in`, `intersects`, `pmatch`.
    List(Vec<Item>),
}

/// One element of a parenthesised list: a value (or list name), or a nested list.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Atom(Operand),
    List(Vec<Item>),
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    IContains,
    StartsWith,
    EndsWith,
    Glob,
    In,
    Intersects,
    Pmatch,
    /// Falco `regex`: the whole value matches the pattern (RE2 syntax, as Falco).
    Regex,
    /// Falco `iglob`: `glob`, ASCII case-insensitive.
    IGlob,
    /// Falco `bcontains`/`bstartswith`: the literal is hex-encoded bytes.
    BContains,
    BStartsWith,
}

impl Op {
    /// The operator for a word or symbol, if there is one.
    pub fn from_text(s: &str) -> Option<Op> {
        Some(match s {
            "=" | "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "contains" => Op::Contains,
            "icontains" => Op::IContains,
            "startswith" => Op::StartsWith,
            "endswith" => Op::EndsWith,
            "glob" => Op::Glob,
            "in" => Op::In,
            "intersects" => Op::Intersects,
            "pmatch" => Op::Pmatch,
            "regex" => Op::Regex,
            "iglob" => Op::IGlob,
            "bcontains" => Op::BContains,
            "bstartswith" => Op::BStartsWith,
            _ => return None,
        })
    }

    /// Operators taking a parenthesised list.
    pub fn takes_list(self) -> bool {
        matches!(self, Op::In | Op::Intersects | Op::Pmatch)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Contains => "contains",
            Op::IContains => "icontains",
            Op::StartsWith => "startswith",
            Op::EndsWith => "endswith",
            Op::Glob => "glob",
            Op::In => "in",
            Op::Intersects => "intersects",
            Op::Pmatch => "pmatch",
            Op::Regex => "regex",
            Op::IGlob => "iglob",
            Op::BContains => "bcontains",
            Op::BStartsWith => "bstartswith",
        }
    }
}

/// All operator spellings, for "expected one of" messages.
pub const OPERATORS: &str =
    "=, ==, !=, <, <=, >, >=, contains, icontains, startswith, endswith, glob, in, intersects, pmatch, regex, iglob, bcontains, bstartswith, exists";
