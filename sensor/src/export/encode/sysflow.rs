//! The `sysflow` encoding of the Kafka transport: events turned back into the SysFlow stream
//! they came from, one bare v5 datum per message as on the collector's socket, so that
//! `sensor run --input kafka` can flatten and evaluate them centrally.
//!
//! Each message key (a node, or a node's container) is a stream of its own, which a
//! consumer joins with tables of its own. Before an event, the stream carries what its
//! consumer's tables need and have not been sent yet in the current *epoch*: the header, the
//! pod and container, the process and its ancestors (oldest first), the file(s); then the
//! event. An entity is sent again when the flattener has replaced it (a new record for the
//! same id). A stream starts a new epoch — a header, which resets the consumer's tables, then
//! entities again as events need them — at least every `kafka.epoch`, so a consumer that
//! takes a partition over rebuilds the tables from the last epoch instead of the stream's
//! first message.
//!
//! For the Kafka disk buffer the encoder writes each event as one self-contained [`group`]
//! instead ([`SysflowEncoder::grouped`]): the header, every entity the event needs, then the
//! event; the delivery thread sends of it only what the key's stream has not carried since
//! it last started over. Each entity is encoded once per version and copied into the groups.

pub mod group;

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use sysflow_model::avro::datum::encode_datum;
use sysflow_model::{Container, File, Foid, Oid, Pod, Process, SfHeader, SysFlow};

use super::Encoder;
use crate::pipeline::Event;

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Sent entities are remembered by allocation: the flattener replaces an entity's `Arc` when
/// a new record arrives, and a `Weak` keeps the old allocation from being reused meanwhile.
fn same<T>(sent: Option<&Sent<T>>, now: &Arc<T>) -> bool {
    sent.is_some_and(|s| std::ptr::eq(s.at.as_ptr(), Arc::as_ptr(now)))
}

/// One entity as the stream last carried it: its allocation and, in grouped mode, its datum
/// (encoded once per version, copied into every group that needs it).
struct Sent<T> {
    at: Weak<T>,
    datum: Vec<u8>,
}

/// What one key's stream has carried in its current epoch.
#[derive(Default)]
struct Stream {
    started: Option<Instant>,
    last_used: Option<Instant>,
    header: Option<Arc<SfHeader>>,
    /// The header's datum (grouped mode).
    header_datum: Vec<u8>,
    procs: FastMap<Oid, Sent<Process>>,
    files: FastMap<Foid, Sent<File>>,
    containers: FastMap<String, Sent<Container>>,
    pods: FastMap<String, Sent<Pod>>,
}

impl Stream {
    fn new_epoch(&mut self, now: Instant, header: Arc<SfHeader>) {
        self.started = Some(now);
        self.header_datum.clear();
        encode_datum(&SysFlow::Header((*header).clone()), &mut self.header_datum);
        self.header = Some(header);
        self.procs.clear();
        self.files.clear();
        self.containers.clear();
        self.pods.clear();
    }
}

/// Encodes events as the SysFlow stream of their key.
pub struct SysflowEncoder {
    epoch: Duration,
    /// Each event is one self-contained [`group`] message.
    grouped: bool,
    /// The header of streams whose events carry none (the eBPF driver's): version 5, the
    /// node name as exporter.
    default_header: Arc<SfHeader>,
    streams: FastMap<Vec<u8>, Stream>,
    last_sweep: Instant,
}

impl SysflowEncoder {
    /// `node` names the sensor in the headers it makes up; `epoch` is `kafka.epoch`.
    pub fn new(node: &str, epoch: Duration) -> Self {
        SysflowEncoder {
            epoch,
            grouped: false,
            default_header: Arc::new(SfHeader {
                version: 5,
                exporter: node.to_string(),
                ip: String::new(),
                filename: String::new(),
            }),
            streams: FastMap::default(),
            last_sweep: Instant::now(),
        }
    }

    /// Writes each event as one message, a [`group`] with the header and every entity the
    /// event needs (the Kafka disk buffer's records). `epoch` only bounds how long encoded
    /// entities are kept.
    pub fn grouped(node: &str, epoch: Duration) -> Self {
        SysflowEncoder {
            grouped: true,
            ..SysflowEncoder::new(node, epoch)
        }
    }

