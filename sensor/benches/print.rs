//! Print benchmark, on a trace of 1 M records built with our writer from the real traces:
//!
//! 1. in process, on one core: records/s of decode, decode+flatten and
//!    decode+flatten+sysprint JSON (into a counting sink);
//! 2. the real binaries side by side in one run: `sensor print -o json TRACE` into a pipe read
//!    by `wc -l` and into a file (stdout redirected), with the default encoding threads and
//!    with `--threads 1`, alternating round by round with `BENCH_BASELINE` (another `sensor`
//!    build, e.g. main before a change) when it is set, and the real `sysprint -o json` (when
//!    `SYSPRINT` is set) into the same pipe and file on a cut of the same trace (50 k records,
//!    `SYSPRINT_RECORDS` to change). Best of three rounds; the CPU time of the printer and of
//!    `wc` (user + system) is shown beside the wall time, and the load average before and
//!    after, since the machine may be shared.
//!
//! Run: `SYSPRINT=/path/to/sysprint [BENCH_BASELINE=/path/to/sensor] cargo bench -p sensor
//! --bench print`. The output file goes to the temporary directory (`TMPDIR`; about 1.3 GB).
//! The traces are read from `../shared/traces` beside the repository (`SYSFLOW_SHARED` overrides).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use sensor::print::render::Rec;
use sensor::print::schema::SchemaTraits;
use sensor::print::{PrintArgs, Printer};
use sysflow_model::avro::{Codec, Reader, Writer};
use sysflow_model::{Flattener, SysFlow, TableConfig};
use testkit::run::{load_average, wait_cpu};

const TARGET: usize = 1_000_000;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: PrintArgs,
}

/// The shared traces (`testkit` prints SKIPPED when they are absent).
fn shared() -> Option<PathBuf> {
    testkit::traces_dir()
}

/// Records of the real traces (v4 k8s and v3), header first, replicated up to `target`
/// records. Entities are re-emitted with every replica, so OIDs stay joinable.
fn build(dir: &std::path::Path, target: usize) -> (Vec<u8>, usize) {
    let mut header = None;
    let mut body: Vec<SysFlow> = Vec::new();
    for name in ["k8s_small.sf", "1621959914.sf"] {
        let f = std::fs::File::open(dir.join(name)).expect("open trace");
        for r in Reader::new(f).expect("trace header") {
            match r.expect("record") {
                SysFlow::Header(h) => {
                    header.get_or_insert(h);
                }
                rec => body.push(rec),
            }
        }
    }
    let mut w = Writer::new(Vec::new(), Codec::Deflate).expect("writer");
    w.write(&SysFlow::Header(header.expect("a header")))
        .expect("write");
    let mut n = 1;
    while n < target {
        for r in body.iter().take(target - n) {
            w.write(r).expect("write");
        }
        n += body.len().min(target - n);
    }
    (w.finish().expect("finish"), n)
}

fn best_of(runs: usize, mut f: impl FnMut() -> usize) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut count = 0;
    for _ in 0..runs {
        let t = Instant::now();
        count = std::hint::black_box(f());
        best = best.min(t.elapsed());
    }
    (best, count)
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn main() {
    let Some(dir) = shared() else {
        println!("SKIPPED: ../shared not found");
        return;
    };
    let (trace, n) = build(&dir, TARGET);
    println!(
        "trace: {n} records, {:.1} MB (deflate), built from k8s_small.sf + 1621959914.sf",
        trace.len() as f64 / 1e6
    );

    let (d, c) = best_of(3, || {
        Reader::new(&trace[..])
            .expect("hdr")
            .map(|r| r.is_ok() as usize)
            .sum()
    });
    assert_eq!(c, n);
    println!(
        "decode:                {:>12.0} records/s ({:.3} s)",
        rate(n, d),
        d.as_secs_f64()
    );

    let (d, flat_n) = best_of(3, || {
        let mut f = Flattener::new(TableConfig::default());
        let mut k = 0;
        for r in Reader::new(&trace[..]).expect("hdr") {
            if let Some(fr) = f.push(r.expect("record")) {
                std::hint::black_box(&fr);
                k += 1;
            }
        }
        k
    });
    println!(
        "decode+flatten:        {:>12.0} records/s ({:.3} s, {flat_n} flat records)",
        rate(n, d),
        d.as_secs_f64()
    );

    let cli = Cli::parse_from(["sysprint", "-o", "json", "bench.sf"]);
    let mut bytes = 0;
    let (d, _) = best_of(3, || {
        let mut p = Printer::new(&cli.args).expect("printer");
        let mut sink = CountingSink(0);
        let rd = Reader::new(&trace[..]).expect("hdr");
        let traits = SchemaTraits::from_schema_text(rd.writer_schema());
        let mut f = Flattener::new(TableConfig::default());
        for r in rd {
            if let Some(fr) = f.push(r.expect("record")) {
                p.record(
                    &Rec {
                        flat: &fr,
                        traits: &traits,
                    },
                    &mut sink,
                )
                .expect("write");
            }
        }
        bytes = sink.0;
        0
    });
    let ours = rate(n, d);
    println!(
        "decode+flatten+JSON:   {:>12.0} records/s ({:.3} s, {:.1} MB JSON)",
        ours,
        d.as_secs_f64(),
        bytes as f64 / 1e6
    );

    binaries(&dir, &trace, n, ours);
}

