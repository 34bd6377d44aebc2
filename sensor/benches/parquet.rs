//! Parquet export benchmark: records/s of `sensor print -o parquet` (decode + flatten +
//! typed columns + snappy Parquet, one core) on a trace of 1 M records built from the real
//! traces, and the peak resident memory of the export (VmHWM of a fresh process that does
//! only the export, so building the trace does not count).
//!
//! Run: `cargo bench -p sensor --bench parquet` (`SYSFLOW_SHARED` locates `shared/`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Parser;
use sensor::print::{run, PrintArgs};
use sysflow_model::avro::{Codec, Reader, Writer};
use sysflow_model::SysFlow;

const TARGET: usize = 1_000_000;
/// Set in the child process: export this trace and report.
const CHILD_ENV: &str = "SF_PARQUET_BENCH_TRACE";

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: PrintArgs,
}

/// The shared traces (`testkit` prints SKIPPED when they are absent).
fn shared() -> Option<PathBuf> {
    testkit::traces_dir()
}

/// The real traces (v4 k8s and v3) replicated to `target` records (entities re-emitted with
/// every replica, so references stay joinable).
fn build(dir: &Path, target: usize, out: &Path) -> usize {
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
    let f = std::io::BufWriter::new(std::fs::File::create(out).expect("create trace"));
    let mut w = Writer::new(f, Codec::Deflate).expect("writer");
    w.write(&SysFlow::Header(header.expect("a header")))
        .expect("write");
    let mut n = 1;
    while n < target {
        for r in body.iter().take(target - n) {
            w.write(r).expect("write");
        }
        n += body.len().min(target - n);
    }
    w.finish().expect("finish");
    n
}

fn vm_hwm_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let l = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    l.split_whitespace().nth(1)?.parse().ok()
}

fn child(trace: &str) {
    let out = std::env::temp_dir().join(format!("sf-parquet-bench-{}.parquet", std::process::id()));
    let out_s = out.to_string_lossy().into_owned();
    let cli = Cli::parse_from(["sensor-print", "-o", "parquet", "-w", &out_s, trace]);
    let t = Instant::now();
    let code = run(&cli.args, "bench").expect("export");
    let d = t.elapsed();
    assert_eq!(code, 0);
    let size = std::fs::metadata(&out).map_or(0, |m| m.len());
    let _ = std::fs::remove_file(&out);
    println!(
        "parquet export: {:.2} s, {:.0} input records/s, output {:.1} MB, peak RSS (VmHWM) {:.1} MB",
        d.as_secs_f64(),
        TARGET as f64 / d.as_secs_f64(),
        size as f64 / 1e6,
        vm_hwm_kb().unwrap_or(0) as f64 / 1024.0
    );
}

fn main() {
    if let Ok(trace) = std::env::var(CHILD_ENV) {
        child(&trace);
        return;
    }
    let Some(dir) = shared() else {
        println!("SKIPPED: ../shared not found");
        return;
    };
    let trace = std::env::temp_dir().join(format!("sf-parquet-bench-{}.sf", std::process::id()));
    let n = build(&dir, TARGET, &trace);
    println!(
        "trace: {n} records, {:.1} MB (deflate), built from k8s_small.sf + 1621959914.sf",
        std::fs::metadata(&trace).map_or(0, |m| m.len()) as f64 / 1e6
    );
    // Two runs in fresh processes; the second has a warm page cache.
    for _ in 0..2 {
        let st = std::process::Command::new(std::env::current_exe().expect("own path"))
            .env(CHILD_ENV, &trace)
            .status()
            .expect("run child");
        assert!(st.success());
    }
    let _ = std::fs::remove_file(&trace);
}