    /// Forgets streams idle for a whole epoch (containers come and go): their next event
    /// starts a new epoch anyway.
    fn sweep(&mut self, now: Instant) {
        if now.duration_since(self.last_sweep) < self.epoch {
            return;
        }
        self.last_sweep = now;
        let epoch = self.epoch;
        self.streams
            .retain(|_, s| s.last_used.is_some_and(|t| now.duration_since(t) < epoch));
    }
}

/// Appends one entity's datum and closes the message.
fn put(rec: &SysFlow, out: &mut Vec<u8>, ends: &mut Vec<(usize, bool)>) {
    encode_datum(rec, out);
    ends.push((out.len(), false));
}

/// Where the messages of one event go: messages of their own, or entries of one group.
struct Out<'a> {
    grouped: bool,
    out: &'a mut Vec<u8>,
    ends: &'a mut Vec<(usize, bool)>,
}

impl Out<'_> {
    /// Entity `e` of kind `kind` (a [`group`] slot kind), filed under `id` in `map`: a
    /// message when the stream has not carried this version; in a group, always (encoded
    /// once per version).
    fn entity<K, T>(
        &mut self,
        map: &mut FastMap<K, Sent<T>>,
        kind: u8,
        id: &K,
        e: &Arc<T>,
        wrap: fn(T) -> SysFlow,
    ) where
        K: Eq + Hash + Clone,
        T: Clone,
    {
        if !same(map.get(id), e) {
            let mut datum = Vec::new();
            if self.grouped {
                datum = map.remove(id).map(|s| s.datum).unwrap_or_default();
                datum.clear();
                encode_datum(&wrap((**e).clone()), &mut datum);
            } else {
                put(&wrap((**e).clone()), self.out, self.ends);
            }
            let at = Arc::downgrade(e);
            map.insert(id.clone(), Sent { at, datum });
        }
        if self.grouped {
            if let Some(s) = map.get(id) {
                group::put(self.out, group::ENTITY, group::slot(kind, id), &s.datum);
            }
        }
    }
}

impl Encoder for SysflowEncoder {
    /// The event's own datum (the stream's entities need [`Encoder::encode_messages`]).
    fn encode(&mut self, ev: &Event, out: &mut Vec<u8>) {
        encode_datum(&ev.rec.rec, out);
    }

    fn encode_messages(
        &mut self,
        ev: &Event,
        key: &[u8],
        _doc: &mut Vec<u8>,
        out: &mut Vec<u8>,
        ends: &mut Vec<(usize, bool)>,
    ) {
        let now = Instant::now();
        self.sweep(now);
        let r = &ev.rec;
        let header = r.header.as_ref().unwrap_or(&self.default_header);
        let s = match self.streams.get_mut(key) {
            Some(s) => s,
            None => self.streams.entry(key.to_vec()).or_default(),
        };
        s.last_used = Some(now);
        let expired = s
            .started
            .is_none_or(|t| now.duration_since(t) >= self.epoch);
        let changed = s
            .header
            .as_ref()
            .is_none_or(|h| !Arc::ptr_eq(h, header) && **h != **header);
        if expired || changed {
            s.new_epoch(now, header.clone());
            if !self.grouped {
                out.extend_from_slice(&s.header_datum);
                ends.push((out.len(), false));
            }
        }
        if self.grouped {
            group::put(out, group::HEADER, 0, &s.header_datum);
        }
        let mut o = Out {
            grouped: self.grouped,
            out,
            ends,
        };
        if let Some(p) = &r.pod {
            o.entity(&mut s.pods, group::POD, &p.id, p, SysFlow::Pod);
        }
        if let Some(c) = &r.container {
            o.entity(
                &mut s.containers,
                group::CONTAINER,
                &c.id,
                c,
                SysFlow::Container,
            );
        }
        // Oldest ancestor first, so each parent is in the consumer's table before its child.
        for p in r.ancestry.iter().rev() {
            o.entity(&mut s.procs, group::PROCESS, &p.oid, p, SysFlow::Process);
        }
        for f in [&r.file, &r.newfile].into_iter().flatten() {
            o.entity(&mut s.files, group::FILE, &f.oid, f, SysFlow::File);
        }
        if self.grouped {
            group::put_with(out, group::RECORD, 0, |b| encode_datum(&r.rec, b));
        } else {
            encode_datum(&r.rec, out);
        }
        ends.push((out.len(), true));
    }

