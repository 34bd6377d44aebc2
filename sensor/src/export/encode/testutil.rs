//! Helpers of the encoders' tests: flattened events (some of them alerts), documents as text,
//! and a comparison that shows only the first differing document.

use std::path::PathBuf;
use std::sync::Arc;

use sysflow_model::{Flattener, SysFlow, TableConfig};

use super::Encoder;
use crate::pipeline::{Event, RuleInfo};

/// The flat records of `recs` as events; every 7th matched a rule (every 21st two, and has
/// an action tag), with quotes and angle brackets in the rule names.
pub fn events(recs: impl IntoIterator<Item = SysFlow>) -> Vec<Event> {
    let mut f = Flattener::new(TableConfig::default());
    let rule = |i: usize| {
        Arc::new(RuleInfo {
            name: format!("rule \"{i}\" <x>"),
            desc: "d & e".into(),
            priority: (i % 5) as u8,
            tags: vec![format!("t{i}"), "mitre:T1059".into()],
            falco_priority: "Warning",
            template: None,
        })
    };
    recs.into_iter()
        .filter_map(|r| f.push(r))
        .enumerate()
        .map(|(i, fr)| {
            let mut ev = Event::new(fr);
            if i % 7 == 0 {
                ev.rules.push(rule(i));
            }
            if i % 21 == 0 {
                ev.rules.push(rule(i + 1));
                ev.tags.push("tagged".into());
            }
            ev
        })
        .collect()
}

/// The events of every shared trace the reader reads, by trace (none without `../shared`).
pub fn shared_trace_events() -> Vec<(PathBuf, Vec<Event>)> {
    let Some(dir) = testkit::traces_dir() else {
        return Vec::new();
    };
    testkit::print::traces(&dir)
        .into_iter()
        .filter_map(|path| {
            let f = std::fs::File::open(&path).ok()?;
            let rd = sysflow_model::avro::Reader::new(std::io::BufReader::new(f)).ok()?;
            let evs = events(rd.map_while(Result::ok));
            Some((path, evs))
        })
        .collect()
}

pub fn encode_all(enc: &mut dyn Encoder, evs: &[Event]) -> Vec<String> {
    evs.iter()
        .map(|ev| {
            let mut out = Vec::new();
            enc.encode(ev, &mut out);
            String::from_utf8(out).expect("utf-8")
        })
        .collect()
}

/// Equal document lists; on a difference, only the first differing document is shown.
pub fn assert_same(got: &[String], want: &[String], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: document count");
    if let Some(i) = (0..got.len()).find(|&i| got[i] != want[i]) {
        panic!(
            "{what}: document {i} differs\n got: {}\nwant: {}",
            got[i], want[i]
        );
    }
}
