//! Print benchmark: records/s for decode, decode+flatten and decode+flatten+JSON on one core,
//! on a trace of >= 1 M records built with our writer from the real traces; and, when
//! `SYSPRINT` is set, the real `sysprint -o json` on a copy cut to 100 k records
//! (`SYSPRINT_RECORDS` to change).
//!
//! Run: `SYSPRINT=/path/to/sysprint cargo bench -p sensor --bench print`.
//! The traces are read from `../shared/traces` beside the repository (`SYSFLOW_SHARED` overrides).

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use sensor::print::render::Rec;
use sensor::print::schema::SchemaTraits;
use sensor::print::{PrintArgs, Printer};
use sysflow_model::avro::{Codec, Reader, Writer};
use sysflow_model::{Flattener, SysFlow, TableConfig};

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

    let Some(sp) = std::env::var_os("SYSPRINT") else {
        println!("sysprint: not measured (set SYSPRINT=/path/to/sysprint)");
        return;
    };
    let cut: usize = std::env::var("SYSPRINT_RECORDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let (small, m) = build(&dir, cut);
    let path = std::env::temp_dir().join(format!("sfprint-bench-{}.sf", std::process::id()));
    std::fs::write(&path, &small).expect("write cut trace");
    let t = Instant::now();
    let out = std::process::Command::new(&sp)
        .args(["-o", "json"])
        .arg(&path)
        .env("TZ", "UTC")
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run sysprint");
    let d = t.elapsed();
    let _ = std::fs::remove_file(&path);
    assert!(out.success(), "sysprint failed");
    let theirs = rate(m, d);
    println!(
        "sysprint -o json:      {:>12.0} records/s ({:.1} s for {m} records)",
        theirs,
        d.as_secs_f64()
    );
    println!("JSON speed-up over sysprint: {:.0}x", ours / theirs);
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
