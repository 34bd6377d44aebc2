//! Our schema and datum encoding agree with the apache-avro crate and the official schema.

use std::collections::HashMap;

use apache_avro::types::Value;
use apache_avro::Schema;
use sysflow_model::avro::datum::{decode_datum, encode_datum};
use sysflow_model::avro::SYSFLOW_V5_SCHEMA;
use sysflow_model::*;

use crate::common;

fn official() -> Option<Schema> {
    let dir = common::shared()?;
    let text = std::fs::read_to_string(dir.join("avsc/SysFlow.avsc")).expect("read SysFlow.avsc");
    Some(Schema::parse_str(&text).expect("official schema parses"))
}

#[test]
fn our_schema_has_the_official_canonical_form() {
    let ours = Schema::parse_str(SYSFLOW_V5_SCHEMA).expect("our schema parses with apache-avro");
    let Some(off) = official() else { return };
    assert_eq!(ours.canonical_form(), off.canonical_form());
    // The v5 schema extracted from the C++ collector header, too.
    let dir = common::shared().expect("shared");
    let cpp =
        std::fs::read_to_string(dir.join("avsc/history/SysFlow.v5.from-cpp-header.avsc")).unwrap();
    assert_eq!(
        ours.canonical_form(),
        Schema::parse_str(&cpp).unwrap().canonical_form()
    );
}

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}
fn oid(o: &Oid) -> Value {
    Value::Record(vec![
        ("createTS".into(), Value::Long(o.create_ts)),
        ("hpid".into(), Value::Long(o.hpid)),
    ])
}
fn foid(f: &Foid) -> Value {
    Value::Fixed(20, f.0.to_vec())
}
fn opt(v: Option<Value>) -> Value {
    match v {
        None => Value::Union(0, Box::new(Value::Null)),
        Some(v) => Value::Union(1, Box::new(v)),
    }
}
fn strs(v: &[String]) -> Value {
    Value::Array(v.iter().map(|x| s(x)).collect())
}
fn longs(v: &[i64]) -> Value {
    Value::Array(v.iter().map(|x| Value::Long(*x)).collect())
}
fn map(v: &[(String, String)]) -> Value {
    Value::Map(
        v.iter()
            .map(|(k, x)| (k.clone(), s(x)))
            .collect::<HashMap<_, _>>(),
    )
}
fn en(i: usize, syms: &[&str]) -> Value {
    Value::Enum(i as u32, syms[i].to_owned())
}
fn rec(fields: Vec<(&str, Value)>) -> Value {
    Value::Record(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// The apache-avro value of a record, field by field from the spec.
fn to_value(r: &SysFlow) -> Value {
    let body = match r {
        SysFlow::Header(h) => rec(vec![
            ("version", Value::Long(h.version)),
            ("exporter", s(&h.exporter)),
            ("ip", s(&h.ip)),
            ("filename", s(&h.filename)),
        ]),
        SysFlow::Container(c) => rec(vec![
            ("id", s(&c.id)),
            ("name", s(&c.name)),
            ("image", s(&c.image)),
            ("imageid", s(&c.imageid)),
            ("type", en(c.r#type as usize, &ContainerType::SYMBOLS)),
            ("privileged", Value::Boolean(c.privileged)),
            ("podId", opt(c.pod_id.as_deref().map(s))),
        ]),
        SysFlow::Process(p) => rec(vec![
            ("state", en(p.state as usize, &ObjectState::SYMBOLS)),
            ("oid", oid(&p.oid)),
            ("poid", opt(p.poid.as_ref().map(oid))),
            ("ts", Value::Long(p.ts)),
            ("exe", s(&p.exe)),
            ("exeArgs", s(&p.exe_args)),
            ("uid", Value::Int(p.uid)),
            ("userName", s(&p.user_name)),
            ("gid", Value::Int(p.gid)),
            ("groupName", s(&p.group_name)),
            ("tty", Value::Boolean(p.tty)),
            ("containerId", opt(p.container_id.as_deref().map(s))),
            ("entry", Value::Boolean(p.entry)),
            ("cwd", s(&p.cwd)),
            ("env", strs(&p.env)),
        ]),
        SysFlow::File(f) => rec(vec![
            ("state", en(f.state as usize, &ObjectState::SYMBOLS)),
            ("oid", foid(&f.oid)),
            ("ts", Value::Long(f.ts)),
            ("restype", Value::Int(f.restype)),
            ("path", s(&f.path)),
            ("containerId", opt(f.container_id.as_deref().map(s))),
        ]),
        SysFlow::ProcessEvent(e) => rec(vec![
            ("procOID", oid(&e.proc_oid)),
            ("ts", Value::Long(e.ts)),
            ("tid", Value::Long(e.tid)),
            ("opFlags", Value::Int(e.op_flags.0 as i32)),
            ("args", strs(&e.args)),
            ("ret", Value::Int(e.ret)),
        ]),
        SysFlow::NetworkFlow(n) => rec(vec![
            ("procOID", oid(&n.proc_oid)),
            ("ts", Value::Long(n.ts)),
            ("tid", Value::Long(n.tid)),
            ("opFlags", Value::Int(n.op_flags.0 as i32)),
            ("endTs", Value::Long(n.end_ts)),
            ("sip", Value::Int(n.sip)),
            ("sport", Value::Int(n.sport)),
            ("dip", Value::Int(n.dip)),
            ("dport", Value::Int(n.dport)),
            ("proto", Value::Int(n.proto)),
            ("fd", Value::Int(n.fd)),
            ("numRRecvOps", Value::Long(n.num_r_recv_ops)),
            ("numWSendOps", Value::Long(n.num_w_send_ops)),
            ("numRRecvBytes", Value::Long(n.num_r_recv_bytes)),
            ("numWSendBytes", Value::Long(n.num_w_send_bytes)),
        ]),
        SysFlow::FileFlow(f) => rec(vec![
            ("procOID", oid(&f.proc_oid)),
            ("ts", Value::Long(f.ts)),
            ("tid", Value::Long(f.tid)),
            ("opFlags", Value::Int(f.op_flags.0 as i32)),
            ("openFlags", Value::Int(f.open_flags.0 as i32)),
            ("endTs", Value::Long(f.end_ts)),
            ("fileOID", foid(&f.file_oid)),
            ("fd", Value::Int(f.fd)),
            ("numRRecvOps", Value::Long(f.num_r_recv_ops)),
            ("numWSendOps", Value::Long(f.num_w_send_ops)),
            ("numRRecvBytes", Value::Long(f.num_r_recv_bytes)),
            ("numWSendBytes", Value::Long(f.num_w_send_bytes)),
        ]),
        SysFlow::FileEvent(f) => rec(vec![
            ("procOID", oid(&f.proc_oid)),
            ("ts", Value::Long(f.ts)),
            ("tid", Value::Long(f.tid)),
            ("opFlags", Value::Int(f.op_flags.0 as i32)),
            ("fileOID", foid(&f.file_oid)),
            ("ret", Value::Int(f.ret)),
            ("newFileOID", opt(f.new_file_oid.as_ref().map(foid))),
        ]),
        SysFlow::NetworkEvent(n) => rec(vec![
            ("procOID", oid(&n.proc_oid)),
            ("ts", Value::Long(n.ts)),
            ("tid", Value::Long(n.tid)),
            ("opFlags", Value::Int(n.op_flags.0 as i32)),
            ("sip", Value::Int(n.sip)),
            ("sport", Value::Int(n.sport)),
            ("dip", Value::Int(n.dip)),
            ("dport", Value::Int(n.dport)),
            ("proto", Value::Int(n.proto)),
            ("ret", Value::Int(n.ret)),
        ]),
        SysFlow::ProcessFlow(p) => rec(vec![
            ("procOID", oid(&p.proc_oid)),
            ("ts", Value::Long(p.ts)),
            ("numThreadsCloned", Value::Long(p.num_threads_cloned)),
            ("opFlags", Value::Int(p.op_flags.0 as i32)),
            ("endTs", Value::Long(p.end_ts)),
            ("numThreadsExited", Value::Long(p.num_threads_exited)),
            ("numCloneErrors", Value::Long(p.num_clone_errors)),
        ]),
        SysFlow::Pod(p) => rec(vec![
            ("ts", Value::Long(p.ts)),
            ("id", s(&p.id)),
            ("name", s(&p.name)),
            ("nodeName", s(&p.node_name)),
            ("hostIP", longs(&p.host_ip)),
            ("internalIP", longs(&p.internal_ip)),
            ("namespace", s(&p.namespace)),
            ("restartCount", Value::Long(p.restart_count)),
            ("labels", map(&p.labels)),
            ("selectors", map(&p.selectors)),
            (
                "services",
                Value::Array(
                    p.services
                        .iter()
                        .map(|sv| {
                            rec(vec![
                                ("name", s(&sv.name)),
                                ("id", s(&sv.id)),
                                ("namespace", s(&sv.namespace)),
                                (
                                    "portList",
                                    Value::Array(
                                        sv.port_list
                                            .iter()
                                            .map(|pt| {
                                                rec(vec![
                                                    ("port", Value::Int(pt.port)),
                                                    ("targetPort", Value::Int(pt.target_port)),
                                                    ("nodePort", Value::Int(pt.node_port)),
                                                    ("proto", s(&pt.proto)),
                                                ])
                                            })
                                            .collect(),
                                    ),
                                ),
                                ("clusterIP", longs(&sv.cluster_ip)),
                            ])
                        })
                        .collect(),
                ),
            ),
        ]),
        SysFlow::K8sEvent(k) => rec(vec![
            ("kind", en(k.kind as usize, &K8sComponent::SYMBOLS)),
            ("action", en(k.action as usize, &K8sAction::SYMBOLS)),
            ("ts", Value::Long(k.ts)),
            ("message", s(&k.message)),
        ]),
    };
    rec(vec![(
        "rec",
        Value::Union(r.record_type() as u32, Box::new(body)),
    )])
}

#[test]
fn same_bytes_as_apache_avro_for_every_record_type() {
    let Some(schema) = official() else { return };
    let samples = common::samples();
    assert_eq!(samples.len(), 12);
    for r in &samples {
        let theirs = apache_avro::to_avro_datum(&schema, to_value(r))
            .unwrap_or_else(|e| panic!("apache-avro encode {:?}: {e}", r.record_type()));
        let mut ours = Vec::new();
        encode_datum(r, &mut ours);
        assert_eq!(ours, theirs, "{:?}", r.record_type());
        assert_eq!(&decode_datum(&theirs).unwrap(), r, "{:?}", r.record_type());
        // And apache-avro reads our bytes back to the same value.
        let back = apache_avro::from_avro_datum(&schema, &mut &ours[..], None).unwrap();
        assert_eq!(
            back,
            to_value(r).resolve(&schema).unwrap(),
            "{:?}",
            r.record_type()
        );
    }
}

#[test]
fn empty_arrays_and_null_branches_match_too() {
    let Some(schema) = official() else { return };
    let mut p = match &common::samples()[2] {
        SysFlow::Process(p) => p.clone(),
        _ => unreachable!(),
    };
    p.poid = None;
    p.container_id = None;
    p.env.clear();
    let pod = SysFlow::Pod(Pod::default());
    for r in [SysFlow::Process(p), pod] {
        let theirs = apache_avro::to_avro_datum(&schema, to_value(&r)).unwrap();
        let mut ours = Vec::new();
        encode_datum(&r, &mut ours);
        assert_eq!(ours, theirs);
        assert_eq!(decode_datum(&theirs).unwrap(), r);
    }
}
