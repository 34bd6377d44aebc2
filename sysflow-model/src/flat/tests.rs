//! Every attribute and alias of the catalogue, read from hand-made records of every type.

use std::collections::HashSet;

use super::*;
use crate::record::{Foid, Oid, Process, SysFlow};
use crate::tables::Flattener;
use crate::testutil::*;

/// Asserts attribute values and remembers which names were exercised, so that the final test
/// can check that every accepted name has been.
#[derive(Default)]
struct Check {
    seen: HashSet<String>,
}

impl Check {
    fn read(&mut self, fr: &FlatRecord, name: &str) -> Option<String> {
        let f = Field::resolve(name).unwrap_or_else(|| panic!("{name} does not resolve"));
        self.seen
            .insert(name.split('[').next().unwrap_or(name).to_string());
        let mut scratch = String::new();
        let v = fr.get_into(&f, &mut scratch);
        if !f.needs_scratch() {
            // get and get_into agree on fields that need no rendering.
            assert_eq!(fr.get(&f).to_string(), v.to_string(), "{name}");
        } else {
            assert!(matches!(fr.get(&f), Value::Missing), "{name}: get renders");
        }
        match v {
            Value::Missing => None,
            v => Some(v.to_string()),
        }
    }

    fn eq(&mut self, fr: &FlatRecord, name: &str, want: &str) {
        let t = fr.rec.record_type().code();
        match self.read(fr, name) {
            Some(got) => assert_eq!(got, want, "{name} on {t}"),
            None => panic!("{name} is Missing on {t}, want {want:?}"),
        }
    }

    /// Several names, same value.
    fn all(&mut self, fr: &FlatRecord, names: &[&str], want: &str) {
        for n in names {
            self.eq(fr, n, want);
        }
    }

    fn missing(&mut self, fr: &FlatRecord, names: &[&str]) {
        let t = fr.rec.record_type().code();
        for n in names {
            if let Some(got) = self.read(fr, n) {
                panic!("{n} on {t} = {got:?}, want Missing");
            }
        }
    }
}

fn flattener() -> Flattener {
    let mut fl = Flattener::default();
    for e in entities() {
        assert!(fl.push(e).is_none());
    }
    fl
}

fn hex(f: &Foid) -> String {
    String::from_utf8(f.hex().to_vec()).unwrap()
}

const FILE_NAMES: &[&str] = &[
    "sf.file.path",
    "sf.file.symlink",
    "sf.file.name",
    "sf.file.directory",
    "sf.file.oid",
    "sf.file.type",
    "fd.name",
    "fd.filename",
    "fd.directory",
    "fd.typechar",
];
const NEWFILE_NAMES: &[&str] = &[
    "sf.file.newpath",
    "sf.file.newname",
    "sf.file.newdirectory",
    "sf.file.newsymlink",
    "sf.file.newoid",
];
const OPEN_NAMES: &[&str] = &[
    "sf.file.openflags",
    "sf.file.is_open_read",
    "sf.file.is_open_write",
    "evt.is_open_read",
    "evt.is_open_write",
];
const NET_NAMES: &[&str] = &[
    "sf.net.sip",
    "sf.net.dip",
    "sf.net.sport",
    "sf.net.dport",
    "sf.net.proto",
    "sf.net.ip",
    "sf.net.port",
    "fd.sip",
    "fd.dip",
    "fd.sport",
    "fd.dport",
    "fd.ip",
    "fd.net",
    "fd.cnet",
    "fd.snet",
    "fd.port",
    "fd.proto",
    "fd.l4proto",
];
const FLOW_NAMES: &[&str] = &[
    "sf.flow.rbytes",
    "sf.flow.rops",
    "sf.flow.wbytes",
    "sf.flow.wops",
];
const KE_NAMES: &[&str] = &["sf.ke.kind", "sf.ke.action", "sf.ke.message"];

