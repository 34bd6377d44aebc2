//! Tables and flattener: joins, record index, header reset, eviction, ancestry memo.

use std::sync::Arc;

use super::*;
use crate::flat::{Field, FlatRecord};
use crate::record::{ObjectState, SfHeader};
use crate::testutil::*;

fn get(fr: &FlatRecord, name: &str) -> String {
    let f = Field::resolve(name).unwrap();
    let mut s = String::new();
    fr.get_into(&f, &mut s).to_string()
}

fn loaded() -> Flattener {
    let mut fl = Flattener::default();
    for e in entities() {
        assert!(fl.push(e).is_none(), "entities yield no flat record");
    }
    fl
}

#[test]
fn joins_every_entity_and_numbers_records_among_all_pushed() {
    let mut fl = loaded();
    let n = entities().len() as u64;
    let fr = fl.push(ff(passwd().oid)).unwrap();
    assert_eq!(fr.index, n);
    assert_eq!(fr.header.as_ref().unwrap().exporter, "node1");
    assert_eq!(fr.proc.as_ref().unwrap().oid, CLIENT);
    assert_eq!(fr.pproc.as_ref().unwrap().oid, BASH);
    let chain: Vec<_> = fr.ancestry.iter().map(|p| p.oid).collect();
    assert_eq!(chain, [CLIENT, BASH, INIT]);
    assert_eq!(
        fr.file.as_ref().unwrap().path,
        " /etc/passwd ",
        "tables keep raw values"
    );
    assert!(fr.newfile.is_none());
    assert_eq!(fr.container.as_ref().unwrap().id, "c1");
    assert_eq!(fr.pod.as_ref().unwrap().id, "pod-1");
    // Entities are shared with the tables, not copied.
    assert!(Arc::ptr_eq(
        fr.proc.as_ref().unwrap(),
        fl.process(&CLIENT).unwrap()
    ));

    let fe = fl.push(fe()).unwrap();
    assert_eq!(fe.index, n + 1);
    assert_eq!(fe.newfile.as_ref().unwrap().path, "/tmp/new");
    assert!(fl.push(SysFlow::File(sock())).is_none());
    for (i, r) in [pe(), nf(), ne(), pf(), ke()].into_iter().enumerate() {
        let fr = fl.push(r).unwrap();
        assert_eq!(fr.index, n + 3 + i as u64);
    }
    let s = fl.stats();
    assert_eq!(s.records, n + 8);
    assert_eq!(s.flattened, 7);
    assert_eq!(s.headers, 1);
    assert_eq!(
        (s.missing_processes, s.missing_files, s.missing_containers),
        (0, 0, 0)
    );
}

#[test]
fn k8s_event_carries_only_the_header() {
    let mut fl = loaded();
    let fr = fl.push(ke()).unwrap();
    assert!(fr.header.is_some());
    assert!(fr.proc.is_none() && fr.container.is_none() && fr.pod.is_none());
    assert!(fr.ancestry.is_empty());
    assert_eq!(fl.stats().missing_processes, 0, "KE has no process to miss");
}

#[test]
fn new_header_resets_all_tables() {
    let mut fl = loaded();
    assert_eq!(fl.table_sizes(), (3, 3, 1, 1));
    assert!(fl.push(pe()).unwrap().proc.is_some());
    let h2 = SysFlow::Header(SfHeader {
        version: 5,
        exporter: "node2".into(),
        ip: String::new(),
        filename: String::new(),
    });
    assert!(fl.push(h2).is_none());
    assert_eq!(fl.table_sizes(), (0, 0, 0, 0));
    let fr = fl.push(ff(passwd().oid)).unwrap();
    assert!(fr.proc.is_none() && fr.file.is_none() && fr.container.is_none());
    assert_eq!(fr.header.as_ref().unwrap().exporter, "node2");
    assert_eq!(get(&fr, "sf.node.id"), "node2");
    let s = fl.stats();
    assert_eq!((s.headers, s.missing_processes, s.missing_files), (2, 1, 1));
}

