//! Value modifiers of a detection key (`Field|mod1|mod2`), in the Sigma modifiers appendix:
//! which exist, which this engine evaluates, and which combinations make sense.

/// A modifier as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modifier {
    Contains,
    StartsWith,
    EndsWith,
    All,
    Base64,
    Base64Offset,
    Utf16Le,
    Utf16Be,
    Utf16,
    Windash,
    Re,
    /// `re` flags: `i` (case-insensitive), `m` (multi-line), `s` (dot matches newline).
    ReFlag(char),
    Cidr,
    Exists,
    Cased,
    Neq,
    Num(crate::eval::NumOp),
    Fieldref,
    /// Placeholders (`%Servers%`): the specification says a tool that cannot expand them must
    /// reject the rule.
    Expand,
    /// `minute`, `hour`, `day`, `week`, `month`, `year`: parts of a date value.
    Time,
}

/// Every modifier name, for "did you mean …?".
pub const NAMES: &[&str] = &[
    "contains",
    "startswith",
    "endswith",
    "all",
    "base64",
    "base64offset",
    "utf16le",
    "utf16be",
    "utf16",
    "wide",
    "windash",
    "re",
    "i",
    "m",
    "s",
    "cidr",
    "exists",
    "cased",
    "neq",
    "gt",
    "gte",
    "lt",
    "lte",
    "fieldref",
    "expand",
    "minute",
    "hour",
    "day",
    "week",
    "month",
    "year",
];

impl Modifier {
    /// The modifier of a name (case-insensitive); `after_re`: the single-letter `re` flags
    /// are only modifiers right after `re` or another flag.
    pub fn parse(name: &str, after_re: bool) -> Option<Modifier> {
        use crate::eval::NumOp;
        Some(match name.to_ascii_lowercase().as_str() {
            "contains" => Modifier::Contains,
            "startswith" => Modifier::StartsWith,
            "endswith" => Modifier::EndsWith,
            "all" => Modifier::All,
            "base64" => Modifier::Base64,
            "base64offset" => Modifier::Base64Offset,
            "utf16le" | "wide" => Modifier::Utf16Le,
            "utf16be" => Modifier::Utf16Be,
            "utf16" => Modifier::Utf16,
            "windash" => Modifier::Windash,
            "re" => Modifier::Re,
            f @ ("i" | "m" | "s") if after_re => Modifier::ReFlag(f.chars().next()?),
            "cidr" => Modifier::Cidr,
            "exists" => Modifier::Exists,
            "cased" => Modifier::Cased,
            "neq" => Modifier::Neq,
            "gt" => Modifier::Num(NumOp::Gt),
            "gte" => Modifier::Num(NumOp::Ge),
            "lt" => Modifier::Num(NumOp::Lt),
            "lte" => Modifier::Num(NumOp::Le),
            "fieldref" => Modifier::Fieldref,
            "expand" => Modifier::Expand,
            "minute" | "hour" | "day" | "week" | "month" | "year" => Modifier::Time,
            _ => return None,
        })
    }
}

/// How the values of a detection item are compared, from its modifiers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kind {
    /// The transformations, in order.
    pub transforms: Vec<Modifier>,
    /// `all`: every value must match (default: any).
    pub all: bool,
    /// `cased`: case-sensitive (default: ASCII case-insensitive).
    pub cased: bool,
    /// `neq`: the field differs from the value.
    pub neq: bool,
    pub test: TestKind,
}

/// The comparison a value makes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TestKind {
    /// Equality, with wildcards (the default and the string modifiers).
    #[default]
    Text,
    /// `re`, with its flags.
    Re(Vec<char>),
    Cidr,
    /// `exists`: the value is `true` or `false`.
    Exists,
    Num(crate::eval::NumOp),
    /// `fieldref`: the value names another field.
    Fieldref,
}

/// Why modifiers were not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModError {
    /// No such modifier: a mistake.
    Unknown(String),
    /// Contradicting modifiers: a mistake.
    Conflict(String),
    /// Sigma that this engine does not evaluate: the rule is skipped.
    Unsupported(String),
}

/// Reads the modifiers of a key (the parts after the first `|`).
pub fn parse(mods: &[&str]) -> Result<Kind, ModError> {
    let mut k = Kind::default();
    let mut prev: Option<Modifier> = None;
    for name in mods {
        let after_re = matches!(prev, Some(Modifier::Re | Modifier::ReFlag(_)));
        let m =
            Modifier::parse(name, after_re).ok_or_else(|| ModError::Unknown(name.to_string()))?;
        let set = |k: &mut Kind, t: TestKind| -> Result<(), ModError> {
            if k.test != TestKind::Text {
                return Err(ModError::Conflict(format!(
                    "'{name}' cannot be combined with another type modifier"
                )));
            }
            k.test = t;
            Ok(())
        };
        match m {
            Modifier::All => k.all = true,
            Modifier::Cased => k.cased = true,
            Modifier::Neq => k.neq = true,
            Modifier::Re => set(&mut k, TestKind::Re(Vec::new()))?,
            Modifier::ReFlag(f) => {
                if let TestKind::Re(flags) = &mut k.test {
                    flags.push(f);
                }
            }
            Modifier::Cidr => set(&mut k, TestKind::Cidr)?,
            Modifier::Exists => set(&mut k, TestKind::Exists)?,
            Modifier::Num(op) => set(&mut k, TestKind::Num(op))?,
            Modifier::Fieldref => set(&mut k, TestKind::Fieldref)?,
            Modifier::Expand => {
                return Err(ModError::Unsupported(
                    "'expand' placeholders have no values here".into(),
                ))
            }
            Modifier::Time => {
                return Err(ModError::Unsupported(format!(
                    "the time modifier '{name}' is not supported"
                )))
            }
            t => k.transforms.push(t),
        }
        prev = Some(m);
    }
    // Only the wildcard modifiers go with a field reference; nothing transforms a regex,
    // a network, a number or a boolean.
    let wildcard_only = k.transforms.iter().all(|t| {
        matches!(
            t,
            Modifier::Contains | Modifier::StartsWith | Modifier::EndsWith
        )
    });
    match &k.test {
        TestKind::Text => {}
        TestKind::Fieldref if wildcard_only => {}
        t if !k.transforms.is_empty() => {
            return Err(ModError::Conflict(format!(
                "'{}' cannot be combined with string modifiers",
                match t {
                    TestKind::Re(_) => "re",
                    TestKind::Cidr => "cidr",
                    TestKind::Exists => "exists",
                    TestKind::Num(_) => "gt/gte/lt/lte",
                    _ => "fieldref",
                }
            )))
        }
        _ => {}
    }
    Ok(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        let k = parse(&["base64offset", "contains", "all"]).unwrap();
        assert_eq!(k.transforms, [Modifier::Base64Offset, Modifier::Contains]);
        assert!(k.all && !k.cased);
        assert_eq!(
            parse(&["re", "i", "m"]).unwrap().test,
            TestKind::Re(vec!['i', 'm'])
        );
        assert!(matches!(parse(&["contans"]), Err(ModError::Unknown(_))));
        assert!(matches!(parse(&["i"]), Err(ModError::Unknown(_))));
        assert!(matches!(
            parse(&["re", "contains"]),
            Err(ModError::Conflict(_))
        ));
        assert!(matches!(parse(&["gt", "lt"]), Err(ModError::Conflict(_))));
        assert!(matches!(parse(&["expand"]), Err(ModError::Unsupported(_))));
        assert!(parse(&["fieldref", "endswith"]).is_ok());
        assert!(parse(&["Contains", "CASED"]).unwrap().cased);
    }
}