/// Process, parent, container, pod and header attributes of the fixture's `client` process.
fn check_process_context(c: &mut Check, fr: &FlatRecord) {
    c.eq(fr, "sf.proc.oid", "45a4e44dad6b2511");
    c.all(fr, &["sf.proc.pid", "proc.pid"], "13824");
    c.all(fr, &["sf.proc.createts", "proc.createtime"], "0");
    c.all(fr, &["sf.proc.exe", "proc.exe"], "./client");
    c.all(fr, &["sf.proc.name", "proc.name"], "client");
    c.all(fr, &["sf.proc.args", "proc.args"], "-x 1");
    c.all(fr, &["sf.proc.cmdline", "proc.cmdline"], "./client -x 1");
    c.all(fr, &["sf.proc.uid", "proc.uid", "evt.arg.uid"], "-1");
    c.all(fr, &["sf.proc.gid", "proc.gid"], "-1");
    c.all(fr, &["sf.proc.user", "proc.user", "user.name"], "<NA>");
    c.all(fr, &["sf.proc.group", "proc.group"], "<NA>");
    // proc.tty reads the process itself (the original read the parent).
    c.all(fr, &["sf.proc.tty", "proc.tty"], "true");
    c.eq(fr, "sf.proc.entry", "false");
    c.all(fr, &["sf.proc.aname", "proc.aname"], "client,bash,init");
    c.eq(fr, "sf.proc.aexe", "./client,/usr/bin/bash,/sbin/init");
    c.eq(
        fr,
        "sf.proc.acmdline",
        "./client -x 1,/usr/bin/bash,/sbin/init",
    );
    c.all(fr, &["sf.proc.apid", "proc.apid"], "13824,7130,1");
    c.all(fr, &["sf.proc.cwd", "proc.cwd"], "/home/alice");
    c.all(fr, &["sf.proc.env", "proc.env"], "A=1,LD_PRELOAD=/x.so");
    // Falco ancestor indexing: [0] is the process itself, [1] its parent.
    c.all(fr, &["proc.aname[0]", "sf.proc.aname[0]"], "client");
    c.eq(fr, "proc.aname[1]", "bash");
    c.eq(fr, "proc.aname[2]", "init");
    c.missing(fr, &["proc.aname[3]", "proc.apid[9]"]);
    c.eq(fr, "sf.proc.aexe[1]", "/usr/bin/bash");
    c.eq(fr, "sf.proc.acmdline[0]", "./client -x 1");
    c.eq(fr, "proc.apid[2]", "1");

    c.eq(fr, "sf.pproc.oid", "c1e6d285f1e36acb");
    c.all(fr, &["sf.pproc.pid", "proc.ppid"], "7130");
    c.all(fr, &["sf.pproc.createts", "proc.pcreatetime"], "0");
    c.all(fr, &["sf.pproc.exe", "proc.pexe"], "/usr/bin/bash");
    c.all(fr, &["sf.pproc.name", "proc.pname"], "bash");
    c.all(fr, &["sf.pproc.args", "proc.pargs"], "");
    c.all(fr, &["sf.pproc.cmdline", "proc.pcmdline"], "/usr/bin/bash");
    c.all(fr, &["sf.pproc.uid", "proc.puid"], "1000");
    c.all(fr, &["sf.pproc.gid", "proc.pgid"], "1001");
    c.all(fr, &["sf.pproc.user", "proc.puser"], "alice");
    c.all(fr, &["sf.pproc.group", "proc.pgroup"], "staff");
    c.all(fr, &["sf.pproc.tty", "proc.ptty"], "false");
    c.eq(fr, "sf.pproc.entry", "true");

    c.all(fr, &["sf.container.id", "container.id"], "c1");
    c.all(fr, &["sf.container.name", "container.name"], "cont");
    c.all(fr, &["sf.container.image", "container.image"], "nginx:1");
    c.all(
        fr,
        &["sf.container.imageid", "container.image.id"],
        "sha256:abc",
    );
    c.all(fr, &["sf.container.type", "container.type"], "CRIO");
    c.eq(fr, "sf.container.privileged", "1");
    c.eq(fr, "container.privileged", "true");

    c.eq(fr, "sf.pod.id", "pod-1");
    c.eq(fr, "sf.pod.name", "web");
    c.eq(fr, "sf.pod.nodename", "n1");
    c.eq(fr, "sf.pod.namespace", "ns");
    c.eq(fr, "sf.pod.ts", "5");
    c.eq(fr, "sf.pod.restartcnt", "2");
    c.all(fr, &["sf.pod.hostip", "sf.pod.hostip+"], "[16777343]");
    c.all(fr, &["sf.pod.internalip", "sf.pod.internalip+"], "[1,2]");
    let svc = r#"[{"name":"svc","id":"s1","namespace":"ns","portList":[{"port":80,"targetPort":8080,"nodePort":30080,"proto":"TCP"}],"clusterIP":[167772161]}]"#;
    c.all(fr, &["sf.pod.services", "sf.pod.services+"], svc);
    c.eq(fr, "sf.pod.hostip[0]", "16777343");
    c.eq(fr, "sf.pod.internalip[#]", "2");
    c.eq(fr, "sf.pod.services[0.portList.0.targetPort]", "8080");
    c.eq(fr, "sf.pod.services[0.name]", "svc");

    c.eq(fr, "sf.node.id", "node1");
    c.eq(fr, "sf.node.ip", "10.0.0.1");
    c.eq(fr, "sf.meta.schema", "5");
    c.eq(fr, "sf.meta.tracename", "trace.sf");
    c.eq(fr, "evt.dir", ">,<");
    c.missing(fr, KE_NAMES);
}