#[test]
fn full_tables_evict_the_oldest_entry_and_count_it() {
    let cfg = TableConfig {
        max_processes: 2,
        max_files: 2,
        max_containers: 1,
        max_pods: 1,
        ..TableConfig::default()
    };
    let mut fl = Flattener::new(cfg);
    fl.push(header());
    for pid in 1..=5 {
        let oid = Oid {
            create_ts: 0,
            hpid: pid,
        };
        fl.push(SysFlow::Process(process(oid, None, "/bin/x", "")));
    }
    // Re-emitting a present key replaces it without eviction.
    let five = Oid {
        create_ts: 0,
        hpid: 5,
    };
    fl.push(SysFlow::Process(process(five, None, "/bin/y", "")));
    for p in ["/a", "/b", "/c"] {
        fl.push(SysFlow::File(file(p, 'f')));
    }
    fl.push(container());
    let mut c2 = match container() {
        SysFlow::Container(c) => c,
        _ => unreachable!(),
    };
    c2.id = "c2".into();
    fl.push(SysFlow::Container(c2));
    fl.push(pod());
    let mut p2 = match pod() {
        SysFlow::Pod(p) => p,
        _ => unreachable!(),
    };
    p2.id = "pod-2".into();
    fl.push(SysFlow::Pod(p2));

    let e = fl.stats().evictions;
    assert_eq!((e.processes, e.files, e.containers, e.pods), (3, 1, 1, 1));
    assert_eq!(fl.table_sizes(), (2, 2, 1, 1));
    let four = Oid {
        create_ts: 0,
        hpid: 4,
    };
    assert!(fl
        .process(&Oid {
            create_ts: 0,
            hpid: 3
        })
        .is_none());
    assert!(fl.process(&four).is_some());
    assert_eq!(fl.process(&five).unwrap().exe, "/bin/y");
    assert!(fl.file(&Foid::of("c1", "/a")).is_none());
    assert!(fl.file(&Foid::of("c1", "/c")).is_some());
    assert!(fl.container("c1").is_none() && fl.container("c2").is_some());
    assert!(fl.pod("pod-1").is_none() && fl.pod("pod-2").is_some());
}

#[test]
fn bounded_map_keeps_queue_and_map_in_step() {
    let mut m: BoundedMap<u32, u32> = BoundedMap::new(3);
    let mut evicted = 0;
    for i in 0..1000 {
        if m.insert(i % 7, i) {
            evicted += 1;
        }
        assert!(m.len() <= 3);
        assert_eq!(m.order.len(), m.map.len());
    }
    assert!(evicted > 0);
}

#[test]
fn latest_process_record_wins() {
    let mut fl = loaded();
    let mut p = client();
    p.state = ObjectState::Modified;
    p.exe = "/usr/bin/ls".into();
    fl.push(SysFlow::Process(p));
    let fr = fl.push(pe()).unwrap();
    assert_eq!(get(&fr, "sf.proc.exe"), "/usr/bin/ls");
    assert_eq!(get(&fr, "sf.proc.aname"), "ls,bash,init");
}

#[test]
fn ancestry_is_refreshed_after_a_modified_parent() {
    let mut fl = loaded();
    let fr = fl.push(pe()).unwrap();
    assert_eq!(get(&fr, "sf.proc.aname"), "client,bash,init");
    assert_eq!(get(&fr, "sf.pproc.exe"), "/usr/bin/bash");
    // bash EXECs python: the original kept "bash" in the memoized ancestry (stale QUIRK).
    let mut p = process(BASH, Some(INIT), "/usr/bin/python3", "app.py");
    p.state = ObjectState::Modified;
    fl.push(SysFlow::Process(p));
    let fr = fl.push(pe()).unwrap();
    assert_eq!(get(&fr, "sf.proc.aname"), "client,python3,init");
    assert_eq!(get(&fr, "sf.pproc.exe"), "/usr/bin/python3");
    assert_eq!(get(&fr, "sf.pproc.cmdline"), "/usr/bin/python3 app.py");
    assert_eq!(get(&fr, "proc.aname[1]"), "python3");
}

#[test]
fn ancestry_picks_up_a_parent_emitted_after_the_first_lookup() {
    let mut fl = Flattener::default();
    fl.push(header());
    fl.push(SysFlow::Process(client()));
    let fr = fl.push(pe()).unwrap();
    assert_eq!(fr.ancestry.len(), 1);
    assert!(fr.pproc.is_none());
    assert_eq!(fl.stats().missing_parents, 1);
    fl.push(bash());
    let fr = fl.push(pe()).unwrap();
    assert_eq!(get(&fr, "sf.proc.aname"), "client,bash");
    assert_eq!(fr.pproc.as_ref().unwrap().oid, BASH);
}

