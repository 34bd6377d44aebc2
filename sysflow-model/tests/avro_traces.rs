//! Every real trace in ../shared/traces reads completely, with the record counts and header
//! versions of the reference (§1.4, §9).

mod common;

use std::collections::BTreeMap;

use sysflow_model::avro::Reader;
use sysflow_model::{OpFlags, RecordType, SysFlow};

struct Read {
    version: i64,
    header: Vec<sysflow_model::SfHeader>,
    counts: BTreeMap<&'static str, usize>,
    records: Vec<SysFlow>,
}

fn read(name: &str) -> Option<Read> {
    let path = common::shared()?.join("traces").join(name);
    let f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rd = Reader::new(f).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(rd.writer_schema().contains("sysflow"));
    let mut out = Read {
        version: -1,
        header: Vec::new(),
        counts: BTreeMap::new(),
        records: Vec::new(),
    };
    for r in rd {
        let r = r.unwrap_or_else(|e| panic!("{name}: {e}"));
        if let SysFlow::Header(h) = &r {
            out.version = h.version;
            out.header.push(h.clone());
        }
        *out.counts.entry(r.record_type().code()).or_default() += 1;
        out.records.push(r);
    }
    Some(out)
}

fn counts(spec: &[(&'static str, usize)]) -> BTreeMap<&'static str, usize> {
    spec.iter().copied().collect()
}

#[test]
fn v3_trace_1621959914() {
    let Some(r) = read("1621959914.sf") else { return };
    assert_eq!(r.version, 3);
    assert_eq!(
        r.counts,
        counts(&[("H", 1), ("P", 68), ("F", 2905), ("C", 1), ("FF", 5609), ("FE", 83), ("PE", 127), ("NF", 3)])
    );
    assert_ne!(r.header[0].filename, "", "v3 header has a filename");
}

#[test]
fn v5_collector_traces() {
    for (name, spec) in [
        ("alpine.sf", &[("H", 1), ("C", 1), ("P", 8), ("F", 5), ("FF", 16), ("PE", 8)][..]),
        ("files.sf", &[("H", 1), ("P", 7), ("PE", 2), ("F", 12), ("FF", 6), ("FE", 13)][..]),
        ("rename.sf", &[("H", 1), ("P", 4), ("PE", 2), ("F", 27), ("FF", 25), ("FE", 1)][..]),
    ] {
        let Some(r) = read(name) else { return };
        assert_eq!(r.version, 5, "{name}");
        assert_eq!(r.counts, counts(spec), "{name}");
    }
    // v5 processes carry cwd; rename events carry the new file.
    let Some(r) = read("rename.sf") else { return };
    assert!(r.records.iter().any(|x| matches!(x, SysFlow::Process(p) if !p.cwd.is_empty())));
    assert!(r.records.iter().any(
        |x| matches!(x, SysFlow::FileEvent(e) if e.op_flags.contains(OpFlags::RENAME) && e.new_file_oid.is_some())
    ));
}

#[test]
fn processor_traces_v2_v4_and_legacy_9() {
    let Some(r) = read("httpd.sf") else { return };
    assert_eq!(r.version, 2);
    assert_eq!(r.counts, counts(&[("H", 1), ("C", 1), ("P", 5), ("F", 4), ("FF", 4), ("NF", 1)]));
    assert_eq!(r.header[0].filename, "", "v2 has no filename");

    let Some(r) = read("k8s_small.sf") else { return };
    assert_eq!(r.version, 4);
    assert_eq!(
        r.counts,
        counts(&[
            ("H", 1),
            ("PD", 19),
            ("C", 23),
            ("P", 217),
            ("F", 666),
            ("FF", 3383),
            ("NF", 1511),
            ("PE", 341),
            ("FE", 8),
            ("KE", 4)
        ])
    );
    assert!(r.records.iter().any(|x| matches!(x, SysFlow::Pod(p) if !p.services.is_empty() || !p.labels.is_empty())));
    assert!(r.records.iter().any(|x| matches!(x, SysFlow::Container(c) if c.pod_id.is_some())));

    let Some(r) = read("shellshock.sf") else { return };
    assert_eq!(r.version, 4);
    assert_eq!(r.counts, counts(&[("H", 1), ("C", 1), ("P", 13), ("F", 19), ("PE", 9), ("FF", 47)]));

    // Legacy 9-member union with timestamp-millis logical types; header has no ip.
    let Some(r) = read("tcp.sf") else { return };
    assert_eq!(r.version, 1000);
    assert_eq!(r.counts, counts(&[("H", 1), ("P", 10), ("PE", 4), ("F", 2), ("FF", 4), ("NF", 2)]));
    assert_eq!(r.header[0].ip, "NA");
    assert!(r.records.iter().all(|x| !matches!(x, SysFlow::Process(p) if p.entry)));
}

#[test]
fn transitional_1001_keeps_imagerepo() {
    let Some(r) = read("nginx.sf") else { return };
    assert_eq!(r.version, 1001);
    assert_eq!(
        r.counts,
        counts(&[("H", 1), ("C", 2), ("P", 6), ("PE", 2), ("F", 32), ("FF", 42), ("FE", 5), ("NF", 6)])
    );
    let repos: Vec<_> = r
        .records
        .iter()
        .filter_map(|x| match x {
            SysFlow::Container(c) => Some(c.imagerepo.clone()),
            _ => None,
        })
        .collect();
    assert!(repos.iter().all(Option::is_some), "{repos:?}");
}

#[test]
fn legacy_8_member_nodejs() {
    let Some(r) = read("nodejs.1544763289.sf") else { return };
    assert_eq!(r.version, 1000);
    assert_eq!(
        r.counts,
        counts(&[("H", 1), ("C", 17), ("P", 101), ("F", 129), ("FF", 1268), ("PE", 180), ("NF", 767), ("FE", 1)])
    );
    // NF has no fd in this layout: documented default 0.
    assert!(r.records.iter().all(|x| !matches!(x, SysFlow::NetworkFlow(n) if n.fd != 0)));
}

#[test]
fn legacy_7_member_play() {
    let Some(r) = read("play.1544763289.sf") else { return };
    assert_eq!(r.version, 1000);
    // §9: C 17–18, P 122–171, PF 176–271, NF 453–727. The event-like ProcessFlow reads as PE.
    assert_eq!(r.counts, counts(&[("H", 1), ("C", 17), ("P", 122), ("PE", 180), ("NF", 512)]));
    let (c, p, pe, nf) = (r.counts["C"], r.counts["P"], r.counts["PE"], r.counts["NF"]);
    assert!((17..=18).contains(&c) && (122..=171).contains(&p));
    assert!((176..=271).contains(&pe) && (453..=727).contains(&nf));
    assert!(r.records.iter().all(|x| match x {
        SysFlow::ProcessEvent(e) => e.op_flags.0.count_ones() == 1,
        _ => true,
    }));
    // FileFlow has no openFlags here, but this file has no FileFlow at all.
    assert!(!r.counts.contains_key("FF"));
}

#[test]
fn legacy_4_member_play() {
    let Some(r) = read("play.1548965896.sf") else { return };
    assert_eq!(r.version, 1000);
    assert_eq!(r.counts, counts(&[("H", 1), ("C", 3), ("P", 90), ("PE", 143)]));
    let (c, p, pe) = (r.counts["C"], r.counts["P"], r.counts["PE"]);
    assert!((3..=4).contains(&c) && (88..=194).contains(&p) && (130..=318).contains(&pe));
    // EventType symbols map onto opFlags CLONE/EXEC/EXIT.
    let mut seen = 0u32;
    for x in &r.records {
        if let SysFlow::ProcessEvent(e) = x {
            assert!(matches!(e.op_flags.0, OpFlags::CLONE | OpFlags::EXEC | OpFlags::EXIT), "{e:?}");
            seen |= e.op_flags.0;
        }
    }
    assert_eq!(seen & (OpFlags::CLONE | OpFlags::EXEC), OpFlags::CLONE | OpFlags::EXEC);
    assert_eq!(RecordType::ProcessEvent.code(), "PE");
}
