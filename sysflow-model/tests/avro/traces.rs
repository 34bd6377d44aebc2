//! Every real trace in ../shared/traces reads completely, with the record counts and header
//! versions of the reference (§1.4, §9).

use std::collections::BTreeMap;

use sysflow_model::avro::Reader;
use sysflow_model::{OpFlags, RecordType, SysFlow};

use crate::common;

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
    let Some(r) = read("1621959914.sf") else {
        return;
    };
    assert_eq!(r.version, 3);
    assert_eq!(
        r.counts,
        counts(&[
            ("H", 1),
            ("P", 68),
            ("F", 2905),
            ("C", 1),
            ("FF", 5609),
            ("FE", 83),
            ("PE", 127),
            ("NF", 3)
        ])
    );
    assert_ne!(r.header[0].filename, "", "v3 header has a filename");
}

#[test]
fn v5_collector_traces() {
    for (name, spec) in [
        (
            "alpine.sf",
            &[
                ("H", 1),
                ("C", 1),
                ("P", 8),
                ("F", 5),
                ("FF", 16),
                ("PE", 8),
            ][..],
        ),
        (
            "files.sf",
            &[
                ("H", 1),
                ("P", 7),
                ("PE", 2),
                ("F", 12),
                ("FF", 6),
                ("FE", 13),
            ][..],
        ),
        (
            "rename.sf",
            &[
                ("H", 1),
                ("P", 4),
                ("PE", 2),
                ("F", 27),
                ("FF", 25),
                ("FE", 1),
            ][..],
        ),
    ] {
        let Some(r) = read(name) else { return };
        assert_eq!(r.version, 5, "{name}");
        assert_eq!(r.counts, counts(spec), "{name}");
    }
    // v5 processes carry cwd; rename events carry the new file.
    let Some(r) = read("rename.sf") else { return };
    assert!(r
        .records
        .iter()
        .any(|x| matches!(x, SysFlow::Process(p) if !p.cwd.is_empty())));
    assert!(r.records.iter().any(
        |x| matches!(x, SysFlow::FileEvent(e) if e.op_flags.contains(OpFlags::RENAME) && e.new_file_oid.is_some())
    ));
}

#[test]
fn processor_traces_v2_v4_and_legacy_9() {
    let Some(r) = read("httpd.sf") else { return };
    assert_eq!(r.version, 2);
    assert_eq!(
        r.counts,
        counts(&[("H", 1), ("C", 1), ("P", 5), ("F", 4), ("FF", 4), ("NF", 1)])
    );
    assert_eq!(r.header[0].filename, "", "v2 has no filename");

    let Some(r) = read("k8s_small.sf") else {
        return;
    };
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
    assert!(r
        .records
        .iter()
        .any(|x| matches!(x, SysFlow::Pod(p) if !p.services.is_empty() || !p.labels.is_empty())));
    assert!(r
        .records
        .iter()
        .any(|x| matches!(x, SysFlow::Container(c) if c.pod_id.is_some())));

    let Some(r) = read("shellshock.sf") else {
        return;
    };
    assert_eq!(r.version, 4);
    assert_eq!(
        r.counts,
        counts(&[
            ("H", 1),
            ("C", 1),
            ("P", 13),
            ("F", 19),
            ("PE", 9),
            ("FF", 47)
        ])
    );

    // Legacy 9-member union with timestamp-millis logical types; header has no ip.
    let Some(r) = read("tcp.sf") else { return };
    assert_eq!(r.version, 1000);
    assert_eq!(
        r.counts,
        counts(&[
            ("H", 1),
            ("P", 10),
            ("PE", 4),
            ("F", 2),
            ("FF", 4),
            ("NF", 2)
        ])
    );
    assert_eq!(r.header[0].ip, "NA");
    assert!(r
        .records
        .iter()
        .all(|x| !matches!(x, SysFlow::Process(p) if p.entry)));
}

