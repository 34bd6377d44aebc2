//! `format: json`: sf-processor's nested layout (reference §6.2), or with `flat: true` one flat
//! object keyed by full `sf.*` names. Output is always valid JSON (the original's missing
//! commas in pod arrays are fixed).

use sysflow_model::flat::Value;
use sysflow_model::record::{Pod, RecordType};

use super::attrs::{resolve_all, Exported, Kind, Section};
use super::jsonw;
use super::Encoder;
use crate::pipeline::Event;

/// The JSON encoder.
pub struct JsonEncoder {
    attrs: Vec<Exported>,
    version: u32,
    flat: bool,
}

impl JsonEncoder {
    pub fn new(version: u32, flat: bool) -> Self {
        JsonEncoder {
            attrs: resolve_all(),
            version,
            flat,
        }
    }
}

/// Which sections a record shows (reference §6.2).
fn section_present(s: Section, ev: &Event) -> bool {
    let r = &ev.rec;
    let ty = r.rec.record_type();
    if ty == RecordType::K8sEvent {
        return matches!(
            s,
            Section::Top | Section::K8s | Section::Meta | Section::Node
        );
    }
    match s {
        Section::Top | Section::Meta | Section::Node | Section::Proc => true,
        Section::K8s => false,
        Section::Container => r.container.as_ref().is_some_and(|c| !c.id.is_empty()),
        Section::File => matches!(ty, RecordType::FileFlow | RecordType::FileEvent),
        Section::Flow => matches!(ty, RecordType::FileFlow | RecordType::NetworkFlow),
        Section::Net => ty == RecordType::NetworkFlow,
        Section::Pod => r.pod.as_ref().is_some_and(|p| !p.id.is_empty()),
        Section::Pproc => r
            .proc
            .as_ref()
            .and_then(|p| p.poid)
            .is_some_and(|o| o.hpid != 0),
    }
}

/// Writes one attribute value.
pub(super) fn write_value(out: &mut Vec<u8>, a: &Exported, ev: &Event) {
    let pod = ev.rec.pod.as_deref();
    match a.kind {
        Kind::PodHostIp => return ints(out, pod.map(|p| p.host_ip.as_slice())),
        Kind::PodInternalIp => return ints(out, pod.map(|p| p.internal_ip.as_slice())),
        Kind::PodServices => return services(out, pod),
        _ => {}
    }
    let v = match &a.field {
        Some(f) => ev.rec.get(f),
        None => Value::Missing,
    };
    match (a.kind, v) {
        (Kind::Int, Value::Int(i)) => jsonw::int(out, i),
        (Kind::Int, Value::Bool(b)) => jsonw::int(out, b as i64),
        (Kind::Int, v) => jsonw::int(out, v.as_int().unwrap_or(0)),
        (Kind::Bool, Value::Bool(b)) => jsonw::boolean(out, b),
        (Kind::Bool, v) => jsonw::boolean(
            out,
            match v {
                Value::Str(s) => s == "true",
                v => v.as_int().unwrap_or(0) != 0,
            },
        ),
        (Kind::Str, Value::Missing) => out.extend_from_slice(b"\"\""),
        (Kind::Str, v) => jsonw::value_string(out, &v),
        (Kind::List, v) => jsonw::value_array(out, &v, false),
        (Kind::IntList, v) => jsonw::value_array(out, &v, true),
        (Kind::PodHostIp | Kind::PodInternalIp | Kind::PodServices, _) => {}
    }
}

fn ints(out: &mut Vec<u8>, v: Option<&[i64]>) {
    out.push(b'[');
    for (i, x) in v.unwrap_or_default().iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        jsonw::int(out, *x);
    }
    out.push(b']');
}

fn services(out: &mut Vec<u8>, pod: Option<&Pod>) {
    out.push(b'[');
    for (i, s) in pod
        .map(|p| p.services.as_slice())
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'{');
        jsonw::key(out, "clusterip");
        ints(out, Some(&s.cluster_ip));
        out.push(b',');
        jsonw::key(out, "id");
        jsonw::string(out, &s.id);
        out.push(b',');
        jsonw::key(out, "name");
        jsonw::string(out, &s.name);
        out.push(b',');
        jsonw::key(out, "namespace");
        jsonw::string(out, &s.namespace);
        out.push(b',');
        jsonw::key(out, "portlist");
        out.push(b'[');
        for (j, p) in s.port_list.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"nodeport\":");
            jsonw::int(out, p.node_port as i64);
            out.extend_from_slice(b",\"port\":");
            jsonw::int(out, p.port as i64);
            out.extend_from_slice(b",\"proto\":");
            jsonw::string(out, &p.proto);
            out.extend_from_slice(b",\"targetport\":");
            jsonw::int(out, p.target_port as i64);
            out.push(b'}');
        }
        out.extend_from_slice(b"]}");
    }
    out.push(b']');
}

/// Appends `,"policies":[…]` and `,"tags":[…]` when there are any.
pub(super) fn write_policies(out: &mut Vec<u8>, ev: &Event) {
    if !ev.rules.is_empty() {
        out.extend_from_slice(b",\"policies\":[");
        for (i, r) in ev.rules.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"id\":");
            jsonw::string(out, &r.name);
            out.extend_from_slice(b",\"desc\":");
            jsonw::string(out, &r.desc);
            out.extend_from_slice(b",\"priority\":");
            jsonw::int(out, r.priority as i64);
            out.push(b'}');
        }
        out.push(b']');
    }
    let n_tags = ev.tags.len() + ev.rules.iter().map(|r| r.tags.len()).sum::<usize>();
    if n_tags > 0 {
        out.extend_from_slice(b",\"tags\":[");
        let tags = ev.tags.iter().map(|t| &**t).chain(
            ev.rules
                .iter()
                .flat_map(|r| r.tags.iter().map(String::as_str)),
        );
        for (i, t) in tags.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            jsonw::string(out, t);
        }
        out.push(b']');
    }
}

impl Encoder for JsonEncoder {
    fn encode(&mut self, ev: &Event, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"version\":");
        jsonw::int(out, self.version as i64);
        if self.flat {
            for a in &self.attrs {
                out.push(b',');
                jsonw::key(out, a.name);
                write_value(out, a, ev);
            }
        } else {
            let mut open: Option<Section> = None;
            let mut skip: Option<Section> = None;
            for a in &self.attrs {
                if skip == Some(a.section) {
                    continue;
                }
                if a.section != Section::Top && open != Some(a.section) {
                    if !section_present(a.section, ev) {
                        skip = Some(a.section);
                        continue;
                    }
                    if open.is_some_and(|s| s != Section::Top) {
                        out.push(b'}');
                    }
                    out.push(b',');
                    jsonw::key(out, a.section.key());
                    out.push(b'{');
                    open = Some(a.section);
                } else {
                    if a.section == Section::Top {
                        open = Some(Section::Top);
                    }
                    if out.last() != Some(&b'{') {
                        out.push(b',');
                    }
                }
                jsonw::key(out, a.key);
                write_value(out, a, ev);
            }
            if open.is_some_and(|s| s != Section::Top) {
                out.push(b'}');
            }
        }
        write_policies(out, ev);
        out.push(b'}');
    }
}