#[test]
fn every_attribute_and_alias_on_every_record_type() {
    let mut c = Check::default();
    let mut fl = flattener();

    // ProcessEvent.
    let fr = fl.push(pe()).unwrap();
    check_process_context(&mut c, &fr);
    c.eq(&fr, "sf.type", "PE");
    c.all(&fr, &["sf.opflags", "evt.type"], "EXEC");
    c.all(&fr, &["sf.ret", "evt.rawres"], "-2");
    c.all(&fr, &["sf.ts", "evt.rawtime"], "100");
    c.eq(&fr, "sf.endts", "0");
    c.all(&fr, &["sf.proc.tid", "proc.tid"], "13825");
    c.missing(&fr, FILE_NAMES);
    c.missing(&fr, NEWFILE_NAMES);
    c.missing(&fr, OPEN_NAMES);
    c.missing(&fr, NET_NAMES);
    c.missing(&fr, FLOW_NAMES);
    c.missing(&fr, &["sf.file.fd", "fd.num"]);

    // FileFlow.
    let fr = fl.push(ff(passwd().oid)).unwrap();
    check_process_context(&mut c, &fr);
    c.eq(&fr, "sf.type", "FF");
    c.all(&fr, &["sf.opflags", "evt.type"], "OPEN,CLOSE,READ");
    c.all(&fr, &["sf.ret", "evt.rawres"], "0");
    c.eq(&fr, "sf.ts", "110");
    c.eq(&fr, "sf.endts", "200");
    c.eq(&fr, "sf.proc.tid", "13824");
    // Falco's fd.name is the full path (the original gave the basename).
    c.all(&fr, &["sf.file.path", "fd.name"], "/etc/passwd");
    c.eq(&fr, "sf.file.symlink", "");
    c.all(&fr, &["sf.file.name", "fd.filename"], "passwd");
    c.all(&fr, &["sf.file.directory", "fd.directory"], "/etc");
    c.eq(&fr, "sf.file.oid", &hex(&passwd().oid));
    c.all(&fr, &["sf.file.type", "fd.typechar"], "f");
    c.all(&fr, &["sf.file.fd", "fd.num"], "3");
    c.eq(&fr, "sf.file.openflags", "RDONLY,CLOEXEC");
    c.all(&fr, &["sf.file.is_open_read", "evt.is_open_read"], "true");
    c.all(
        &fr,
        &["sf.file.is_open_write", "evt.is_open_write"],
        "false",
    );
    // Real counters (the original doubled them).
    c.eq(&fr, "sf.flow.rbytes", "80");
    c.eq(&fr, "sf.flow.rops", "2");
    c.eq(&fr, "sf.flow.wbytes", "7");
    c.eq(&fr, "sf.flow.wops", "1");
    c.missing(&fr, NEWFILE_NAMES);
    c.missing(&fr, NET_NAMES);

    // FileFlow on a unix socket with the collector's `aaaa->bbbb /path` form.
    let fr = fl.push(ff(sock().oid)).unwrap();
    c.eq(&fr, "sf.file.path", "/sock/sysflow.sock");
    c.eq(&fr, "sf.file.symlink", "ffff9ce02054c800->ffff9ce02054c000");
    c.eq(&fr, "sf.file.name", "sysflow.sock");
    c.eq(&fr, "sf.file.directory", "/sock");
    c.eq(&fr, "sf.file.type", "u");

    // FileEvent (RENAME /etc/passwd -> /tmp/new).
    let fr = fl.push(fe()).unwrap();
    check_process_context(&mut c, &fr);
    c.eq(&fr, "sf.type", "FE");
    c.eq(&fr, "sf.opflags", "RENAME");
    c.eq(&fr, "sf.ret", "0");
    c.eq(&fr, "sf.endts", "0");
    c.eq(&fr, "sf.file.path", "/etc/passwd");
    c.eq(&fr, "sf.file.newpath", "/tmp/new");
    c.eq(&fr, "sf.file.newname", "new");
    c.eq(&fr, "sf.file.newdirectory", "/tmp");
    c.eq(&fr, "sf.file.newsymlink", "");
    c.eq(&fr, "sf.file.newoid", &hex(&newfile().oid));
    // The original read the new file's state here (flat-slot overlay).
    c.missing(&fr, &["sf.file.fd", "fd.num"]);
    c.missing(&fr, OPEN_NAMES);
    c.missing(&fr, FLOW_NAMES);
    c.missing(&fr, NET_NAMES);

    // NetworkFlow.
    let fr = fl.push(nf()).unwrap();
    check_process_context(&mut c, &fr);
    c.eq(&fr, "sf.type", "NF");
    c.all(&fr, &["sf.opflags", "evt.type"], "CONNECT,SEND,RECV");
    c.eq(&fr, "sf.ret", "0");
    c.eq(&fr, "sf.ts", "130");
    c.eq(&fr, "sf.endts", "230");
    c.all(
        &fr,
        &[
            "sf.net.sip",
            "fd.sip",
            "fd.cnet",
            "sf.net.dip",
            "fd.dip",
            "fd.snet",
        ],
        "127.0.0.1",
    );
    c.eq(&fr, "fd.net", "127.0.0.1,127.0.0.1");
    c.all(&fr, &["sf.net.sport", "fd.sport"], "40556");
    c.all(&fr, &["sf.net.dport", "fd.dport"], "8080");
    c.all(
        &fr,
        &[
            "sf.net.proto",
            "fd.proto",
            "fd.lproto",
            "fd.l4proto",
            "fd.rproto",
            "fd.sproto",
            "fd.cproto",
        ],
        "6",
    );
    c.all(&fr, &["sf.net.ip", "fd.ip"], "127.0.0.1,127.0.0.1");
    c.all(&fr, &["sf.net.port", "fd.port"], "40556,8080");
    c.all(&fr, &["sf.file.fd", "fd.num"], "5");
    c.eq(&fr, "sf.flow.rbytes", "80");
    c.eq(&fr, "sf.flow.rops", "2");
    c.eq(&fr, "sf.flow.wbytes", "90");
    c.eq(&fr, "sf.flow.wops", "3");
    // The original read the source IP's bits as open flags here.
    c.missing(&fr, OPEN_NAMES);
    c.missing(&fr, FILE_NAMES);

    // NetworkEvent (flattened here; the original dropped it).
    let fr = fl.push(ne()).unwrap();
    c.eq(&fr, "sf.type", "NE");
    c.eq(&fr, "sf.ret", "-111");
    c.eq(&fr, "sf.endts", "0");
    c.eq(&fr, "sf.net.dip", "0.0.0.0");
    c.eq(&fr, "sf.net.proto", "17");
    c.missing(&fr, FLOW_NAMES);
    c.missing(&fr, &["sf.file.fd"]);

    // ProcessFlow (flattened here; the original dropped it).
    let fr = fl.push(pf()).unwrap();
    c.eq(&fr, "sf.type", "PF");
    c.eq(&fr, "sf.opflags", "CLONE");
    c.eq(&fr, "sf.ret", "0");
    c.eq(&fr, "sf.endts", "250");
    c.eq(&fr, "sf.proc.pid", "13824");
    c.missing(&fr, &["sf.proc.tid"]);
    c.missing(&fr, NET_NAMES);
    c.missing(&fr, FLOW_NAMES);

    // K8sEvent.
    let fr = fl.push(ke()).unwrap();
    c.eq(&fr, "sf.type", "KE");
    c.eq(&fr, "sf.ts", "300");
    c.eq(&fr, "sf.endts", "300");
    c.eq(&fr, "sf.ret", "0");
    c.eq(&fr, "sf.ke.kind", "K8S_PODS");
    c.eq(&fr, "sf.ke.action", "K8S_COMPONENT_ADDED");
    c.eq(
        &fr,
        "sf.ke.message",
        r#"{"type":"ADDED","items":[{"namespace":"default","name":"web-1"}]}"#,
    );
    c.eq(&fr, "sf.ke.message[items.0.namespace]", "default");
    c.eq(&fr, "sf.ke.message[items.0.name]", "web-1");
    c.eq(&fr, "sf.ke.message[type]", "ADDED");
    c.eq(&fr, "sf.ke.message[items.5.name]", "");
    c.eq(&fr, "sf.node.id", "node1");
    c.missing(
        &fr,
        &[
            "sf.opflags",
            "sf.proc.pid",
            "sf.proc.oid",
            "sf.proc.exe",
            "sf.proc.aname",
            "sf.pproc.pid",
            "sf.container.type",
            "sf.container.id",
            "sf.pod.id",
            "sf.pod.hostip",
            "sf.pod.services[0.name]",
        ],
    );
    c.missing(&fr, FILE_NAMES);
    c.missing(&fr, NET_NAMES);

    for n in Field::all_names() {
        assert!(c.seen.contains(*n), "attribute {n} has no test");
    }
}

