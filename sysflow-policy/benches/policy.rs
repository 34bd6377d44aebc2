//! Records/s through the policy engine with the whole runtimeintegrity set loaded, and with
//! Falco's three rule files (`rulesets/falco`, unchanged), on one core and on all cores. Records: every event and flow of the real traces in
//! `../shared/traces` (or `$SYSFLOW_SHARED/traces`), flattened once, then replicated (clones
//! share the entities) to 1 M records.
//! Run: `cargo bench -p sysflow-policy --bench policy`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use sysflow_model::avro::Reader;
use sysflow_model::flat::FlatRecord;
use sysflow_model::tables::{Flattener, TableConfig};
use sysflow_policy::{Matches, Mode, PolicyEngine, Verdict};

/// Every trace of `shared/traces`, flattened once, in file order.
fn real_traces(shared: &Path) -> Vec<FlatRecord> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(shared.join("traces")) {
        Ok(d) => d.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => return Vec::new(),
    };
    files.retain(|p| p.extension().is_some_and(|x| x == "sf"));
    files.sort();
    let mut out = Vec::new();
    for p in files {
        let Ok(f) = std::fs::File::open(&p) else {
            continue;
        };
        let Ok(rd) = Reader::new(std::io::BufReader::new(f)) else {
            continue;
        };
        let mut fl = Flattener::new(TableConfig::default());
        out.extend(rd.map_while(Result::ok).filter_map(|r| fl.push(r)));
    }
    out
}

fn main() {
    let Some(shared) = testkit::shared_dir() else {
        return;
    };
    let base = real_traces(&shared);
    if base.is_empty() {
        println!("SKIPPED: no traces in {}", shared.display());
        return;
    }
    let recs: Vec<FlatRecord> = base.iter().cycle().take(1_000_000).cloned().collect();
    for set in ["policies/runtimeintegrity", "rulesets/falco"] {
        let (engine, _) = match PolicyEngine::load(&shared.join(set), Mode::Alert) {
            Ok(x) => x,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        };
        println!(
            "policy bench ({set}): {} rules, {} records ({} distinct)",
            engine.rules().len(),
            recs.len(),
            base.len()
        );
        bench(&engine, &recs);
    }
}

/// One core, then every core: best of three, wall and CPU time.
fn bench(engine: &PolicyEngine, recs: &[FlatRecord]) {
    // The machine may be shared: besides wall time, report CPU time (records per CPU
    // second), which other processes do not inflate. Best of three runs.
    let mut m = Matches::new();
    let mut alerts = 0usize;
    let (mut wall, mut cpu) = (f64::MAX, f64::MAX);
    for _ in 0..3 {
        let (t, c) = (Instant::now(), cpu_time(libc::CLOCK_THREAD_CPUTIME_ID));
        alerts = 0;
        for r in recs {
            if engine.process(r, &mut m) == Verdict::Alert {
                alerts += 1;
            }
        }
        cpu = cpu.min(cpu_time(libc::CLOCK_THREAD_CPUTIME_ID) - c);
        wall = wall.min(t.elapsed().as_secs_f64());
    }
    let mrps = |secs: f64| recs.len() as f64 / secs / 1e6;
    println!(
        "1 core:  {:.2} M records/s wall, {:.2} M records/s per CPU second ({} alerts)",
        mrps(wall),
        mrps(cpu),
        alerts
    );

    let n = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let (mut wall, mut cpu) = (f64::MAX, f64::MAX);
    for _ in 0..3 {
        let (t, c) = (Instant::now(), cpu_time(libc::CLOCK_PROCESS_CPUTIME_ID));
        let res = engine.process_batch(recs, n);
        cpu = cpu.min(cpu_time(libc::CLOCK_PROCESS_CPUTIME_ID) - c);
        wall = wall.min(t.elapsed().as_secs_f64());
        let alerts_n = res
            .verdicts
            .iter()
            .filter(|v| **v == Verdict::Alert)
            .count();
        assert_eq!(alerts, alerts_n);
    }
    println!(
        "{n} cores: {:.2} M records/s wall, {:.2} M records/s per CPU second",
        mrps(wall),
        mrps(cpu)
    );
}

/// CPU time of a clock (`CLOCK_THREAD_CPUTIME_ID`, `CLOCK_PROCESS_CPUTIME_ID`) in seconds.
fn cpu_time(clock: libc::clockid_t) -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}
