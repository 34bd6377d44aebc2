//! `format: falco`: Falco's JSON alert, one document per matched rule, so that Falcosidekick
//! and other consumers of Falco's alerts take ours unchanged:
//! `{"hostname","output","priority","rule","source","tags","time","output_fields"}`.
//! `output` is Falco's line (`HH:MM:SS.nnnnnnnnn: Priority <rule output>`), the rule's
//! `output` template rendered with its `%field`s; `output_fields` holds those fields (JSON
//! numbers for numeric fields, `null` when absent) plus `evt.time`. Records that matched
//! no rule are not exported in this format (Falco has no form for them).

use sysflow_model::flat::{Attr, Field, Value};

use super::{jsonw, Encoder};
use crate::pipeline::{Event, RuleInfo};
use crate::time::Civil;

pub struct FalcoEncoder {
    /// This machine's name, for records whose trace header names no node.
    hostname: String,
    node: Field,
    text: String,
}

impl Default for FalcoEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FalcoEncoder {
    pub fn new() -> Self {
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        FalcoEncoder {
            hostname,
            node: Field {
                attr: Attr::NodeId,
                index: None,
                json_path: None,
                name: "sf.node.id",
            },
            text: String::new(),
        }
    }

    fn alert(&mut self, ev: &Event, rule: &RuleInfo, out: &mut Vec<u8>) {
        let ts = match ev.rec.get(&Field {
            attr: Attr::Ts,
            index: None,
            json_path: None,
            name: "sf.ts",
        }) {
            Value::Int(t) => t,
            _ => 0,
        };
        let c = Civil::from_unix(ts.div_euclid(1_000_000_000));
        let nanos = ts.rem_euclid(1_000_000_000);
        self.text.clear();
        use std::fmt::Write as _;
        let _ = write!(
            self.text,
            "{:02}:{:02}:{:02}.{nanos:09}: {} ",
            c.hour, c.minute, c.second, rule.falco_priority
        );
        match &rule.template {
            Some(t) => t.render(&ev.rec, &mut self.text),
            None => self.text.push_str(&rule.desc),
        }
        out.push(b'{');
        jsonw::key(out, "hostname");
        match ev.rec.get(&self.node) {
            Value::Str(h) if !h.is_empty() => jsonw::string(out, h),
            _ => jsonw::string(out, &self.hostname),
        }
        out.push(b',');
        jsonw::key(out, "output");
        jsonw::string(out, &self.text);
        out.push(b',');
        jsonw::key(out, "priority");
        jsonw::string(out, rule.falco_priority);
        out.push(b',');
        jsonw::key(out, "rule");
        jsonw::string(out, &rule.name);
        out.push(b',');
        jsonw::key(out, "source");
        jsonw::string(out, "syscall");
        out.push(b',');
        jsonw::key(out, "tags");
        out.push(b'[');
        for (i, t) in ev
            .tags
            .iter()
            .map(|t| &**t)
            .chain(rule.tags.iter().map(String::as_str))
            .enumerate()
        {
            if i > 0 {
                out.push(b',');
            }
            jsonw::string(out, t);
        }
        out.extend_from_slice(b"],");
        jsonw::key(out, "time");
        self.text.clear();
        let _ = write!(
            self.text,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
            c.year, c.month, c.day, c.hour, c.minute, c.second
        );
        jsonw::string(out, &self.text);
        out.push(b',');
        jsonw::key(out, "output_fields");
        out.push(b'{');
        jsonw::key(out, "evt.time");
        jsonw::int(out, ts);
        // Which of the container fields below the template already wrote.
        let mut written = [false; CONTAINER_FIELDS.len()];
        if let Some(t) = &rule.template {
            for (name, v) in t.fields(&ev.rec) {
                if name == "evt.time" {
                    continue;
                }
                if let Some(i) = CONTAINER_FIELDS.iter().position(|(n, _)| *n == name) {
                    written[i] = true;
                }
                out.push(b',');
                jsonw::string(out, name);
                out.push(b':');
                match v {
                    None => out.extend_from_slice(b"null"),
                    Some(v) if v.number && v.text.parse::<i64>().is_ok() => {
                        out.extend_from_slice(v.text.as_bytes())
                    }
                    Some(v) => jsonw::string(out, &v.text),
                }
            }
        }
        self.container_fields(ev, &written, out);
        out.extend_from_slice(b"}}");
    }