/// Where a printer's output goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sink {
    /// A pipe read by `wc -l`.
    Pipe,
    /// A file (stdout redirected).
    File,
}

/// One run of `prog args… -o json trace` into `sink`: wall time, the printer's CPU time, the
/// consumer's CPU time.
fn print_once(
    prog: &Path,
    args: &[&str],
    trace: &Path,
    sink: Sink,
    out: &Path,
) -> (Duration, Duration, Duration) {
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .args(["-o", "json"])
        .arg(trace)
        .env("TZ", "UTC")
        .stdin(Stdio::null());
    let t = Instant::now();
    match sink {
        Sink::Pipe => {
            let mut p = cmd.stdout(Stdio::piped()).spawn().expect("start printer");
            let pipe = p.stdout.take().expect("stdout pipe");
            let wc = Command::new("wc")
                .arg("-l")
                .stdin(Stdio::from(pipe))
                .stdout(Stdio::null())
                .spawn()
                .expect("start wc");
            let (ok, cpu) = wait_cpu(p);
            let (wc_ok, wc_cpu) = wait_cpu(wc);
            let d = t.elapsed();
            assert!(ok && wc_ok, "{} failed", prog.display());
            (d, cpu, wc_cpu)
        }
        Sink::File => {
            let f = std::fs::File::create(out).expect("create output file");
            let p = cmd.stdout(f).spawn().expect("start printer");
            let (ok, cpu) = wait_cpu(p);
            let d = t.elapsed();
            assert!(ok, "{} failed", prog.display());
            let _ = std::fs::remove_file(out);
            (d, cpu, Duration::ZERO)
        }
    }
}

/// The binaries, side by side: ours (default threads and one), the baseline, sysprint.
fn binaries(dir: &Path, trace: &[u8], n: usize, in_process: f64) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("bench.sf");
    std::fs::write(&path, trace).expect("write trace");
    let out = tmp.path().join("out.json");
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_sensor"));
    let baseline = std::env::var_os("BENCH_BASELINE").map(PathBuf::from);
    let mut cases: Vec<(String, PathBuf, Vec<&str>)> = vec![
        ("sensor print".into(), ours.clone(), vec!["print"]),
        (
            "sensor print --threads 1".into(),
            ours,
            vec!["print", "--threads", "1"],
        ),
    ];
    if let Some(b) = &baseline {
        cases.push((
            format!("baseline {}", b.display()),
            b.clone(),
            vec!["print"],
        ));
    }
    let sysprint = std::env::var_os("SYSPRINT").map(PathBuf::from);
    let cut: usize = std::env::var("SYSPRINT_RECORDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50_000);
    let cut_path = tmp.path().join("cut.sf");
    let m = if sysprint.is_some() {
        let (small, m) = build(dir, cut);
        std::fs::write(&cut_path, &small).expect("write cut trace");
        m
    } else {
        0
    };
    println!(
        "binaries, {n} records into a pipe (wc -l) and into a file ({}); load average {}",
        std::env::temp_dir().display(),
        load_average()
    );
    type Best = (Duration, Duration, Duration);
    let mut best: Vec<[Best; 2]> =
        vec![[(Duration::MAX, Duration::MAX, Duration::MAX); 2]; cases.len()];
    let mut theirs: [Option<Best>; 2] = [None, None];
    let sinks = [Sink::Pipe, Sink::File];
    for round in 0..3 {
        for (c, (_, prog, args)) in cases.iter().enumerate() {
            for (k, &sink) in sinks.iter().enumerate() {
                let r = print_once(prog, args, &path, sink, &out);
                let b = &mut best[c][k];
                *b = (b.0.min(r.0), b.1.min(r.1), b.2.min(r.2));
            }
        }
        // sysprint once, in the middle round.
        if let (1, Some(sp)) = (round, &sysprint) {
            for (k, &sink) in sinks.iter().enumerate() {
                theirs[k] = Some(print_once(sp, &[], &cut_path, sink, &out));
            }
        }
    }
    for (k, sink) in ["pipe", "file"].iter().enumerate() {
        let sp_rate = theirs[k].map(|t| rate(m, t.0));
        if let (Some(t), Some(r)) = (theirs[k], sp_rate) {
            println!(
                "  {sink}: sysprint -o json: {r:>10.0} records/s ({:.1} s wall, {:.1} s CPU for {m} records)",
                t.0.as_secs_f64(),
                t.1.as_secs_f64()
            );
        }
        for (c, (name, _, _)) in cases.iter().enumerate() {
            let (d, cpu, wc) = best[c][k];
            let r = rate(n, d);
            let speedup = sp_rate.map_or(String::new(), |s| format!(", {:.0}x sysprint", r / s));
            let wc = if *sink == "pipe" {
                format!(", wc {:.2} s CPU", wc.as_secs_f64())
            } else {
                String::new()
            };
            println!(
                "  {sink}: {name}: {r:>10.0} records/s ({:.3} s wall, {:.3} s CPU{wc}{speedup})",
                d.as_secs_f64(),
                cpu.as_secs_f64()
            );
        }
    }
    if let Some(s) = theirs[0].map(|t| rate(m, t.0)) {
        println!(
            "  in process (one core, no I/O): {:.0}x sysprint into a pipe",
            in_process / s
        );
    }
    println!("load average after: {}", load_average());
}

/// Counts bytes, keeps nothing (the formatting cost without the I/O).
struct CountingSink(usize);

impl Write for CountingSink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0 += b.len();
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
