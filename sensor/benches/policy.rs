//! Records/s through the policy engine with the whole runtimeintegrity set loaded, on one
//! core and on all cores. Records: until the Avro reader is on main, a synthetic mix of
//! process events, file flows and network flows made by the real flattener (varied
//! executables, paths and ancestries), replicated to 1 M records.
//! Run: `cargo bench -p sensor --bench policy`.

use std::path::Path;
use std::time::Instant;

use sensor::policy::{Matches, Mode, PolicyEngine, Verdict};
use sysflow_model::flat::FlatRecord;
use sysflow_model::tables::{Flattener, TableConfig};
use sysflow_model::*;

const EXES: &[&str] = &[
    "/bin/bash",
    "/usr/bin/python3",
    "/usr/sbin/nginx",
    "/usr/bin/curl",
    "/bin/cat",
    "/usr/bin/apt-get",
    "/usr/bin/ssh",
    "/bin/sh",
    "/usr/bin/node",
    "/usr/bin/grep",
    "/usr/sbin/sshd",
    "/usr/bin/passwd",
];
const PATHS: &[&str] = &[
    "/etc/passwd",
    "/etc/shadow",
    "/var/log/syslog",
    "/tmp/x",
    "/root/.bash_history",
    "/usr/lib/libc.so",
    "/etc/ld.so.preload",
    "/home/u/.profile",
    "/proc/self/status",
    "/etc/hosts",
];

fn synthetic() -> Vec<FlatRecord> {
    let mut f = Flattener::new(TableConfig::default());
    let mut out = Vec::new();
    let mut push = |r: SysFlow, out: &mut Vec<FlatRecord>| {
        if let Some(x) = f.push(r) {
            out.push(x)
        }
    };
    push(
        SysFlow::Header(SfHeader {
            version: 5,
            exporter: "bench".into(),
            ip: "10.0.0.1".into(),
            filename: "b.sf".into(),
        }),
        &mut out,
    );
    push(
        SysFlow::Container(Container {
            id: "c1".into(),
            name: "web".into(),
            image: "nginx:1".into(),
            ..Container::default()
        }),
        &mut out,
    );
    for p in 1..=200i64 {
        let exe = EXES[p as usize % EXES.len()];
        let poid = if p > 1 {
            Some(Oid {
                create_ts: (p / 2) * 10,
                hpid: p / 2,
            })
        } else {
            None
        };
        push(
            SysFlow::Process(Process {
                oid: Oid {
                    create_ts: p * 10,
                    hpid: p,
                },
                poid,
                exe: exe.into(),
                exe_args: format!("-c arg{p}"),
                container_id: Some("c1".into()),
                ..Process::default()
            }),
            &mut out,
        );
    }
    for (i, path) in PATHS.iter().enumerate() {
        let _ = i;
        push(
            SysFlow::File(File {
                oid: Foid::of("c1", path),
                restype: 'f' as i32,
                path: (*path).into(),
                container_id: Some("c1".into()),
                ..File::default()
            }),
            &mut out,
        );
    }
    for i in 0..5000i64 {
        let p = 1 + i % 200;
        let proc_oid = Oid {
            create_ts: p * 10,
            hpid: p,
        };
        let r = match i % 4 {
            0 => SysFlow::ProcessEvent(ProcessEvent {
                proc_oid,
                ts: i,
                op_flags: OpFlags(if i % 8 == 0 {
                    OpFlags::EXEC
                } else {
                    OpFlags::CLONE
                }),
                ..ProcessEvent::default()
            }),
            1 | 2 => {
                let path = PATHS[i as usize % PATHS.len()];
                let w = i % 3 == 0;
                SysFlow::FileFlow(FileFlow {
                    proc_oid,
                    ts: i,
                    op_flags: OpFlags(
                        OpFlags::OPEN
                            | OpFlags::CLOSE
                            | if w { OpFlags::WRITE } else { OpFlags::READ },
                    ),
                    open_flags: OpenFlags(if w {
                        OpenFlags::WRONLY
                    } else {
                        OpenFlags::RDONLY
                    }),
                    file_oid: Foid::of("c1", path),
                    fd: 3,
                    ..FileFlow::default()
                })
            }
            _ => SysFlow::NetworkFlow(NetworkFlow {
                proc_oid,
                ts: i,
                op_flags: OpFlags(OpFlags::CONNECT | OpFlags::WRITE),
                sip: 0x0100007f,
                dip: 0x0200000a,
                sport: 40000,
                dport: [80, 443, 22, 4444][i as usize % 4],
                proto: 6,
                ..NetworkFlow::default()
            }),
        };
        push(r, &mut out);
    }
    out
}

fn main() {
    let shared = std::env::var_os("SYSFLOW_SHARED")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared")).to_path_buf()
        });
    let dir = &shared.join("policies/runtimeintegrity");
    if !dir.is_dir() {
        println!("SKIPPED: ../shared not found");
        return;
    }
    let (engine, _) = match PolicyEngine::load(dir, Mode::Alert) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let base = synthetic();
    let recs: Vec<FlatRecord> = base.iter().cycle().take(1_000_000).cloned().collect();
    println!(
        "policy bench: {} rules, {} records ({} distinct)",
        engine.rules().len(),
        recs.len(),
        base.len()
    );

    let mut m = Matches::new();
    let t = Instant::now();
    let mut alerts = 0usize;
    for r in &recs {
        if engine.process(r, &mut m) == Verdict::Alert {
            alerts += 1;
        }
    }
    let dt = t.elapsed().as_secs_f64();
    println!(
        "1 core:  {:.2} M records/s ({} alerts, {:.3} s)",
        recs.len() as f64 / dt / 1e6,
        alerts,
        dt
    );

    let n = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let t = Instant::now();
    let res = engine.process_batch(&recs, n);
    let dt = t.elapsed().as_secs_f64();
    let alerts_n = res
        .verdicts
        .iter()
        .filter(|v| **v == Verdict::Alert)
        .count();
    assert_eq!(alerts, alerts_n);
    println!(
        "{n} cores: {:.2} M records/s ({:.3} s)",
        recs.len() as f64 / dt / 1e6,
        dt
    );
}