#[test]
fn ancestry_memo_is_reused_while_the_chain_is_unchanged() {
    let mut fl = loaded();
    let a = fl.push(pe()).unwrap().ancestry;
    let b = fl.push(nf()).unwrap().ancestry;
    assert!(Arc::ptr_eq(&a, &b), "memo hit");
    // An unrelated process record does not force a rebuild.
    let other = Oid {
        create_ts: 9,
        hpid: 999,
    };
    fl.push(SysFlow::Process(process(
        other,
        Some(INIT),
        "/bin/other",
        "",
    )));
    let c = fl.push(pe()).unwrap().ancestry;
    assert!(Arc::ptr_eq(&a, &c), "validated memo reused");
    // A re-emitted ancestor does.
    fl.push(init());
    let d = fl.push(pe()).unwrap().ancestry;
    assert!(!Arc::ptr_eq(&a, &d));
    assert_eq!(d.len(), 3);
}

#[test]
fn poid_cycles_and_deep_chains_are_cut() {
    let cfg = TableConfig {
        max_ancestry_depth: 4,
        ..TableConfig::default()
    };
    let mut fl = Flattener::new(cfg);
    fl.push(header());
    let a = Oid {
        create_ts: 1,
        hpid: 10,
    };
    let b = Oid {
        create_ts: 1,
        hpid: 11,
    };
    fl.push(SysFlow::Process(process(a, Some(b), "/bin/a", "")));
    fl.push(SysFlow::Process(process(b, Some(a), "/bin/b", "")));
    let mut ev = match pe() {
        SysFlow::ProcessEvent(e) => e,
        _ => unreachable!(),
    };
    ev.proc_oid = a;
    let fr = fl.push(SysFlow::ProcessEvent(ev.clone())).unwrap();
    assert_eq!(get(&fr, "sf.proc.aname"), "a,b");
    assert_eq!(fl.stats().ancestry_cycles, 1);
    // A process that is its own parent.
    let s = Oid {
        create_ts: 1,
        hpid: 12,
    };
    fl.push(SysFlow::Process(process(s, Some(s), "/bin/s", "")));
    ev.proc_oid = s;
    let fr = fl.push(SysFlow::ProcessEvent(ev.clone())).unwrap();
    assert_eq!(get(&fr, "sf.proc.aname"), "s");
    assert!(fr.pproc.is_none());
    assert_eq!(fl.stats().ancestry_cycles, 2);

    // A chain of 10 is cut at 4.
    for i in 0..10 {
        let oid = Oid {
            create_ts: 2,
            hpid: 100 + i,
        };
        let parent = (i > 0).then_some(Oid {
            create_ts: 2,
            hpid: 99 + i,
        });
        fl.push(SysFlow::Process(process(
            oid,
            parent,
            &format!("/p{i}"),
            "",
        )));
    }
    ev.proc_oid = Oid {
        create_ts: 2,
        hpid: 109,
    };
    let fr = fl.push(SysFlow::ProcessEvent(ev)).unwrap();
    assert_eq!(get(&fr, "sf.proc.aname"), "p9,p8,p7,p6");
    assert_eq!(fl.stats().ancestry_truncated, 1);
}

#[test]
fn events_with_a_memoized_ancestry_and_attribute_reads_allocate_nothing() {
    use crate::testutil::alloc_count::count;
    let mut fl = loaded();
    fl.push(pe()); // first event of the process builds the memo
    let names: Vec<Field> = crate::flat::Field::all_names()
        .iter()
        .filter_map(|n| Field::resolve(n))
        .filter(|f| !f.needs_scratch())
        .collect();
    for r in [pe(), ff(passwd().oid), fe(), nf(), ne(), pf(), ke()] {
        let (fr, n) = count(|| fl.push(r));
        let fr = fr.unwrap();
        assert_eq!(n, 0, "push of {} allocated", fr.rec.record_type().code());
        let (_, n) = count(|| {
            let mut hits = 0;
            for f in &names {
                let v = fr.get(f);
                if v.any_part(|p| p == "bash") {
                    hits += 1;
                }
            }
            hits
        });
        assert_eq!(
            n,
            0,
            "attribute reads on {} allocated",
            fr.rec.record_type().code()
        );
    }
    // The counter does count.
    assert!(count(|| vec![1u8]).1 >= 1);
}
