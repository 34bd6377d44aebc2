//! Corrupted and truncated traces through the real `sensor print`, sampled (~200 cases; the
//! exhaustive sweep runs in-process in `corruption.rs`): exit 0 with every record,
//! or exit 1 with a message naming the file and the byte offset; never a signal, a panic, a
//! hang (killed after 20 s) or a peak RSS over 48 MiB.
//!
//! In a process of its own on purpose (`testkit::isolate::in_child`): a child's `ru_maxrss`
//! starts from the parent's high-water mark (the kernel carries it across fork and exec), so
//! the parent must stay small — the in-process sweep of `corruption.rs`, in the same test
//! binary, would inflate it.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use sysflow_model::avro::{Codec, Writer};
use testkit::reliability::*;
use testkit::traces;

const CODECS: [Codec; 3] = [Codec::Null, Codec::Deflate, Codec::Snappy];
const MASKS: [u8; 3] = [0x01, 0x80, 0xff];

/// Entities + 60 events, a first block of 10 records, then blocks of 8.
fn trace(codec: Codec) -> Vec<u8> {
    let recs = traces::records(60);
    let mut w = Writer::new(Vec::new(), codec).expect("writer");
    for (i, r) in recs.iter().enumerate() {
        w.write(r).expect("write");
        if i + 1 == 10 || (i + 1 > 10 && (i + 1 - 10) % 8 == 0) {
            w.flush().expect("flush");
        }
    }
    w.finish().expect("finish")
}

fn sync_ends(b: &[u8]) -> Vec<usize> {
    let sync = &b[b.len() - 16..];
    (0..=b.len() - 16)
        .filter(|&i| &b[i..i + 16] == sync)
        .map(|i| i + 16)
        .collect()
}

fn json_lines(out: &[u8]) -> usize {
    out.split(|&c| c == b'\n').filter(|l| !l.is_empty()).count()
}

/// Peak RSS `sensor print` may reach on these small traces (KiB): a 64 MiB allocation
/// driven by a declaration would exceed it.
const PRINT_RSS_KIB: i64 = 48 << 10;

fn print_case(dir: &Path, name: &str, bytes: &[u8], want_lines: usize) {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write case");
    if let Some(keep) = std::env::var_os("SF_REL_KEEP") {
        // Debugging aid: keep every case for replay.
        let _ = std::fs::copy(&p, Path::new(&keep).join(name));
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sensor"));
    cmd.args(["print", "-o", "json"]).arg(&p).env("TZ", "UTC");
    let f = run_measured(cmd, dir, Duration::from_secs(20));
    let what = format!("{name} ({} bytes)", bytes.len());
    assert!(!f.timed_out, "{what}: hung");
    assert!(
        f.signal.is_none(),
        "{what}: killed by signal {:?}",
        f.signal
    );
    assert!(
        !f.stderr.contains("panicked"),
        "{what}: panic: {}",
        f.stderr
    );
    assert!(
        f.max_rss_kib < PRINT_RSS_KIB,
        "{what}: peak RSS {} KiB",
        f.max_rss_kib
    );
    match f.code {
        Some(0) => assert_eq!(
            json_lines(&f.stdout),
            want_lines,
            "{what}: exit 0 lost records"
        ),
        Some(1) => {
            let path = p.display().to_string();
            assert!(
                f.stderr.contains(&path) && f.stderr.contains("byte "),
                "{what}: error must name the file and the offset: {}",
                f.stderr
            );
        }
        c => panic!("{what}: exit {c:?}: {}", f.stderr),
    }
    let _ = std::fs::remove_file(&p);
}

#[test]
fn sensor_print_on_sampled_corruptions() {
    let _cpus = testkit::isolate::shared();
    if !testkit::isolate::in_child(concat!(
        module_path!(),
        "::sensor_print_on_sampled_corruptions"
    )) {
        return;
    }
    // The measurement is only meaningful while this process stays under the bound.
    assert!(
        (rss_hwm_kib(std::process::id()) as i64) < PRINT_RSS_KIB / 2,
        "test process too large to measure children"
    );
    let dir = TempDir::new("corrupt");
    let mut rng = Rng(0xc0ff_ee00_0007);
    let mut cases = 0;
    for codec in CODECS {
        let b = trace(codec);
        let ends = sync_ends(&b);
        let pristine = dir.path().join("pristine.sf");
        std::fs::write(&pristine, &b).expect("write");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sensor"));
        cmd.args(["print", "-o", "json"])
            .arg(&pristine)
            .env("TZ", "UTC");
        let f = run_measured(cmd, dir.path(), Duration::from_secs(20));
        assert_eq!(f.code, Some(0), "pristine: {}", f.stderr);
        let want = json_lines(&f.stdout);
        assert!(want > 0);
        for k in 0..40 {
            // Mostly the header and first block, where the structure is densest.
            let i = if k % 4 == 3 {
                rng.below(b.len())
            } else {
                rng.below(ends[1])
            };
            let mut c = b.clone();
            c[i] ^= MASKS[k % 3];
            print_case(dir.path(), &format!("{codec:?}-flip-{i}.sf"), &c, want);
            cases += 1;
        }
        for _ in 0..27 {
            let cut = rng.below(b.len());
            if ends.contains(&cut) {
                continue;
            }
            print_case(
                dir.path(),
                &format!("{codec:?}-cut-{cut}.sf"),
                &b[..cut],
                want,
            );
            cases += 1;
        }
    }
    assert!(cases >= 190, "{cases} cases");
}
