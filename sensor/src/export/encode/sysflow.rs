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

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use sysflow_model::avro::datum::encode_datum;
use sysflow_model::{Container, File, Foid, Oid, Pod, Process, SfHeader, SysFlow};

use super::Encoder;
use crate::pipeline::Event;

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Sent entities are remembered by allocation: the flattener replaces an entity's `Arc` when
/// a new record arrives, and a `Weak` keeps the old allocation from being reused meanwhile.
fn same<T>(sent: Option<&Weak<T>>, now: &Arc<T>) -> bool {
    sent.is_some_and(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(now)))
}

/// What one key's stream has carried in its current epoch.
#[derive(Default)]
struct Stream {
    started: Option<Instant>,
    last_used: Option<Instant>,
    header: Option<Arc<SfHeader>>,
    procs: FastMap<Oid, Weak<Process>>,
    files: FastMap<Foid, Weak<File>>,
    containers: FastMap<String, Weak<Container>>,
    pods: FastMap<String, Weak<Pod>>,
}

impl Stream {
    fn new_epoch(&mut self, now: Instant, header: Arc<SfHeader>) {
        self.started = Some(now);
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
            put(&SysFlow::Header((**header).clone()), out, ends);
        }
        if let Some(p) = &r.pod {
            if !same(s.pods.get(&p.id), p) {
                s.pods.insert(p.id.clone(), Arc::downgrade(p));
                put(&SysFlow::Pod((**p).clone()), out, ends);
            }
        }
        if let Some(c) = &r.container {
            if !same(s.containers.get(&c.id), c) {
                s.containers.insert(c.id.clone(), Arc::downgrade(c));
                put(&SysFlow::Container((**c).clone()), out, ends);
            }
        }
        // Oldest ancestor first, so each parent is in the consumer's table before its child.
        for p in r.ancestry.iter().rev() {
            if !same(s.procs.get(&p.oid), p) {
                s.procs.insert(p.oid, Arc::downgrade(p));
                put(&SysFlow::Process((**p).clone()), out, ends);
            }
        }
        for f in [&r.file, &r.newfile].into_iter().flatten() {
            if !same(s.files.get(&f.oid), f) {
                s.files.insert(f.oid, Arc::downgrade(f));
                put(&SysFlow::File((**f).clone()), out, ends);
            }
        }
        encode_datum(&r.rec, out);
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

    #[test]
    fn entities_go_once_per_epoch_and_stream_oldest_ancestor_first() {
        let mut src = Flattener::default();
        let mut evs = Vec::new();
        for r in [
            hdr("h1"),
            SysFlow::Process(proc(1, None, "/init")),
            SysFlow::Process(proc(2, Some(1), "/bin/sh")),
            SysFlow::File(file(7, "/etc/passwd")),
            fe(2, 7, 10),
            fe(2, 7, 11),
            // A new record for process 2: sent again, its unchanged parent not.
            SysFlow::Process(proc(2, Some(1), "/bin/cat")),
            fe(2, 7, 12),
        ] {
            if let Some(f) = src.push(r) {
                evs.push(Event::new(f));
            }
        }
        let mut enc = SysflowEncoder::new("node", Duration::from_secs(3600));
        assert_eq!(
            names(&messages(&mut enc, &evs[0], b"a")),
            ["H:h1", "P:/init", "P:/bin/sh", "F:/etc/passwd", "FE:10"]
        );
        assert_eq!(names(&messages(&mut enc, &evs[1], b"a")), ["FE:11"]);
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