#[test]
fn host_process_has_container_type_host_and_no_container_or_pod() {
    let mut c = Check::default();
    let mut fl = flattener();
    let mut p = client();
    p.container_id = None;
    fl.push(SysFlow::Process(p));
    let fr = fl.push(pe()).unwrap();
    c.eq(&fr, "sf.container.type", "host");
    c.eq(&fr, "container.type", "host");
    c.missing(
        &fr,
        &[
            "sf.container.id",
            "sf.container.name",
            "sf.container.privileged",
            "container.privileged",
            "sf.pod.id",
            "sf.pod.name",
            "sf.pod.ts",
        ],
    );
    assert!(fr.container.is_none() && fr.pod.is_none());
}

#[test]
fn missing_entities_give_missing_values_and_are_counted() {
    let mut c = Check::default();
    let mut fl = Flattener::default();
    fl.push(header());
    // Unknown process: the OID from the event is still known.
    let fr = fl.push(pe()).unwrap();
    assert!(fr.proc.is_none() && fr.ancestry.is_empty());
    c.eq(&fr, "sf.proc.pid", "13824");
    c.eq(&fr, "sf.proc.oid", "45a4e44dad6b2511");
    c.eq(&fr, "sf.proc.tid", "13825");
    c.missing(
        &fr,
        &[
            "sf.proc.exe",
            "sf.proc.name",
            "sf.proc.cmdline",
            "sf.proc.uid",
            "sf.proc.tty",
            "sf.proc.aname",
            "proc.aname[0]",
            "sf.pproc.pid",
            "sf.pproc.oid",
            "sf.pproc.name",
            "sf.container.id",
            "sf.container.type",
        ],
    );
    assert_eq!(fl.stats().missing_processes, 1);

    // Known process, unknown parent, container and file.
    fl.push(SysFlow::Process(client()));
    let fr = fl.push(ff(passwd().oid)).unwrap();
    c.eq(&fr, "sf.proc.exe", "./client");
    c.eq(&fr, "sf.pproc.pid", "7130");
    c.missing(&fr, &["sf.pproc.name", "sf.pproc.uid", "proc.aname[1]"]);
    c.eq(&fr, "sf.proc.aname", "client");
    // The container id is known from the process even without its record.
    c.eq(&fr, "sf.container.id", "c1");
    c.missing(&fr, &["sf.container.name", "sf.container.type"]);
    c.missing(&fr, &["sf.file.path", "sf.file.name", "sf.file.type"]);
    c.eq(&fr, "sf.file.oid", &hex(&passwd().oid));
    c.eq(&fr, "sf.file.fd", "3");
    let s = fl.stats();
    assert_eq!(s.missing_parents, 1);
    assert_eq!(s.missing_containers, 1);
    assert_eq!(s.missing_files, 1);

    // Container without its pod.
    fl.push(container());
    let fr = fl.push(pe()).unwrap();
    c.eq(&fr, "sf.container.name", "cont");
    c.missing(&fr, &["sf.pod.id", "sf.pod.hostip"]);
    assert_eq!(fl.stats().missing_pods, 1);

    // FE whose new file is unknown.
    fl.push(SysFlow::File(passwd()));
    let fr = fl.push(fe()).unwrap();
    c.eq(&fr, "sf.file.path", "/etc/passwd");
    c.missing(&fr, &["sf.file.newpath", "sf.file.newname"]);
    c.eq(&fr, "sf.file.newoid", &hex(&newfile().oid));
    assert_eq!(fl.stats().missing_files, 2);
}

