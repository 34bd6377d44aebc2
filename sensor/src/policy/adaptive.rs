//! `events: auto` of the ebpf driver: report only the syscall event classes the pipeline can
//! use, as Falco adapts its syscall set to the loaded rules. Every record reaches an exporter
//! unless an alert-mode policy stage stands in the way; behind one, only the record types its
//! rules can match matter. With process rules only, no syscall probe is attached at all.

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use anyhow::Context;
use sensor_ebpf_common::classes::ALL;

use crate::config::{PluginConfig, PolicyMode, Stage};
use crate::policy::rules::{self, RuleSource, Rules};
use crate::source::ebpf::classes;

/// The classes the probes were started with when `auto` narrowed them; `ALL` otherwise.
static COLLECTED: AtomicU32 = AtomicU32::new(ALL);

/// The classes the pipeline below `stage` can use (compiles the alert-mode rules once more:
/// the probes are attached before the pipeline's threads start).
pub fn needed(stage: &Stage) -> anyhow::Result<u32> {
    match &stage.plugin {
        PluginConfig::Exporter(_) => Ok(ALL),
        PluginConfig::Policy(p) if p.mode == PolicyMode::Alert => {
            let src = match &p.policies {
                Some(path) => RuleSource::Path(path.clone()),
                None => RuleSource::Builtin,
            };
            let set = rules::loader_with(src, rules::LoadSpec::of(p))()
                .with_context(|| format!("{}: cannot load the rules", stage.label))?;
            Ok(of(&set))
        }
        _ => stage
            .children
            .iter()
            .try_fold(0, |acc, c| Ok(acc | needed(c)?)),
    }
}

/// The classes a rule set can use.
fn of(set: &Rules) -> u32 {
    set.requirements()
        .map_or(ALL, |reqs| classes::for_rules(&reqs))
}

/// Remember what the probes were started with (`auto` only).
pub fn started_with(events: u32) {
    COLLECTED.store(events, Relaxed);
}

/// After a reload: the classes the new rules could use that the probes do not report. The
/// probes' classes are fixed when they are loaded, so these need a restart.
pub fn missing(set: &Rules) -> u32 {
    of(set) & !COLLECTED.load(Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sensor_ebpf_common::classes::{FILE, NET, SETUID};
    use std::io::Write;

    fn rules_file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new()
            .suffix(".yaml")
            .tempfile()
            .expect("temp rules");
        f.write_all(text.as_bytes()).expect("write rules");
        f
    }

    fn classes_of(text: &str, mode: PolicyMode) -> u32 {
        let f = rules_file(text);
        let set = rules::loader(RuleSource::Path(f.path().to_path_buf()), mode)().expect("rules");
        of(&set)
    }

    const EXEC_ONLY: &str = "- rule: shell\n  desc: a shell ran\n  condition: sf.type = PE and sf.opflags = EXEC and sf.proc.name = bash\n  output: shell\n  priority: low\n";
    const FILE_AND_NET: &str = "- rule: shadow\n  desc: shadow read\n  condition: sf.type = FF and sf.file.path = /etc/shadow\n  output: x\n  priority: high\n- rule: nc\n  desc: connect\n  condition: sf.type = NF and sf.net.dport = 4444\n  output: y\n  priority: high\n";
    const UNTYPED: &str = "- rule: any\n  desc: any record of nc\n  condition: sf.proc.name = nc\n  output: z\n  priority: low\n";

    #[test]
    fn alert_rules_narrow_the_classes_to_what_they_can_match() {
        assert_eq!(classes_of(EXEC_ONLY, PolicyMode::Alert), 0);
        assert_eq!(classes_of(FILE_AND_NET, PolicyMode::Alert), FILE | NET);
        // A condition that does not say its record type may match anything.
        assert_eq!(classes_of(UNTYPED, PolicyMode::Alert), SETUID | FILE | NET);
        // Enrich mode passes every record on: everything is needed.
        assert_eq!(classes_of(EXEC_ONLY, PolicyMode::Enrich), ALL);
    }

    #[test]
    fn a_reload_that_needs_more_is_reported_as_missing() {
        let f = rules_file(FILE_AND_NET);
        let set = rules::loader(RuleSource::Path(f.path().to_path_buf()), PolicyMode::Alert)()
            .expect("rules");
        started_with(FILE);
        assert_eq!(missing(&set), NET);
        started_with(ALL);
        assert_eq!(missing(&set), 0);
    }
}