    fn restart(&mut self, key: &[u8]) {
        self.streams.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sysflow_model::avro::datum::decode_datum;
    use sysflow_model::tables::Flattener;
    use sysflow_model::{FileEvent, ProcessEvent};

    fn proc(pid: i64, parent: Option<i64>, exe: &str) -> Process {
        Process {
            oid: Oid {
                create_ts: 1,
                hpid: pid,
            },
            poid: parent.map(|p| Oid {
                create_ts: 1,
                hpid: p,
            }),
            exe: exe.into(),
            ..Default::default()
        }
    }

    fn hdr(exporter: &str) -> SysFlow {
        SysFlow::Header(SfHeader {
            version: 5,
            exporter: exporter.into(),
            ip: "10.0.0.1".into(),
            filename: "f.sf".into(),
        })
    }

    fn file(n: u8, path: &str) -> File {
        File {
            oid: Foid([n; 20]),
            path: path.into(),
            ..Default::default()
        }
    }

    fn fe(pid: i64, file: u8, ts: i64) -> SysFlow {
        SysFlow::FileEvent(FileEvent {
            proc_oid: Oid {
                create_ts: 1,
                hpid: pid,
            },
            file_oid: Foid([file; 20]),
            ts,
            ..Default::default()
        })
    }

    /// The messages of each event, decoded.
    fn messages(enc: &mut SysflowEncoder, ev: &Event, key: &[u8]) -> Vec<SysFlow> {
        let (mut out, mut ends) = (Vec::new(), Vec::new());
        enc.encode_messages(ev, key, &mut Vec::new(), &mut out, &mut ends);
        // Entities first; the record's own message last.
        assert!(ends.iter().rev().skip(1).all(|(_, record)| !record));
        assert_eq!(ends.last().map(|e| e.1), Some(true));
        let mut start = 0;
        ends.iter()
            .map(|&(e, _)| {
                let r = decode_datum(&out[start..e]).unwrap();
                start = e;
                r
            })
            .collect()
    }

    fn names(recs: &[SysFlow]) -> Vec<String> {
        recs.iter()
            .map(|r| match r {
                SysFlow::Header(h) => format!("H:{}", h.exporter),
                SysFlow::Process(p) => format!("P:{}", p.exe),
                SysFlow::File(f) => format!("F:{}", f.path),
                SysFlow::FileEvent(e) => format!("FE:{}", e.ts),
                SysFlow::ProcessEvent(e) => format!("PE:{}", e.ts),
                other => format!("{:?}", other.record_type()),
            })
            .collect()
    }

    /// Three events of process 2 (a child of 1) on one file; before the third, a new record
    /// for process 2.
    fn three_events() -> Vec<Event> {
        let mut src = Flattener::default();
        let mut evs = Vec::new();
        for r in [
            hdr("h1"),
            SysFlow::Process(proc(1, None, "/init")),
            SysFlow::Process(proc(2, Some(1), "/bin/sh")),
            SysFlow::File(file(7, "/etc/passwd")),
            fe(2, 7, 10),
            fe(2, 7, 11),
            SysFlow::Process(proc(2, Some(1), "/bin/cat")),
            fe(2, 7, 12),
        ] {
            if let Some(f) = src.push(r) {
                evs.push(Event::new(f));
            }
        }
        evs
    }

    #[test]
    fn entities_go_once_per_epoch_and_stream_oldest_ancestor_first() {
        let evs = three_events();
        let mut enc = SysflowEncoder::new("node", Duration::from_secs(3600));
        assert_eq!(
            names(&messages(&mut enc, &evs[0], b"a")),
            ["H:h1", "P:/init", "P:/bin/sh", "F:/etc/passwd", "FE:10"]
        );
        assert_eq!(names(&messages(&mut enc, &evs[1], b"a")), ["FE:11"]);
        // A new record for process 2: sent again, its unchanged parent not.
        assert_eq!(
            names(&messages(&mut enc, &evs[2], b"a")),
            ["P:/bin/cat", "FE:12"]
        );
        // Another key is a stream of its own.
        assert_eq!(
            names(&messages(&mut enc, &evs[2], b"b")),
            ["H:h1", "P:/init", "P:/bin/cat", "F:/etc/passwd", "FE:12"]
        );
        // A new epoch sends everything again.
        let mut enc = SysflowEncoder::new("node", Duration::ZERO);
        messages(&mut enc, &evs[0], b"a");
        assert_eq!(messages(&mut enc, &evs[1], b"a").len(), 5);
    }

    /// The datums of one event's group (grouped mode: one message).
    fn group_datums(enc: &mut SysflowEncoder, ev: &Event, key: &[u8]) -> Vec<u8> {
        let (mut out, mut ends) = (Vec::new(), Vec::new());
        enc.encode_messages(ev, key, &mut Vec::new(), &mut out, &mut ends);
        assert_eq!(ends, [(out.len(), true)]);
        assert!(group::valid(&out));
        out
    }

    fn decoded(g: &[u8]) -> Vec<SysFlow> {
        group::entries(g)
            .map(|e| decode_datum(e.unwrap().datum).unwrap())
            .collect()
    }

    #[test]
    fn groups_carry_everything_and_streams_send_what_is_new() {
        use crate::export::transport::kafka::streams::Streams;
        let evs = three_events();
        let mut enc = SysflowEncoder::grouped("node", Duration::from_secs(3600));
        let groups: Vec<_> = evs
            .iter()
            .map(|ev| group_datums(&mut enc, ev, b"a"))
            .collect();
        let all = ["H:h1", "P:/init", "P:/bin/sh", "F:/etc/passwd"];
        assert_eq!(names(&decoded(&groups[0]))[..4], all);
        assert_eq!(names(&decoded(&groups[1]))[..4], all);
        assert_eq!(
            names(&decoded(&groups[2])),
            ["H:h1", "P:/init", "P:/bin/cat", "F:/etc/passwd", "FE:12"]
        );
        // Sent through the key's stream, restarted before the second group (as after an
        // outage): each record reaches a consumer with the entities it had at the source.
        let mut streams = Streams::new(Duration::from_secs(3600));
        let mut dst = Flattener::default();
        let mut sent = Vec::new();
        for (i, (g, ev)) in groups.iter().zip(&evs).enumerate() {
            if i == 1 {
                streams.clear();
            }
            let mut got = None;
            streams
                .send::<()>(b"a", g, Instant::now(), |e| {
                    let r = decode_datum(e.datum).unwrap();
                    sent.push(names(std::slice::from_ref(&r)).remove(0));
                    got = dst.push(r).or(got.take());
                    Ok(())
                })
                .unwrap();
            let got = got.unwrap();
            assert_eq!(got.rec, ev.rec.rec);
            assert_eq!(got.proc.as_deref(), ev.rec.proc.as_deref());
            assert_eq!(got.pproc.as_deref(), ev.rec.pproc.as_deref());
            assert_eq!(got.file.as_deref(), ev.rec.file.as_deref());
        }
        assert_eq!(
            sent,
            [
                "H:h1",
                "P:/init",
                "P:/bin/sh",
                "F:/etc/passwd",
                "FE:10", // first
                "H:h1",
                "P:/init",
                "P:/bin/sh",
                "F:/etc/passwd",
                "FE:11", // restarted
                "P:/bin/cat",
                "FE:12",
            ]
        );
    }

    #[test]
    fn the_stream_flattens_to_the_same_records() {
        // What a consumer joins from the messages equals what the producer had joined.
        let mut src = Flattener::default();
        let mut enc = SysflowEncoder::new("node", Duration::from_secs(3600));
        let mut dst = Flattener::default();
        let input = [
            SysFlow::Process(proc(1, None, "/init")),
            SysFlow::Process(proc(2, Some(1), "/bin/sh")),
            SysFlow::File(file(7, "/etc/passwd")),
            SysFlow::ProcessEvent(ProcessEvent {
                proc_oid: Oid {
                    create_ts: 1,
                    hpid: 2,
                },
                ts: 5,
                ..Default::default()
            }),
            fe(2, 7, 6),
        ];
        for r in input {
            let Some(f) = src.push(r) else { continue };
            let ev = Event::new(f);
            let mut got = None;
            for m in messages(&mut enc, &ev, b"k") {
                got = dst.push(m).or(got);
            }
            let got = got.unwrap();
            assert_eq!(got.rec, ev.rec.rec);
            assert_eq!(got.proc.as_deref(), ev.rec.proc.as_deref());
            assert_eq!(got.pproc.as_deref(), ev.rec.pproc.as_deref());
            assert_eq!(got.file.as_deref(), ev.rec.file.as_deref());
            // A made-up header names the node (the source had none).
            assert_eq!(got.header.unwrap().exporter, "node");
        }
    }
}