#[test]
fn empty_exe_and_paths_give_empty_names_not_dot() {
    let mut c = Check::default();
    let mut fl = Flattener::default();
    fl.push(SysFlow::Header(crate::record::SfHeader::default()));
    let p = Process {
        oid: CLIENT,
        ..Default::default()
    };
    fl.push(SysFlow::Process(p));
    let fr = fl.push(pe()).unwrap();
    c.eq(&fr, "sf.proc.name", "");
    c.eq(&fr, "sf.proc.cmdline", "");
    c.eq(&fr, "sf.meta.tracename", "");
    c.eq(&fr, "sf.node.ip", "");
}

#[test]
fn proc_oid_is_xxhash64_of_decimal_pid_and_createts() {
    let h = |hpid, create_ts| format!("{:016x}", oid_hash(&Oid { create_ts, hpid }));
    assert_eq!(h(7130, 0), "c1e6d285f1e36acb");
    assert_eq!(h(13824, 0), "45a4e44dad6b2511");
    let expected = xxhash_rust::xxh64::xxh64(b"-51234567890123", 0);
    assert_eq!(
        oid_hash(&Oid {
            create_ts: 1234567890123,
            hpid: -5
        }),
        expected
    );
    assert_eq!(
        Value::Hash64(oid_hash(&Oid {
            create_ts: 0,
            hpid: 7130
        }))
        .to_string(),
        "c1e6d285f1e36acb"
    );
}