#[test]
fn transitional_1001_keeps_imagerepo() {
    let Some(r) = read("nginx.sf") else { return };
    assert_eq!(r.version, 1001);
    assert_eq!(
        r.counts,
        counts(&[
            ("H", 1),
            ("C", 2),
            ("P", 6),
            ("PE", 2),
            ("F", 32),
            ("FF", 42),
            ("FE", 5),
            ("NF", 6)
        ])
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
    let Some(r) = read("nodejs.1544763289.sf") else {
        return;
    };
    assert_eq!(r.version, 1000);
    assert_eq!(
        r.counts,
        counts(&[
            ("H", 1),
            ("C", 17),
            ("P", 101),
            ("F", 129),
            ("FF", 1268),
            ("PE", 180),
            ("NF", 767),
            ("FE", 1)
        ])
    );
    // NF has no fd in this layout: documented default 0.
    assert!(r
        .records
        .iter()
        .all(|x| !matches!(x, SysFlow::NetworkFlow(n) if n.fd != 0)));
}

#[test]
fn legacy_7_member_play() {
    let Some(r) = read("play.1544763289.sf") else {
        return;
    };
    assert_eq!(r.version, 1000);
    // §9: C 17–18, P 122–171, PF 176–271, NF 453–727. The event-like ProcessFlow reads as PE.
    assert_eq!(
        r.counts,
        counts(&[("H", 1), ("C", 17), ("P", 122), ("PE", 180), ("NF", 512)])
    );
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
    let Some(r) = read("play.1548965896.sf") else {
        return;
    };
    assert_eq!(r.version, 1000);
    assert_eq!(
        r.counts,
        counts(&[("H", 1), ("C", 3), ("P", 90), ("PE", 143)])
    );
    let (c, p, pe) = (r.counts["C"], r.counts["P"], r.counts["PE"]);
    assert!((3..=4).contains(&c) && (88..=194).contains(&p) && (130..=318).contains(&pe));
    // EventType symbols map onto opFlags CLONE/EXEC/EXIT.
    let mut seen = 0u32;
    for x in &r.records {
        if let SysFlow::ProcessEvent(e) = x {
            assert!(
                matches!(e.op_flags.0, OpFlags::CLONE | OpFlags::EXEC | OpFlags::EXIT),
                "{e:?}"
            );
            seen |= e.op_flags.0;
        }
    }
    assert_eq!(
        seen & (OpFlags::CLONE | OpFlags::EXEC),
        OpFlags::CLONE | OpFlags::EXEC
    );
    assert_eq!(RecordType::ProcessEvent.code(), "PE");
}

/// A field checksum per record, summed per file. The expected sums were computed
/// independently from the same traces with Python fastavro 1.13.1 (writer-schema decoding,
/// legacy `type` enums mapped by the same rules), so they pin field values, not just counts.
fn checksum(r: &SysFlow) -> i64 {
    match r {
        SysFlow::Header(x) => x.version + x.exporter.len() as i64,
        SysFlow::Container(x) => x.r#type as i64 + x.id.len() as i64 + x.privileged as i64,
        SysFlow::Process(x) => {
            x.oid.hpid
                + x.ts
                + x.uid as i64
                + x.exe.len() as i64
                + x.state as i64
                + x.poid.map(|p| p.hpid).unwrap_or(0)
                + x.tty as i64
        }
        SysFlow::File(x) => x.ts + x.restype as i64 + x.oid.0[0] as i64 + x.path.len() as i64,
        SysFlow::ProcessEvent(x) => {
            x.ts + x.op_flags.0 as i64 + x.ret as i64 + x.tid + x.args.len() as i64
        }
        SysFlow::NetworkFlow(x) => {
            x.ts + x.sip as i64 + x.dport as i64 + x.num_w_send_bytes + x.fd as i64
        }
        SysFlow::FileFlow(x) => {
            x.ts + x.open_flags.0 as i64
                + x.fd as i64
                + x.num_r_recv_bytes
                + x.file_oid.0[19] as i64
        }
        SysFlow::FileEvent(x) => {
            x.ts + x.op_flags.0 as i64 + x.new_file_oid.map(|f| f.0[0] as i64).unwrap_or(0)
        }
        SysFlow::Pod(x) => {
            x.ts + x.host_ip.iter().sum::<i64>() + x.labels.len() as i64 + x.services.len() as i64
        }
        SysFlow::K8sEvent(x) => x.ts + x.kind as i64 + x.action as i64 + x.message.len() as i64,
        _ => 0,
    }
}

#[test]
fn field_values_match_fastavro() {
    for (name, expected) in [
        ("1621959914.sf", 5804321015068508956u64),
        ("alpine.sf", 3425477478961949154),
        ("files.sf", 6856361167619882628),
        ("httpd.sf", 4010253219169372795),
        ("k8s_small.sf", 3488443746035321224),
        ("nginx.sf", 16003989006461720315),
        ("nodejs.1544763289.sf", 15355248547710590318),
        ("play.1544763289.sf", 3058733202161992534),
        ("play.1548965896.sf", 10420920382529429795),
        ("rename.sf", 6470469039452390380),
        ("shellshock.sf", 17806593854991926323),
        ("tcp.sf", 15731208145800984391),
    ] {
        let Some(r) = read(name) else { return };
        let sum = r
            .records
            .iter()
            .fold(0u64, |h, x| h.wrapping_add(checksum(x) as u64));
        assert_eq!(sum, expected, "{name}");
    }
}
