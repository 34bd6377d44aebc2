//! The streaming ECS encoder against the earlier one (`reference`, serde_json maps), with and
//! without its fragment cache.

use sysflow_model::SysFlow;
use testkit::entities::{self, distinct_rename, sharing, Shared};

use super::reference;
use super::*;
use crate::export::encode::fragment::Entity;
use crate::export::encode::testutil::{assert_same, encode_all, events, shared_trace_events};

fn check(evs: &[Event], what: &str) -> EcsEncoder {
    let want = encode_all(&mut reference::EcsEncoder::new(), evs);
    assert_same(&encode_all(&mut EcsEncoder::uncached(), evs), &want, what);
    let mut cached = EcsEncoder::new();
    assert_same(&encode_all(&mut cached, evs), &want, what);
    cached
}

#[test]
fn same_bytes_as_the_map_encoder_on_shared_traces() {
    let mut n = 0;
    for (path, evs) in shared_trace_events() {
        let enc = check(&evs, &path.display().to_string());
        if evs.len() > 100 {
            assert!(enc.cache_stats().hits > 0, "{}", path.display());
        }
        n += evs.len();
    }
    assert!(
        n > 10_000 || testkit::traces_dir().is_none(),
        "only {n} records encoded"
    );
}

#[test]
fn same_bytes_when_entities_change_between_records() {
    let evs = events(entities::stream());
    let enc = check(&evs, "entity changes");
    let s = enc.cache_stats();
    assert!(s.hits > 0 && s.misses > 0, "{s:?}");
    // Every kind of record, with and without entities, quotes and control characters.
    let odd: Vec<SysFlow> = testkit::traces::records(14);
    check(&events(odd), "generated records");
}

#[test]
fn dates() {
    assert_eq!(iso_nanos(0), "1970-01-01T00:00:00Z");
    assert_eq!(
        iso_nanos(1_553_543_282_832_225_890),
        "2019-03-25T19:48:02.83222589Z"
    );
    for ns in [-1, 1, 999_999_999, -86_400_000_000_001, i64::MAX, i64::MIN] {
        assert_eq!(iso_nanos(ns), reference::iso_nanos(ns), "{ns}");
    }
}

/// A cached part reads nothing but its entity: two records sharing only that entity give
/// the same bytes.
#[test]
fn parts_read_only_their_entity() {
    let (a, b) = (distinct_rename(1), distinct_rename(2));
    let f = Fields::resolve();
    let render = |p: Part, r: &sysflow_model::flat::FlatRecord| {
        let ev = Event::new(r.clone());
        let mut out = Vec::new();
        Rec { f: &f, ev: &ev }.part(p, &mut out);
        String::from_utf8(out).unwrap()
    };
    for p in Part::ALL {
        let shared = match p.entity() {
            Entity::Header => Shared::Header,
            Entity::Container => Shared::Container,
            Entity::Pod => Shared::Pod,
            Entity::PProc => Shared::PProc,
            _ => Shared::Proc,
        };
        let b = sharing(&a, &b, shared);
        assert!(p.entity().key(&b).is_some());
        let (x, y) = (render(p, &a), render(p, &b));
        assert!(!x.is_empty());
        assert_eq!(x, y);
        assert_ne!(x, render(p, &distinct_rename(2)), "the records differ");
    }
}
