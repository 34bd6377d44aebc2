//! Sigma log sources on SysFlow: which records a rule's `logsource` describes, and the
//! built-in mapping of Sigma's (Sysmon for Linux) field names to SysFlow attributes.

use sysflow_model::{OpFlags, OpenFlags, RecordType};

use crate::eval::{Cond, FieldRef, Test};

/// The log sources SysFlow records can stand for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// `process_creation`: process events with EXEC.
    ProcessCreation,
    /// `file_event`: file flows that wrote, or opened with O_CREAT.
    FileEvent,
    /// `file_delete`: file events UNLINK and RMDIR.
    FileDelete,
    /// `file_rename`: file events RENAME.
    FileRename,
    /// `network_connection`: network flows.
    NetworkConnection,
    /// `service: sysflow` without a category: every record (fields by their `sf.*` names).
    Any,
}

impl Category {
    pub fn name(self) -> &'static str {
        match self {
            Category::ProcessCreation => "process_creation",
            Category::FileEvent => "file_event",
            Category::FileDelete => "file_delete",
            Category::FileRename => "file_rename",
            Category::NetworkConnection => "network_connection",
            Category::Any => "sysflow",
        }
    }
}

/// A rule's `logsource` (lower-cased values).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSource {
    pub category: Option<String>,
    pub product: Option<String>,
    pub service: Option<String>,
}

impl LogSource {
    /// `category: x, product: y, service: z` for messages.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = [
            ("category", &self.category),
            ("product", &self.product),
            ("service", &self.service),
        ]
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}: {v}")))
        .collect();
        if parts.is_empty() {
            "an empty log source".into()
        } else {
            parts.join(", ")
        }
    }

    /// Whether `self` (a filter's log source) covers `rule`'s: each key it sets is equal.
    pub fn covers(&self, rule: &LogSource) -> bool {
        [
            (&self.category, &rule.category),
            (&self.product, &rule.product),
            (&self.service, &rule.service),
        ]
        .iter()
        .all(|(f, r)| f.is_none() || f == r)
    }

    /// The SysFlow records of this log source, or why there are none.
    pub fn category(&self) -> Result<Category, String> {
        if let Some(p) = self.product.as_deref() {
            if p != "linux" {
                return Err(format!("product '{p}' is not Linux"));
            }
        }
        let sysflow = match self.service.as_deref() {
            None => false,
            Some("sysflow") => true,
            Some(s) => return Err(format!("service '{s}' is not a SysFlow record")),
        };
        Ok(match self.category.as_deref() {
            Some("process_creation") => Category::ProcessCreation,
            Some("file_event") => Category::FileEvent,
            Some("file_delete") => Category::FileDelete,
            Some("file_rename") => Category::FileRename,
            Some("network_connection") => Category::NetworkConnection,
            None if sysflow => Category::Any,
            Some(c) => return Err(format!("category '{c}' has no SysFlow records")),
            None => return Err("no category (and no 'service: sysflow')".into()),
        })
    }
}

fn field(name: &str) -> Option<FieldRef> {
    (crate::namespace::POLICY.resolve)(name)
}

fn type_bit(t: RecordType) -> u16 {
    1 << (t as u16)
}

/// An op-flag bit test (`sf.opflags = NAME`) as the Falco compiler builds it.
fn ops(bits: u32) -> Cond {
    match field("sf.opflags") {
        Some(f) => Cond::Test(
            f,
            Test::OpMask {
                any: bits,
                net: 0,
                other: 0,
            },
        ),
        None => Cond::Const(false),
    }
}

/// The condition that selects the records of a category (first in every rule's tree, so
/// the engine's index sees the record type and operation).
pub fn records(c: Category) -> Cond {
    let t = |t| Cond::Type(type_bit(t));
    match c {
        Category::ProcessCreation => {
            Cond::And(vec![t(RecordType::ProcessEvent), ops(OpFlags::EXEC)].into())
        }
        Category::FileEvent => {
            let created = match field("sf.file.openflags") {
                Some(f) => Cond::Test(
                    f,
                    Test::OpenMask {
                        masks: vec![OpenFlags::CREAT].into(),
                        none: false,
                    },
                ),
                None => Cond::Const(false),
            };
            Cond::And(
                vec![
                    t(RecordType::FileFlow),
                    Cond::Or(vec![ops(OpFlags::WRITE), created].into()),
                ]
                .into(),
            )
        }
        Category::FileDelete => Cond::And(
            vec![
                t(RecordType::FileEvent),
                ops(OpFlags::UNLINK | OpFlags::RMDIR),
            ]
            .into(),
        ),
        Category::FileRename => {
            Cond::And(vec![t(RecordType::FileEvent), ops(OpFlags::RENAME)].into())
        }
        Category::NetworkConnection => t(RecordType::NetworkFlow),
        Category::Any => Cond::Const(true),
    }
}

/// What a Sigma field name stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// SysFlow attributes (several: any of them).
    Attrs(Vec<String>),
    /// A field of Sigma's taxonomy that SysFlow never has (hashes, logon ids, host names):
    /// every record lacks it.
    Absent,
    /// `Initiated` of `network_connection`: `true` is a CONNECT, `false` an ACCEPT.
    Initiated,
}

/// Process fields, the same in every category (the acting process and its parent).
const PROCESS: &[(&str, &str)] = &[
    ("Image", "sf.proc.exe"),
    ("CommandLine", "sf.proc.cmdline"),
    ("ProcessId", "sf.proc.pid"),
    ("ParentImage", "sf.pproc.exe"),
    ("ParentCommandLine", "sf.pproc.cmdline"),
    ("ParentProcessId", "sf.pproc.pid"),
    ("User", "sf.proc.user"),
    ("ParentUser", "sf.pproc.user"),
    ("CurrentDirectory", "sf.proc.cwd"),
];