    /// The container (and pod) of a process in one, whatever the rule's output names: what
    /// Falco's `append_output` `extra_fields` adds, so every alert says which container.
    fn container_fields(&self, ev: &Event, written: &[bool], out: &mut Vec<u8>) {
        let field = |attr| Field {
            attr,
            index: None,
            json_path: None,
            name: "",
        };
        match ev.rec.get(&field(Attr::ContainerId)) {
            Value::Str(id) if !id.is_empty() => {}
            _ => return,
        }
        let has_pod = matches!(ev.rec.get(&field(Attr::PodId)), Value::Str(p) if !p.is_empty());
        for (i, (name, attr)) in CONTAINER_FIELDS.iter().enumerate() {
            if written[i] || (name.starts_with("k8s.") && !has_pod) {
                continue;
            }
            out.push(b',');
            jsonw::string(out, name);
            out.push(b':');
            match ev.rec.get(&field(*attr)) {
                Value::Str(v) => jsonw::string(out, v),
                _ => out.extend_from_slice(b"null"),
            }
        }
    }
}

/// Falco's names of the container and pod fields every alert of a containerised process
/// carries, and the attributes they read.
const CONTAINER_FIELDS: [(&str, Attr); 6] = [
    ("container.id", Attr::ContainerIdOrHost),
    ("container.name", Attr::ContainerNameOrHost),
    ("container.image.repository", Attr::ContainerImageRepo),
    ("container.image.tag", Attr::ContainerImageTag),
    ("k8s.ns.name", Attr::PodNamespace),
    ("k8s.pod.name", Attr::PodName),
];

impl Encoder for FalcoEncoder {
    /// The first matched rule's alert (see [`Encoder::encode_each`] for all of them).
    fn encode(&mut self, ev: &Event, out: &mut Vec<u8>) {
        if let Some(r) = ev.rules.first() {
            self.alert(ev, r, out);
        }
    }

    fn encode_each(&mut self, ev: &Event, out: &mut Vec<u8>, send: &mut dyn FnMut(&[u8])) {
        for r in &ev.rules {
            out.clear();
            self.alert(ev, r, out);
            send(out);
        }
    }

