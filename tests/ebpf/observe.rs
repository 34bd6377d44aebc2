//! Self-observation of the eBPF collector: the exit summary of `sensor record` (events, rate,
//! events and drops per class), and drops forced with a one-page ring are counted and warned
//! about (a drop is never silent).
//!
//! Needs root and the embedded probes; otherwise prints `SKIPPED: ...` and returns.

use std::{collections::HashMap, fs};

use testkit::ebpf::{lock, possible_cpus};

use super::start;

const CLASSES: [&str; 6] = ["proc", "open", "io", "close", "dir", "net"];

/// The summary's `key=value` tokens, in order; panics on any other token.
fn parse_summary(line: &str) -> Vec<(String, String)> {
    let body = line
        .strip_prefix("sensor: ")
        .unwrap_or_else(|| panic!("summary line: {line:?}"));
    body.split(' ')
        .map(|t| {
            let (k, v) = t
                .split_once('=')
                .unwrap_or_else(|| panic!("token {t:?} in {line:?}"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn num(m: &HashMap<String, String>, k: &str) -> u64 {
    let v = m.get(k).unwrap_or_else(|| panic!("{k} missing"));
    v.trim_end_matches("/s")
        .parse()
        .unwrap_or_else(|e| panic!("{k}={v}: {e}"))
}

/// open+close `n` times on a regular file from `threads` threads.
fn open_close_burst(dir: &std::path::Path, threads: usize, n: usize) {
    let f = dir.join("burst.txt");
    fs::write(&f, b"x").expect("write");
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..n {
                    drop(fs::File::open(&f).expect("open"));
                }
            });
        }
    });
}

#[test]
fn ebpf_summary_reports_events_rate_and_drops_per_class() {
    let _g = lock();
    let Some(rec) = start("summary", &[]) else {
        return;
    };
    open_close_burst(&rec.dir, 1, 2000);
    let (_, summary) = rec.stop();
    let kv = parse_summary(&summary);
    let keys: Vec<&str> = kv.iter().map(|(k, _)| k.as_str()).collect();
    let mut want = vec!["events", "rate", "peak"];
    let ev: Vec<String> = CLASSES.iter().map(|c| format!("events.{c}")).collect();
    want.extend(ev.iter().map(String::as_str));
    want.extend([
        "records",
        "ipv6_flows",
        "unresolved_fds",
        "suppressed_read_flows",
        "expired_flows",
        "decode_errors",
        "drops",
    ]);
    let dr: Vec<String> = CLASSES
        .iter()
        .chain(&["read_fault"])
        .map(|c| format!("drops.{c}"))
        .collect();
    want.extend(dr.iter().map(String::as_str));
    want.extend(["filtered", "rings"]);
    assert_eq!(keys, want, "summary: {summary}");
    let m: HashMap<String, String> = kv.into_iter().collect();
    assert!(m["rate"].ends_with("/s") && m["peak"].ends_with("/s"));
    assert!(num(&m, "events.open") >= 2000, "{summary}");
    assert!(num(&m, "events.close") >= 2000, "{summary}");
    let by_class: u64 = CLASSES
        .iter()
        .map(|c| num(&m, &format!("events.{c}")))
        .sum();
    assert_eq!(by_class, num(&m, "events"), "classes add up: {summary}");
    let drops: u64 = dr.iter().map(|k| num(&m, k)).sum();
    assert_eq!(drops, num(&m, "drops"), "drops add up: {summary}");
    assert_eq!(num(&m, "filtered"), 0, "nothing excluded: {summary}");
    assert!(num(&m, "peak") > 0 && num(&m, "rate") > 0);
    // Two CPUs per ring by default (Falco's default), at most 16 rings.
    let cpus = possible_cpus() as u64;
    let per = 2.max(cpus.div_ceil(16));
    assert_eq!(num(&m, "rings"), cpus.div_ceil(per), "{summary}");
}

#[test]
fn ebpf_full_ring_drops_are_counted_and_reported() {
    let _g = lock();
    // One page of ring holds a handful of events: a burst from two threads overruns it.
    let Some(rec) = start("drops", &["--ring-size", "4096"]) else {
        return;
    };
    open_close_burst(&rec.dir, 2, 20_000);
    let (_, stderr) = rec.stop_full();
    let summary = stderr
        .lines()
        .find(|l| l.starts_with("sensor: events="))
        .expect("summary line");
    let m: HashMap<String, String> = parse_summary(summary).into_iter().collect();
    eprintln!("{summary}");
    let lost = num(&m, "drops.open") + num(&m, "drops.close");
    assert!(lost > 0, "a one-page ring must overflow: {summary}");
    assert_eq!(
        num(&m, "drops"),
        lost + num(&m, "drops.proc")
            + num(&m, "drops.io")
            + num(&m, "drops.dir")
            + num(&m, "drops.net")
            + num(&m, "drops.read_fault")
    );
    // Reported while running too, not only in the summary.
    assert!(
        stderr.contains("events lost (ring buffer full)"),
        "drop warning: {stderr}"
    );
}

#[test]
fn ebpf_bad_ring_size_is_refused_with_a_clear_error() {
    let _g = lock();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: needs root");
        return;
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sensor"))
        .args(["record", "-w", "/dev/null", "--ring-size", "5000"])
        .output()
        .expect("run sensor");
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("built without the eBPF probes") {
        eprintln!("SKIPPED: probes not built");
        return;
    }
    assert!(!out.status.success());
    assert!(
        err.contains("ring buffer size 5000 must be a power of two"),
        "{err}"
    );
}

#[test]
fn ebpf_probe_log_names_the_failed_opens_the_probes_skip() {
    let _g = lock();
    // `start` sets RUST_LOG=warn: the flag alone must make the probes' debug lines visible.
    let Some(rec) = start("probelog", &["--probe-log"]) else {
        return;
    };
    let missing = rec.dir.join("missing");
    for _ in 0..3 {
        assert!(fs::File::open(&missing).is_err());
    }
    let (_, stderr) = rec.stop_full();
    // std's File::open is openat(2); a failed open makes no event, only this debug line.
    let want = format!(
        "op {} failed with errno {}, not reported (pid {} tid ",
        sensor_ebpf_common::Op::Openat as u16,
        libc::ENOENT,
        std::process::id()
    );
    let n = stderr.lines().filter(|l| l.contains(&want)).count();
    assert!(n >= 3, "{n} lines with {want:?} in: {stderr}");
    assert!(stderr.contains("sensor_probes::log"), "target: {stderr}");
}