#[test]
fn resolve_rejects_unknown_names_and_bad_suffixes() {
    for bad in [
        "sf.nope",
        "sf.proc.exe[1]",
        "proc.aname[x]",
        "proc.aname[1",
        "sf.net.ip[0]",
        "sf.ke.message[]",
        "sf.res",
        "sf.container.image.id",
        "container.image.repository",
        "evt.arg.path",
    ] {
        assert!(Field::resolve(bad).is_none(), "{bad} resolved");
    }
    let f = Field::resolve("proc.aname[2]").unwrap();
    assert_eq!(
        (f.attr, f.index, f.name),
        (Attr::ProcAName, Some(2), "sf.proc.aname")
    );
    let f = Field::resolve("sf.ke.message[items.0.namespace]").unwrap();
    assert_eq!(f.json_path.as_deref(), Some("items.0.namespace"));
    assert!(f.needs_scratch());
    assert_eq!(Field::resolve("fd.name").unwrap().name, "sf.file.path");
    assert_eq!(Field::resolve("evt.dir").unwrap().name, "evt.dir");
    assert!(!Field::resolve("sf.proc.exe").unwrap().needs_scratch());
}

#[test]
fn suggestions_for_near_miss_names() {
    assert_eq!(Field::suggest("sf.proc.nmae"), Some("sf.proc.name"));
    assert_eq!(Field::suggest("sf.proc.username"), Some("sf.proc.user"));
    assert_eq!(Field::suggest("sf.file.typechar"), Some("sf.file.type"));
    assert_eq!(Field::suggest("completely.different.thing"), None);
    assert_eq!(Field::suggest("sf.proc.exe"), Some("sf.proc.exe"));
    assert!(Field::all_names().contains(&"sf.proc.exe"));
    assert!(Field::all_names().contains(&"proc.pcmdline"));
}

