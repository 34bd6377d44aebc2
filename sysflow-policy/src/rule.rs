//! What the engine tells about a rule: name, description, priority, tags.

use std::fmt;

/// Rule priority: Falco's eight severities and SysFlow's low/medium/high.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Priority {
    Emergency,
    Alert,
    Critical,
    Error,
    Warning,
    Notice,
    Informational,
    Debug,
    High,
    Medium,
    Low,
}

impl Priority {
    /// Parses a priority word, case-insensitively (`info` = `informational`).
    pub fn parse(s: &str) -> Option<Priority> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "emergency" => Priority::Emergency,
            "alert" => Priority::Alert,
            "critical" => Priority::Critical,
            "error" => Priority::Error,
            "warning" => Priority::Warning,
            "notice" => Priority::Notice,
            "informational" | "info" => Priority::Informational,
            "debug" => Priority::Debug,
            "high" => Priority::High,
            "medium" => Priority::Medium,
            "low" => Priority::Low,
            _ => return None,
        })
    }

    /// The spelling accepted in rule files, for messages.
    pub const WORDS: &'static str =
        "emergency, alert, critical, error, warning, notice, informational (info), debug, high, medium, low";

    /// Falco's spelling in alerts (`Warning`, `Critical`, …); SysFlow's low/medium/high
    /// become Notice/Warning/Critical, so consumers of Falco's alerts accept them.
    pub fn falco_name(self) -> &'static str {
        match self {
            Priority::Emergency => "Emergency",
            Priority::Alert => "Alert",
            Priority::Critical | Priority::High => "Critical",
            Priority::Error => "Error",
            Priority::Warning | Priority::Medium => "Warning",
            Priority::Notice | Priority::Low => "Notice",
            Priority::Informational => "Informational",
            Priority::Debug => "Debug",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Priority::Emergency => "emergency",
            Priority::Alert => "alert",
            Priority::Critical => "critical",
            Priority::Error => "error",
            Priority::Warning => "warning",
            Priority::Notice => "notice",
            Priority::Informational => "informational",
            Priority::Debug => "debug",
            Priority::High => "high",
            Priority::Medium => "medium",
            Priority::Low => "low",
        }
    }

    /// SysFlow's priority level as the original processor exports it: 1 low, 2 medium,
    /// 3 high. Unlike the original, `alert` is high (the original made it low).
    pub fn sysflow_level(self) -> u8 {
        match self {
            Priority::Low | Priority::Debug | Priority::Informational | Priority::Notice => 1,
            Priority::Medium | Priority::Warning => 2,
            Priority::High
            | Priority::Error
            | Priority::Critical
            | Priority::Alert
            | Priority::Emergency => 3,
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A compiled rule as the daemon and exporters see it.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub desc: String,
    /// Falco output template, if the rule has one (not interpreted by the engine).
    pub output: Option<String>,
    pub priority: Priority,
    pub tags: Vec<String>,
    /// Action names (`action:`/`actions:`); not interpreted by the engine.
    pub actions: Vec<String>,
    /// `file:line` of the rule's definition.
    pub origin: String,
    /// Written in the Falco dialect (its file declares Falco's engine version).
    pub falco: bool,
    /// `output` compiled, its `%field`s resolved in the rule's dialect.
    pub template: Option<std::sync::Arc<crate::falco::output::Template>>,
}
