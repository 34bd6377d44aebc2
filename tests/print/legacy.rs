//! Legacy layouts the Python sysprint crashes on (`play.*`: 7- and 4-member unions) print in
//! every mode, one output record per event/flow the reader decodes.

use std::ffi::OsStr;

use sysflow_model::avro::Reader;
use testkit::print::*;
use testkit::traces_dir;

use super::ours;

#[test]
fn play_traces_print_in_every_mode() {
    let Some(dir) = traces_dir() else {
        return;
    };
    // (file, flat records, NF, PE) — the legacy event-like ProcessFlow reads as a ProcessEvent.
    for (name, total, nf, pe) in [
        ("play.1544763289.sf", 692, 512, 180),
        ("play.1548965896.sf", 143, 0, 143),
    ] {
        let t = dir.join(name);
        // Independent count from the reader: every event/flow is printed.
        let rd = Reader::new(std::fs::File::open(&t).expect("open")).expect("header");
        let evflows = rd
            .map(|r| r.expect("record"))
            .filter(|r| r.record_type().is_event_or_flow())
            .count();
        assert_eq!(evflows, total, "{name}: reader count");
        for mode in ["json", "flatjson", "str"] {
            let out = run(
                &ours(),
                &[OsStr::new("-o"), OsStr::new(mode), t.as_os_str()],
            );
            assert!(
                out.status.success(),
                "{name} -o {mode}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.stderr.is_empty(), "{name} -o {mode}: stderr not empty");
            if mode == "str" {
                // Header, rule, one line per record (fewer than 1001 records: one table).
                assert_eq!(
                    String::from_utf8_lossy(&out.stdout).lines().count(),
                    total + 2
                );
                continue;
            }
            let recs = json_lines(&out.stdout);
            assert_eq!(recs.len(), total, "{name} -o {mode}");
            let ty = |r: &serde_json::Value| r["type"].as_str().unwrap_or("").to_string();
            assert_eq!(recs.iter().filter(|r| ty(r) == "NF").count(), nf);
            assert_eq!(recs.iter().filter(|r| ty(r) == "PE").count(), pe);
            // Legacy processes have no `entry` field: sysprint's rendering of a missing field.
            let entry = if mode == "json" {
                &recs[0]["proc"]["entry"]
            } else {
                &recs[0]["proc.entry"]
            };
            assert_eq!(entry, "");
        }
        let tmp = temp_dir("legacy-csv");
        let f = tmp.join("o.csv");
        let out = run(
            &ours(),
            &[
                OsStr::new("-o"),
                OsStr::new("csv"),
                OsStr::new("-w"),
                f.as_os_str(),
                t.as_os_str(),
            ],
        );
        assert!(out.status.success());
        let csv = std::fs::read_to_string(&f).expect("csv");
        assert_eq!(csv.matches("\r\n").count(), total + 1);
    }
}
