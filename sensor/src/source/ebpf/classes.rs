//! Which syscall events the probes report besides the process life cycle: `--events` and the
//! pipeline's `events` key, e.g. `file,net`, `setuid`, `all` (the default) or `none`.

use sensor_ebpf_common::classes::{ALL, FILE, NAMES, NET, SETUID};
use sysflow_model::{OpFlags, RecordType};

/// Parse a comma-separated list of `setuid`, `file`, `net`, or `all` / `none`, into the bits
/// of the probes' `EVENT_CLASSES`. The error names the value and what is accepted.
pub fn parse(s: &str) -> Result<u32, String> {
    let mut bits = 0;
    let mut any = false;
    for word in s.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        any = true;
        bits |= match word {
            "all" => ALL,
            "none" => 0,
            w => NAMES
                .iter()
                .find(|(n, _)| *n == w)
                .map(|(_, b)| *b)
                .ok_or_else(|| {
                    format!("unknown event class {w:?}: expected setuid, file, net, all or none")
                })?,
        };
    }
    if !any {
        return Err("empty list of event classes: say none for process events only".into());
    }
    Ok(bits)
}

/// The classes rules with these requirements (`(record types, op flags one of which is
/// needed)`, see `PolicyEngine::requirements`) can fire on: file flows and events need
/// `file`, network flows `net`, process events `setuid` unless the rule needs another op.
/// exec, clone and exit are always reported.
pub fn for_rules(reqs: &[(u16, u32)]) -> u32 {
    let bit = |t: RecordType| 1u16 << (t as u16);
    let file = bit(RecordType::FileFlow) | bit(RecordType::FileEvent);
    let mut c = 0;
    for &(types, ops) in reqs {
        if types & file != 0 {
            c |= FILE;
        }
        if types & bit(RecordType::NetworkFlow) != 0 {
            c |= NET;
        }
        if types & bit(RecordType::ProcessEvent) != 0 && (ops == 0 || ops & OpFlags::SETUID != 0) {
            c |= SETUID;
        }
    }
    c
}

/// The list back as text (`none` when empty), for logs and summaries.
pub fn names(bits: u32) -> String {
    let v: Vec<&str> = NAMES
        .iter()
        .filter(|(_, b)| bits & b != 0)
        .map(|(n, _)| *n)
        .collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sensor_ebpf_common::classes::{FILE, NET, SETUID};

    #[test]
    fn lists_parse_to_bits_and_back() {
        assert_eq!(parse("file,net"), Ok(FILE | NET));
        assert_eq!(parse(" setuid , file "), Ok(SETUID | FILE));
        assert_eq!(parse("all"), Ok(ALL));
        assert_eq!(parse("none"), Ok(0));
        assert_eq!(parse("net,,"), Ok(NET));
        assert_eq!(names(FILE | NET), "file,net");
        assert_eq!(names(0), "none");
        assert_eq!(names(ALL), "setuid,file,net");
    }

    #[test]
    fn rules_need_the_classes_of_the_records_they_can_match() {
        let bit = |t: RecordType| 1u16 << (t as u16);
        let pe = bit(RecordType::ProcessEvent);
        assert_eq!(for_rules(&[]), 0);
        // An exec-only rule needs nothing beyond the life cycle.
        assert_eq!(for_rules(&[(pe, OpFlags::EXEC)]), 0);
        assert_eq!(for_rules(&[(pe, 0)]), SETUID);
        assert_eq!(for_rules(&[(pe, OpFlags::SETUID | OpFlags::EXEC)]), SETUID);
        assert_eq!(for_rules(&[(bit(RecordType::FileEvent), 0)]), FILE);
        assert_eq!(
            for_rules(&[(bit(RecordType::NetworkFlow), 0), (pe, OpFlags::EXEC)]),
            NET
        );
        assert_eq!(for_rules(&[((1 << 12) - 1, 0)]), ALL);
    }

    #[test]
    fn unknown_or_empty_lists_are_refused_with_what_is_accepted() {
        let e = parse("file,nett").unwrap_err();
        assert!(
            e.contains("\"nett\"") && e.contains("setuid, file, net"),
            "{e}"
        );
        assert!(parse(" , ").unwrap_err().contains("none"));
    }
}
