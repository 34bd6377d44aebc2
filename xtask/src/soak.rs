//! `cargo xtask soak [--records N] [--rate R]`: the soak test (`tests/reliability/soak.rs`) at
//! full size, in a release build: N records (default 10 000 000) through
//! `socket → policy engine → file exporter` into a FIFO read at R lines/s (default 50 000;
//! 0 = as fast as the test can read). Prints the test's figures (records/s, peak RSS of the
//! daemon, the collector's lead, how long its socket was full) with the machine they came
//! from, for `BENCHMARKS.md`.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// The soak test in the `reliability` test binary.
const SOAK_TEST: &str = "soak::slow_exporter_backpressure_reaches_the_socket_and_memory_stays_flat";

/// Runs the soak test in release with `records` and `rate`.
pub fn run(root: &Path, records: u64, rate: u64) -> Result<()> {
    println!(
        "soak: {records} records, reader limit {}; release build of the sensor and the test",
        if rate == 0 {
            "none".to_string()
        } else {
            format!("{rate} lines/s")
        }
    );
    let out = Command::new(env!("CARGO"))
        .current_dir(root)
        .args([
            "test",
            "--release",
            "-p",
            "sensor",
            "--test",
            "reliability",
            "--",
            "--exact",
            SOAK_TEST,
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SENSOR_SOAK_RECORDS", records.to_string())
        .env("SENSOR_SOAK_RATE", rate.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo test")?;
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    if !out.status.success() {
        bail!("the soak test failed (see above)");
    }
    println!("\n== figures ==");
    println!("machine: {}", machine());
    // With --nocapture the first line shares its line with the harness's "test … ...".
    for l in text
        .lines()
        .filter_map(|l| l.find("soak: ").map(|i| &l[i..]))
    {
        println!("{l}");
    }
    Ok(())
}

/// CPU count, CPU model and date, for the record.
fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!("{cpus} CPUs ({model}), {date}")
}
