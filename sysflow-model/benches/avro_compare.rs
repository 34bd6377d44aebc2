//! Our container reader against the `apache-avro` crate on the same file (plain timing,
//! `cargo bench -p sysflow-model --bench avro_compare`; figures in docs/dependencies.md).
//!
//! Input: the records of the real traces in `../shared/traces` (every record type a
//! collector writes: header, containers, processes, files, flows, events), repeated in the
//! order they came until there are ~1 M, written once per codec with our writer (SysFlow v5
//! schema). Both readers decode the same bytes: ours into [`SysFlow`] records, apache-avro
//! 0.17's `Reader` into its generic `Value` tree (the only form its reader yields; serde
//! structs would be a conversion from those `Value`s on top, see docs/dependencies.md).
//! Skips with a message when the shared traces are absent (`$SYSFLOW_SHARED` overrides
//! `<repo>/../shared`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use sysflow_model::avro::{Codec, Reader, Writer};
use sysflow_model::SysFlow;

const TARGET: usize = 1_000_000;
/// Best of this many runs per reader (the machine is shared).
const RUNS: usize = 3;

/// Every record of every `.sf` file in `dir`, in file-name order.
fn trace_records(dir: &Path) -> Vec<SysFlow> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("listing the traces")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sf"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in &files {
        let bytes = std::fs::read(f).expect("reading a trace");
        for r in Reader::new(&bytes[..]).expect("trace header") {
            out.push(r.expect("trace record"));
        }
    }
    out
}

/// Records per second of the best of [`RUNS`] runs of `decode`, which returns the count.
fn best_rate(n: usize, mut decode: impl FnMut() -> usize) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..RUNS {
        let t = Instant::now();
        assert_eq!(decode(), n, "every record decoded");
        best = best.min(t.elapsed().as_secs_f64());
    }
    n as f64 / best
}

fn main() {
    // `<repo>/../shared`, or `$SYSFLOW_SHARED` as the tests accept.
    let shared = std::env::var_os("SYSFLOW_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    let dir = shared.join("traces");
    if !dir.is_dir() {
        println!(
            "SKIPPED: the shared traces ({}) are absent; this bench decodes their records",
            dir.display()
        );
        return;
    }
    let base = trace_records(&dir);
    assert!(!base.is_empty(), "no records in {}", dir.display());
    let n = TARGET.div_ceil(base.len()) * base.len();
    println!(
        "{} records from {}, repeated to {n}",
        base.len(),
        dir.display()
    );
    for codec in [Codec::Null, Codec::Deflate, Codec::Snappy] {
        let mut w = Writer::new(Vec::new(), codec).expect("writer");
        for r in base.iter().cycle().take(n) {
            w.write(r).expect("write");
        }
        let bytes = w.finish().expect("finish");

        let ours = best_rate(n, || {
            let mut count = 0;
            for r in Reader::new(&bytes[..]).expect("reader") {
                std::hint::black_box(r.expect("record"));
                count += 1;
            }
            count
        });
        let theirs = best_rate(n, || {
            let mut count = 0;
            for v in apache_avro::Reader::new(&bytes[..]).expect("apache-avro reader") {
                std::hint::black_box(v.expect("apache-avro value"));
                count += 1;
            }
            count
        });
        println!(
            "{codec:?}: {} bytes; ours {:.2} M rec/s; apache-avro (Value) {:.2} M rec/s; ours {:.1}x",
            bytes.len(),
            ours / 1e6,
            theirs / 1e6,
            ours / theirs
        );
    }
}