    /// One alert per matched rule, each written in place.
    fn encode_batch(&mut self, ev: &Event, out: &mut Vec<u8>, ends: &mut Vec<usize>) {
        for r in &ev.rules {
            self.alert(ev, r, out);
            ends.push(out.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sysflow_model::tables::{Flattener, TableConfig};
    use sysflow_model::*;
    use sysflow_policy::falco::output::Template;

    use super::*;

    fn rule(name: &str, output: &str) -> Arc<RuleInfo> {
        Arc::new(RuleInfo {
            name: name.into(),
            desc: "d".into(),
            priority: 3,
            tags: vec!["T1".into()],
            falco_priority: "Warning",
            template: Some(Arc::new(Template::compile(output, true))),
        })
    }

    #[test]
    fn one_falco_alert_per_matched_rule() {
        let mut fl = Flattener::new(TableConfig::default());
        let oid = Oid {
            create_ts: 1,
            hpid: 42,
        };
        let p = Process {
            oid,
            exe: "/usr/bin/nc".into(),
            exe_args: "-l 4444".into(),
            uid: 1000,
            ..Process::default()
        };
        assert!(fl.push(SysFlow::Process(p)).is_none());
        let pe = ProcessEvent {
            proc_oid: oid,
            // 2019-03-25T19:48:02.832225890Z
            ts: 1_553_543_282_832_225_890,
            op_flags: OpFlags(OpFlags::EXEC),
            ..ProcessEvent::default()
        };
        let rec = fl.push(SysFlow::ProcessEvent(pe)).expect("flat");
        let mut ev = Event::new(rec);
        ev.rules.push(rule(
            "Netcat",
            "nc run (cmd=%proc.cmdline uid=%user.uid login=%user.loginuid)",
        ));
        ev.rules.push(rule("Second", "plain"));
        let mut enc = FalcoEncoder::new();
        let mut docs = Vec::new();
        enc.encode_each(&ev, &mut Vec::new(), &mut |d| docs.push(d.to_vec()));
        assert_eq!(docs.len(), 2);
        let a: serde_json::Value = serde_json::from_slice(&docs[0]).expect("json");
        assert_eq!(a["rule"], "Netcat");
        assert_eq!(a["priority"], "Warning");
        assert_eq!(a["source"], "syscall");
        assert_eq!(a["time"], "2019-03-25T19:48:02.832225890Z");
        assert_eq!(a["tags"], serde_json::json!(["T1"]));
        assert_eq!(
            a["output"],
            "19:48:02.832225890: Warning nc run (cmd=/usr/bin/nc -l 4444 uid=1000 login=<NA>)"
        );
        assert_eq!(a["output_fields"]["proc.cmdline"], "/usr/bin/nc -l 4444");
        assert_eq!(a["output_fields"]["user.uid"], 1000);
        assert!(a["output_fields"]["user.loginuid"].is_null());
        assert_eq!(a["output_fields"]["evt.time"], 1_553_543_282_832_225_890i64);
        assert!(a["hostname"].is_string());
        // A host process: no container fields.
        assert!(a["output_fields"].get("container.id").is_none(), "{a}");
        let b: serde_json::Value = serde_json::from_slice(&docs[1]).expect("json");
        assert_eq!(b["rule"], "Second");
        // Records without matches have no Falco form.
        let mut none = Event::new(ev.rec.clone());
        none.rules.clear();
        let mut n = 0;
        enc.encode_each(&none, &mut Vec::new(), &mut |_| n += 1);
        assert_eq!(n, 0);
    }

    /// A process in a container of a pod: its alerts carry the container and the pod,
    /// whatever the rule's output names, each field once.
    #[test]
    fn alerts_of_a_container_name_it_and_its_pod() {
        let mut fl = Flattener::new(TableConfig::default());
        fl.push(SysFlow::Pod(Pod {
            id: "uid-1".into(),
            name: "web-0".into(),
            namespace: "shop".into(),
            ..Pod::default()
        }));
        fl.push(SysFlow::Container(Container {
            id: "d2fcbe7e204a".into(),
            name: "shady".into(),
            image: "local/busybox:1".into(),
            imageid: "fda0".into(),
            pod_id: Some("uid-1".into()),
            ..Container::default()
        }));
        let oid = Oid {
            create_ts: 1,
            hpid: 7,
        };
        fl.push(SysFlow::Process(Process {
            oid,
            exe: "/bin/sh".into(),
            container_id: Some("d2fcbe7e204a".into()),
            ..Process::default()
        }));
        let rec = fl
            .push(SysFlow::ProcessEvent(ProcessEvent {
                proc_oid: oid,
                op_flags: OpFlags(OpFlags::EXEC),
                ..ProcessEvent::default()
            }))
            .expect("flat");
        let mut ev = Event::new(rec);
        ev.rules.push(rule("Shell", "shell in %container.name"));
        let mut out = Vec::new();
        FalcoEncoder::new().encode(&ev, &mut out);
        let text = String::from_utf8(out).expect("utf8");
        assert_eq!(text.matches("\"container.name\"").count(), 1, "{text}");
        let a: serde_json::Value = serde_json::from_str(&text).expect("json");
        let f = &a["output_fields"];
        assert_eq!(f["container.id"], "d2fcbe7e204a", "{a}");
        assert_eq!(f["container.name"], "shady", "{a}");
        assert_eq!(f["container.image.repository"], "local/busybox", "{a}");
        assert_eq!(f["container.image.tag"], "1", "{a}");
        assert_eq!(f["k8s.pod.name"], "web-0", "{a}");
        assert_eq!(f["k8s.ns.name"], "shop", "{a}");
    }
}