#[test]
fn exported_attributes_follow_the_processor_json_order() {
    let ex = Attr::exported();
    let key = |n: &str| (n.split('.').count(), n.to_string());
    for w in ex.windows(2) {
        assert!(key(w[0].1) < key(w[1].1), "{} before {}", w[0].1, w[1].1);
    }
    for &(attr, name, section, k) in ex {
        let f = Field::resolve(name).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(f.attr, attr, "{name}");
        let parts: Vec<_> = name.split('.').collect();
        if parts.len() == 2 {
            assert_eq!(section, "");
        } else {
            let sect = match parts[1] {
                "ke" => "k8s",
                s => s,
            };
            assert_eq!(section, sect, "{name}");
        }
        assert_eq!(k, parts.last().unwrap().trim_end_matches('+'), "{name}");
    }
    // Every sf.* attribute of the original is exported, except the json-string pod forms
    // and the new cwd/env.
    let exported: HashSet<_> = ex.iter().map(|e| e.1).collect();
    for n in Field::all_names().iter().filter(|n| n.starts_with("sf.")) {
        let skip = [
            "sf.pod.hostip",
            "sf.pod.internalip",
            "sf.pod.services",
            "sf.proc.cwd",
            "sf.proc.env",
        ];
        assert_eq!(exported.contains(n), !skip.contains(n), "{n}");
    }
    assert_eq!(ex.len(), 84);
    assert_eq!(ex[0].1, "sf.endts");
    assert_eq!(ex.last().unwrap().1, "sf.proc.user");
}

#[test]
fn attribute_kinds() {
    assert_eq!(Attr::Ret.kind(), AttrKind::Int);
    assert_eq!(Attr::ProcTty.kind(), AttrKind::Bool);
    assert_eq!(Attr::ContainerPrivileged.kind(), AttrKind::Int);
    assert_eq!(Attr::ContainerPrivilegedBool.kind(), AttrKind::Bool);
    assert_eq!(Attr::ProcAPid.kind(), AttrKind::List);
    assert_eq!(Attr::PodServices.kind(), AttrKind::Json);
    assert_eq!(Attr::ProcExe.kind(), AttrKind::Str);
}

#[test]
fn falco_syscall_names_map_to_sysflow_operations() {
    assert_eq!(falco_evt_type_ops("openat"), Some(&["OPEN"][..]));
    assert_eq!(falco_evt_type_ops("execve"), Some(&["EXEC"][..]));
    assert_eq!(falco_evt_type_ops("read"), Some(&["READ", "RECV"][..]));
    assert_eq!(falco_evt_type_ops("renameat2"), Some(&["RENAME"][..]));
    assert_eq!(falco_evt_type_ops("OPEN"), None);
    assert_eq!(falco_evt_type_ops("dup"), None);
    // Every mapped operation name is a real SysFlow operation name.
    for n in [
        "open", "connect", "sendto", "unlinkat", "setns", "mmap", "clone",
    ] {
        for op in falco_evt_type_ops(n).unwrap() {
            assert!(crate::flags::OpFlags::bit_of(op).is_some(), "{op}");
        }
    }
}

#[test]
fn path_helpers() {
    use super::read::{dir_of, split_sym_path};
    assert_eq!(dir_of("/etc/passwd"), "/etc");
    assert_eq!(dir_of("/x"), "/");
    assert_eq!(dir_of("x"), ".");
    assert_eq!(dir_of(""), "");
    assert_eq!(dir_of("/a/b/"), "/a/b");
    assert_eq!(split_sym_path("ab->cd /p q"), ("/p q", "ab->cd"));
    assert_eq!(split_sym_path("ab-\\u003ecd /p"), ("/p", "ab-\\u003ecd"));
    assert_eq!(split_sym_path("ab->cd"), ("ab->cd", ""));
    assert_eq!(split_sym_path("ab->cd "), ("ab->cd", ""));
    assert_eq!(split_sym_path("xyz->cd /p"), ("xyz->cd /p", ""));
    assert_eq!(split_sym_path(" /etc/passwd "), ("/etc/passwd", ""));
}
