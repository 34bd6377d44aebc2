//! Which syscall events the probes report besides the process life cycle: `--events` and the
//! pipeline's `events` key, e.g. `file,net`, `setuid`, `all` (the default) or `none`.

use sensor_ebpf_common::classes::{ALL, NAMES};

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
    fn unknown_or_empty_lists_are_refused_with_what_is_accepted() {
        let e = parse("file,nett").unwrap_err();
        assert!(
            e.contains("\"nett\"") && e.contains("setuid, file, net"),
            "{e}"
        );
        assert!(parse(" , ").unwrap_err().contains("none"));
    }
}
