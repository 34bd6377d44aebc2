//! `format: json`: sf-processor's nested layout (reference §6.2), or with `flat: true` one flat
//! object keyed by full `sf.*` names. Output is always valid JSON (the original's missing
//! commas in pod arrays are fixed).
//!
//! The attribute list is compiled once into a plan: sections, and in each section parts that
//! read one entity (process, ancestry, parent, container, pod, header) or the record. Entity
//! parts are copied from the fragment cache (`super::fragment`) while the entity is unchanged.

use std::ops::Range;

use sysflow_model::flat::Value;
use sysflow_model::record::{Pod, RecordType};

use super::attrs::{entity_of, resolve_all, Exported, Kind, Section};
use super::fragment::{CacheStats, Caches, Entity};
use super::jsonw;
use super::Encoder;
use crate::pipeline::Event;

/// A run of attributes that read the same entity (or the record: `entity` is `None`).
#[derive(Debug, Clone)]
struct Part {
    entity: Option<Entity>,
    attrs: Range<usize>,
}

/// A section of the nested layout (`Section::Top` for the top level), or the whole flat
/// object.
#[derive(Debug, Clone)]
struct SectionPlan {
    section: Section,
    /// `,"key":{` of a nested section.
    open: Box<[u8]>,
    /// Indexes into `JsonEncoder::parts`.
    parts: Range<usize>,
}

/// The JSON encoder.
pub struct JsonEncoder {
    attrs: Vec<Exported>,
    /// Per attribute, what comes before its value: `,"key":` (no comma for the first key of
    /// a section; full names when flat).
    prefixes: Vec<Box<[u8]>>,
    version: u32,
    sections: Vec<SectionPlan>,
    parts: Vec<Part>,
    /// One fragment cache per part (record parts leave theirs unused).
    caches: Caches,
    /// Encode every part afresh (the reference the cached output is tested against).
    uncached: bool,
}

impl JsonEncoder {
    pub fn new(version: u32, flat: bool) -> Self {
        let attrs = resolve_all();
        let mut sections: Vec<SectionPlan> = Vec::new();
        let mut parts: Vec<Part> = Vec::new();
        let mut prefixes: Vec<Box<[u8]>> = Vec::with_capacity(attrs.len());
        for (i, a) in attrs.iter().enumerate() {
            // The flat object is one section (keys are full names, every one after a comma).
            let section = if flat { Section::Top } else { a.section };
            let new_section = sections.last().is_none_or(|s| s.section != section);
            if new_section {
                let mut open = vec![b','];
                jsonw::key(&mut open, section.key());
                open.push(b'{');
                sections.push(SectionPlan {
                    section,
                    open: open.into(),
                    parts: parts.len()..parts.len(),
                });
            }
            let mut prefix = Vec::new();
            if !(new_section && section != Section::Top) {
                prefix.push(b',');
            }
            jsonw::key(&mut prefix, if flat { a.name } else { a.key });
            prefixes.push(prefix.into());
            let entity = entity_of(a);
            match parts.last_mut() {
                Some(p) if !new_section && p.entity == entity => p.attrs.end = i + 1,
                _ => parts.push(Part {
                    entity,
                    attrs: i..i + 1,
                }),
            }
            if let Some(s) = sections.last_mut() {
                s.parts.end = parts.len();
            }
        }
        JsonEncoder {
            caches: Caches::new(parts.len()),
            attrs,
            prefixes,
            version,
            sections,
            parts,
            uncached: false,
        }
    }

    /// The same encoder without the fragment cache.
    pub fn uncached(version: u32, flat: bool) -> Self {
        JsonEncoder {
            uncached: true,
            ..Self::new(version, flat)
        }
    }

    /// Fragment-cache hits and misses so far.
    pub fn cache_stats(&self) -> CacheStats {
        self.caches.stats()
    }
}

/// Appends the attributes of one part, each as its prefix (`,"key":`) and value.
fn write_part(attrs: &[Exported], prefixes: &[Box<[u8]>], p: &Part, ev: &Event, out: &mut Vec<u8>) {
    for i in p.attrs.clone() {
        out.extend_from_slice(&prefixes[i]);
        write_value(out, &attrs[i], ev);
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
        let JsonEncoder {
            attrs,
            prefixes,
            version,
            sections,
            parts,
            caches,
            uncached,
        } = self;
        out.extend_from_slice(b"{\"version\":");
        jsonw::int(out, *version as i64);
        for s in sections.iter() {
            let wrapped = s.section != Section::Top;
            if wrapped {
                if !section_present(s.section, ev) {
                    continue;
                }
                out.extend_from_slice(&s.open);
            }
            for pi in s.parts.clone() {
                let p = &parts[pi];
                match p.entity.filter(|_| !*uncached).and_then(|e| e.key(&ev.rec)) {
                    Some(k) => caches
                        .get(pi)
                        .write(k, out, |o| write_part(attrs, prefixes, p, ev, o)),
                    None => write_part(attrs, prefixes, p, ev, out),
                }
            }
            if wrapped {
                out.push(b'}');
            }
        }
        write_policies(out, ev);
        out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::encode::testutil::{assert_same, encode_all, events, shared_trace_events};
    use testkit::entities;

    /// The cached encoder writes what the uncached one writes, on every shared trace, nested
    /// and flat (the uncached one is the pre-cache encoder: every attribute per record).
    #[test]
    fn cached_output_matches_uncached_on_shared_traces() {
        let mut n = 0;
        for (path, evs) in shared_trace_events() {
            for flat in [false, true] {
                let mut cached = JsonEncoder::new(5, flat);
                let want = encode_all(&mut JsonEncoder::uncached(5, flat), &evs);
                let got = encode_all(&mut cached, &evs);
                assert_same(&got, &want, &path.display().to_string());
                if evs.len() > 100 {
                    assert!(cached.cache_stats().hits > 0, "{}", path.display());
                }
                n += evs.len();
            }
        }
        assert!(
            n > 10_000 || testkit::traces_dir().is_none(),
            "only {n} records encoded"
        );
    }

    /// Exec, setuid, a parent's exec, container and pod updates and a new header between
    /// records: every record shows the entity as it is at that record.
    #[test]
    fn fragments_follow_entity_changes() {
        let evs = events(entities::stream());
        for flat in [false, true] {
            let mut enc = JsonEncoder::new(5, flat);
            let docs = encode_all(&mut enc, &evs);
            let want = encode_all(&mut JsonEncoder::uncached(5, flat), &evs);
            assert_same(&docs, &want, "entity changes");
            let parsed: Vec<serde_json::Value> = docs
                .iter()
                .map(|d| serde_json::from_str(d).expect("valid JSON"))
                .collect();
            entities::check_sf_json(&parsed, flat);
            let s = enc.cache_stats();
            assert!(s.hits > 0 && s.misses > 0, "{s:?}");
        }
    }
}