const NETWORK: &[(&str, &str)] = &[
    ("DestinationIp", "sf.net.dip"),
    ("DestinationPort", "sf.net.dport"),
    ("SourceIp", "sf.net.sip"),
    ("SourcePort", "sf.net.sport"),
    ("Protocol", "sf.net.proto"),
];

/// Sysmon-for-Linux fields that SysFlow does not record.
pub const ABSENT: &[&str] = &[
    "OriginalFileName",
    "Hashes",
    "LogonId",
    "LogonGuid",
    "ProcessGuid",
    "ParentProcessGuid",
    "IntegrityLevel",
    "TerminalSessionId",
    "FileVersion",
    "Description",
    "Product",
    "Company",
    "RuleName",
    "UtcTime",
    "CreationUtcTime",
    "DestinationHostname",
    "SourceHostname",
    "DestinationPortName",
    "SourcePortName",
    "DestinationIsIpv6",
    "SourceIsIpv6",
];

/// The built-in target of a Sigma field in a category (before the catalogue's own names).
pub fn builtin(c: Category, name: &str) -> Option<Target> {
    let attr = |a: &str| Some(Target::Attrs(vec![a.to_string()]));
    if let Some((_, a)) = PROCESS.iter().find(|(k, _)| *k == name) {
        return attr(a);
    }
    match (c, name) {
        (Category::FileEvent | Category::FileDelete, "TargetFilename") => {
            return attr("sf.file.path")
        }
        (Category::FileRename, "SourceFilename") => return attr("sf.file.path"),
        (Category::FileRename, "TargetFilename") => return attr("sf.file.newpath"),
        (Category::NetworkConnection, "Initiated") => return Some(Target::Initiated),
        (Category::NetworkConnection, n) => {
            if let Some((_, a)) = NETWORK.iter().find(|(k, _)| *k == n) {
                return attr(a);
            }
        }
        _ => {}
    }
    ABSENT.contains(&name).then_some(Target::Absent)
}

/// Every built-in Sigma field name, for "did you mean …?".
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    PROCESS
        .iter()
        .chain(NETWORK)
        .map(|(k, _)| *k)
        .chain(["TargetFilename", "SourceFilename", "Initiated"])
        .chain(ABSENT.iter().copied())
}

/// Attributes a keyword (a value without a field) is searched in: the command line, and the
/// paths of file records.
pub fn keyword_fields(c: Category) -> &'static [&'static str] {
    match c {
        Category::FileEvent | Category::FileDelete => &["sf.proc.cmdline", "sf.file.path"],
        Category::FileRename | Category::Any => {
            &["sf.proc.cmdline", "sf.file.path", "sf.file.newpath"]
        }
        Category::ProcessCreation | Category::NetworkConnection => &["sf.proc.cmdline"],
    }
}

/// `Protocol` values as SysFlow stores them (IP protocol numbers).
pub fn protocol_number(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_lowercase().as_str() {
        "icmp" => "1",
        "tcp" => "6",
        "udp" => "17",
        "icmpv6" | "ipv6-icmp" => "58",
        _ => return None,
    })
}

/// The op flags `Initiated: true|false` stands for.
pub fn initiated(value: &str) -> Option<Cond> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Some(ops(OpFlags::CONNECT)),
        "false" => Some(ops(OpFlags::ACCEPT)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ls(c: Option<&str>, p: Option<&str>, s: Option<&str>) -> LogSource {
        LogSource {
            category: c.map(Into::into),
            product: p.map(Into::into),
            service: s.map(Into::into),
        }
    }

    #[test]
    fn categories() {
        assert_eq!(
            ls(Some("process_creation"), Some("linux"), None).category(),
            Ok(Category::ProcessCreation)
        );
        assert_eq!(
            ls(Some("file_event"), None, None).category(),
            Ok(Category::FileEvent)
        );
        assert!(ls(Some("process_creation"), Some("windows"), None)
            .category()
            .is_err());
        assert!(ls(None, Some("linux"), Some("auditd")).category().is_err());
        assert!(ls(None, Some("linux"), None).category().is_err());
        assert_eq!(
            ls(None, Some("linux"), Some("sysflow")).category(),
            Ok(Category::Any)
        );
        assert!(ls(Some("process_creation"), None, None).covers(&ls(
            Some("process_creation"),
            Some("linux"),
            None
        )));
        assert!(!ls(Some("file_event"), None, None).covers(&ls(
            Some("process_creation"),
            Some("linux"),
            None
        )));
    }

    #[test]
    fn builtin_fields_resolve() {
        for c in [
            Category::ProcessCreation,
            Category::FileEvent,
            Category::FileDelete,
            Category::FileRename,
            Category::NetworkConnection,
        ] {
            for n in builtin_names() {
                if let Some(Target::Attrs(a)) = builtin(c, n) {
                    assert!(field(&a[0]).is_some(), "{n} -> {a:?}");
                }
            }
            for f in keyword_fields(c) {
                assert!(field(f).is_some(), "{f}");
            }
        }
        assert_eq!(
            builtin(Category::ProcessCreation, "LogonId"),
            Some(Target::Absent)
        );
        assert_eq!(builtin(Category::ProcessCreation, "TargetFilename"), None);
    }
}
