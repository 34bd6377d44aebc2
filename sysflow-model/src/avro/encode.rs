//! Encoding of SysFlow records as v5 datums (union index + record body), the layout of
//! [`super::SYSFLOW_V5_SCHEMA`].

use super::cursor::put_long;
use crate::record::*;

#[inline]
fn put_int(out: &mut Vec<u8>, v: i32) {
    put_long(out, i64::from(v));
}

#[inline]
fn put_bool(out: &mut Vec<u8>, v: bool) {
    out.push(u8::from(v));
}

#[inline]
fn put_str(out: &mut Vec<u8>, s: &str) {
    put_long(out, s.len() as i64);
    out.extend_from_slice(s.as_bytes());
}

#[inline]
fn put_oid(out: &mut Vec<u8>, o: &Oid) {
    put_long(out, o.create_ts);
    put_long(out, o.hpid);
}

/// `["null", T]` union.
#[inline]
fn put_opt<T>(out: &mut Vec<u8>, v: Option<&T>, f: impl FnOnce(&mut Vec<u8>, &T)) {
    match v {
        None => out.push(0),
        Some(v) => {
            out.push(2);
            f(out, v);
        }
    }
}

/// Arrays are written as one block (count, items) and the 0 terminator; empty = just 0.
fn put_array<T>(out: &mut Vec<u8>, items: &[T], mut f: impl FnMut(&mut Vec<u8>, &T)) {
    if !items.is_empty() {
        put_long(out, items.len() as i64);
        for i in items {
            f(out, i);
        }
    }
    out.push(0);
}

/// Append the v5 datum of `rec` to `out`.
pub fn encode_datum(rec: &SysFlow, out: &mut Vec<u8>) {
    put_long(out, rec.record_type() as i64);
    match rec {
        SysFlow::Header(r) => {
            put_long(out, r.version);
            put_str(out, &r.exporter);
            put_str(out, &r.ip);
            put_str(out, &r.filename);
        }
        SysFlow::Container(r) => {
            put_str(out, &r.id);
            put_str(out, &r.name);
            put_str(out, &r.image);
            put_str(out, &r.imageid);
            put_long(out, r.r#type as i64);
            put_bool(out, r.privileged);
            put_opt(out, r.pod_id.as_ref(), |o, s| put_str(o, s));
        }
        SysFlow::Process(r) => {
            put_long(out, r.state as i64);
            put_oid(out, &r.oid);
            put_opt(out, r.poid.as_ref(), put_oid);
            put_long(out, r.ts);
            put_str(out, &r.exe);
            put_str(out, &r.exe_args);
            put_int(out, r.uid);
            put_str(out, &r.user_name);
            put_int(out, r.gid);
            put_str(out, &r.group_name);
            put_bool(out, r.tty);
            put_opt(out, r.container_id.as_ref(), |o, s| put_str(o, s));
            put_bool(out, r.entry);
            put_str(out, &r.cwd);
            put_array(out, &r.env, |o, s| put_str(o, s));
        }
        SysFlow::File(r) => {
            put_long(out, r.state as i64);
            out.extend_from_slice(&r.oid.0);
            put_long(out, r.ts);
            put_int(out, r.restype);
            put_str(out, &r.path);
            put_opt(out, r.container_id.as_ref(), |o, s| put_str(o, s));
        }
        SysFlow::ProcessEvent(r) => {
            put_oid(out, &r.proc_oid);
            put_long(out, r.ts);
            put_long(out, r.tid);
            put_int(out, r.op_flags.0 as i32);
            put_array(out, &r.args, |o, s| put_str(o, s));
            put_int(out, r.ret);
        }
        SysFlow::NetworkFlow(r) => {
            put_oid(out, &r.proc_oid);
            put_long(out, r.ts);
            put_long(out, r.tid);
            put_int(out, r.op_flags.0 as i32);
            put_long(out, r.end_ts);
            put_int(out, r.sip);
            put_int(out, r.sport);
            put_int(out, r.dip);
            put_int(out, r.dport);
            put_int(out, r.proto);
            put_int(out, r.fd);
            put_long(out, r.num_r_recv_ops);
            put_long(out, r.num_w_send_ops);
            put_long(out, r.num_r_recv_bytes);
            put_long(out, r.num_w_send_bytes);
        }
        SysFlow::FileFlow(r) => {
            put_oid(out, &r.proc_oid);
            put_long(out, r.ts);
            put_long(out, r.tid);
            put_int(out, r.op_flags.0 as i32);
            put_int(out, r.open_flags.0 as i32);
            put_long(out, r.end_ts);
            out.extend_from_slice(&r.file_oid.0);
            put_int(out, r.fd);
            put_long(out, r.num_r_recv_ops);
            put_long(out, r.num_w_send_ops);
            put_long(out, r.num_r_recv_bytes);
            put_long(out, r.num_w_send_bytes);
        }
        SysFlow::FileEvent(r) => {
            put_oid(out, &r.proc_oid);
            put_long(out, r.ts);
            put_long(out, r.tid);
            put_int(out, r.op_flags.0 as i32);
            out.extend_from_slice(&r.file_oid.0);
            put_int(out, r.ret);
            put_opt(out, r.new_file_oid.as_ref(), |o, f| {
                o.extend_from_slice(&f.0)
            });
        }
        SysFlow::NetworkEvent(r) => {
            put_oid(out, &r.proc_oid);
            put_long(out, r.ts);
            put_long(out, r.tid);
            put_int(out, r.op_flags.0 as i32);
            put_int(out, r.sip);
            put_int(out, r.sport);
            put_int(out, r.dip);
            put_int(out, r.dport);
            put_int(out, r.proto);
            put_int(out, r.ret);
        }
        SysFlow::ProcessFlow(r) => {
            put_oid(out, &r.proc_oid);
            put_long(out, r.ts);
            put_long(out, r.num_threads_cloned);
            put_int(out, r.op_flags.0 as i32);
            put_long(out, r.end_ts);
            put_long(out, r.num_threads_exited);
            put_long(out, r.num_clone_errors);
        }
        SysFlow::Pod(r) => {
            put_long(out, r.ts);
            put_str(out, &r.id);
            put_str(out, &r.name);
            put_str(out, &r.node_name);
            put_array(out, &r.host_ip, |o, v| put_long(o, *v));
            put_array(out, &r.internal_ip, |o, v| put_long(o, *v));
            put_str(out, &r.namespace);
            put_long(out, r.restart_count);
            put_array(out, &r.labels, |o, (k, v)| {
                put_str(o, k);
                put_str(o, v);
            });
            put_array(out, &r.selectors, |o, (k, v)| {
                put_str(o, k);
                put_str(o, v);
            });
            put_array(out, &r.services, |o, s| {
                put_str(o, &s.name);
                put_str(o, &s.id);
                put_str(o, &s.namespace);
                put_array(o, &s.port_list, |o, p| {
                    put_int(o, p.port);
                    put_int(o, p.target_port);
                    put_int(o, p.node_port);
                    put_str(o, &p.proto);
                });
                put_array(o, &s.cluster_ip, |o, v| put_long(o, *v));
            });
        }
        SysFlow::K8sEvent(r) => {
            put_long(out, r.kind as i64);
            put_long(out, r.action as i64);
            put_long(out, r.ts);
            put_str(out, &r.message);
        }
    }
}
