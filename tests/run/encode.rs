//! The exporter's encoding: the same bytes whatever the number of encoding threads
//! (`encoders`), and entity changes (exec, setuid, container and pod updates, a new header)
//! visible in the very next record after the entity cache has served the old one. The
//! pipelines run in enrich mode (every record exported).

use std::path::Path;

use testkit::run::*;
use testkit::{entities, traces_dir};

use super::sensor;

/// stdout of `sensor run` on `input` with the exporter keys `exporter` (`,"k":"v"…`).
fn run(dir: &Path, input: &Path, exporter: &str) -> Vec<u8> {
    let cfg = enrich_pipeline(dir, "p", &format!(r#","export":"terminal"{exporter}"#));
    let o = sensor()
        .args(["run", "--log", "error", "--config"])
        .arg(&cfg)
        .arg(input)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    o.stdout
}

fn first_difference(a: &[u8], b: &[u8]) -> Option<String> {
    let (la, lb): (Vec<&[u8]>, Vec<&[u8]>) = (
        a.split(|&c| c == b'\n').collect(),
        b.split(|&c| c == b'\n').collect(),
    );
    let i = (0..la.len().max(lb.len())).find(|&i| la.get(i) != lb.get(i))?;
    let show = |l: Option<&&[u8]>| {
        l.map_or("<none>".to_string(), |l| {
            String::from_utf8_lossy(l).into_owned()
        })
    };
    Some(format!(
        "line {i} of {}/{}:\n one: {}\nmany: {}",
        la.len(),
        lb.len(),
        show(la.get(i)),
        show(lb.get(i))
    ))
}

#[test]
fn every_shared_trace_exports_the_same_bytes_with_one_or_several_encoders() {
    let Some(traces) = traces_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    for format in [
        r#","format":"json""#,
        r#","format":"json","flat":"true""#,
        r#","format":"ecs""#,
        // One document per matched rule, none for the others.
        r#","format":"falco""#,
    ] {
        let one = run(tmp.path(), &traces, &format!(r#"{format},"encoders":"1""#));
        let many = run(tmp.path(), &traces, &format!(r#"{format},"encoders":"4""#));
        assert!(one.len() > 10_000, "{format}: only {} bytes", one.len());
        if let Some(d) = first_difference(&one, &many) {
            panic!("{format}: {d}");
        }
    }
}

#[test]
fn entity_changes_show_in_the_next_record() {
    let tmp = tempfile::tempdir().unwrap();
    let trace = tmp.path().join("changes.sf");
    let bytes = testkit::traces::trace(sysflow_model::avro::Codec::Null, &entities::stream(), 1000);
    std::fs::write(&trace, bytes).unwrap();
    for (flat, keys) in [(false, ""), (true, r#","flat":"true""#)] {
        let many = run(tmp.path(), &trace, &format!(r#"{keys},"encoders":"2""#));
        let docs = json_lines(&String::from_utf8_lossy(&many));
        entities::check_sf_json(&docs, flat);
        let one = run(tmp.path(), &trace, &format!(r#"{keys},"encoders":"1""#));
        assert_eq!(first_difference(&one, &many), None);
    }
}
