//! `sensor run --input ebpf` end to end: the native probes feed the pipeline, a test rule set
//! matches a small workload run by this test (a shell started with a marker argument, and a
//! read of a "secret" file), and the alerts come out on stdout as JSON.
//!
//! Needs root and a sensor built after `cargo xtask build-ebpf --release`; otherwise it prints
//! `SKIPPED: ...` and returns.

#[path = "run_common.rs"]
mod common;
use common::*;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

#[test]
fn ebpf_input_alerts_on_a_live_workload() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: loading eBPF probes needs root");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let marker = format!("sensor-e2e-{}", std::process::id());
    let secret = tmp.path().join("secret.key");
    std::fs::write(&secret, "top secret\n").unwrap();
    let rules = tmp.path().join("rules.yaml");
    std::fs::write(
        &rules,
        format!(
            "- rule: Marked shell\n  desc: a shell started with the test marker\n  \
             condition: sf.type = PE and sf.opflags = EXEC and sf.proc.args contains '{marker}'\n  \
             priority: high\n  tags: [test]\n\
             - rule: Secret read\n  desc: the test secret was read\n  \
             condition: sf.type = FF and sf.file.path = '{}' and sf.opflags contains READ\n  \
             priority: medium\n",
            secret.display()
        ),
    )
    .unwrap();
    let mut child = sensor()
        .args(["run", "--log", "info", "--input", "ebpf"])
        .env("POLICYENGINE_POLICIES", &rules)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = channel::<(bool, String)>();
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let t2 = tx.clone();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = t2.send((true, l));
        }
    });
    std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send((false, l));
        }
    });

    // Wait for the probes (or for the reason they cannot load).
    let mut log = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok((false, l)) => {
                let attached = l.contains("eBPF probes attached");
                log.push(l);
                if attached {
                    break;
                }
            }
            Ok((true, l)) => log.push(l),
            Err(_) => {
                if let Ok(Some(_)) = child.try_wait() {
                    log.extend(rx.try_iter().map(|(_, l)| l));
                    let all = log.join("\n");
                    if all.contains("built without the eBPF probes") {
                        eprintln!(
                            "SKIPPED: probes not built (run `cargo xtask build-ebpf --release`)"
                        );
                    } else {
                        eprintln!("SKIPPED: BPF not permitted here: {all}");
                    }
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "probes not attached:\n{}",
                    log.join("\n")
                );
            }
        }
    }

    // The workload, repeated until both alerts are seen (bounded).
    let (mut shell, mut read) = (None, None);
    let deadline = Instant::now() + Duration::from_secs(30);
    while (shell.is_none() || read.is_none()) && Instant::now() < deadline {
        let st = Command::new("/bin/sh")
            .args([
                "-c",
                &format!("cat '{}' > /dev/null # {marker}", secret.display()),
            ])
            .status()
            .unwrap();
        assert!(st.success());
        let until = Instant::now() + Duration::from_millis(1500);
        while let Ok((is_out, l)) = rx.recv_timeout(until.saturating_duration_since(Instant::now()))
        {
            if !is_out {
                log.push(l);
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(&l)
                .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l}"));
            let ids = rule_ids(&v);
            if ids.iter().any(|r| r == "Marked shell") {
                shell = Some(v);
            } else if ids.iter().any(|r| r == "Secret read") {
                read = Some(v);
            }
        }
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let st = child.wait().unwrap();
    log.extend(rx.try_iter().map(|(_, l)| l));
    let log = log.join("\n");
    assert_eq!(st.code(), Some(0), "{log}");
    let shell = shell.unwrap_or_else(|| panic!("no 'Marked shell' alert:\n{log}"));
    assert_eq!(shell["type"], "PE");
    assert!(
        shell["opflags"]
            .as_array()
            .is_some_and(|a| a.iter().any(|f| f == "EXEC")),
        "{shell}"
    );
    assert!(
        shell["proc"]["args"]
            .as_str()
            .unwrap_or("")
            .contains(&marker),
        "{shell}"
    );
    assert_eq!(shell["tags"], serde_json::json!(["test"]));
    let read = read.unwrap_or_else(|| panic!("no 'Secret read' alert:\n{log}"));
    assert_eq!(read["type"], "FF");
    assert_eq!(read["file"]["path"], secret.display().to_string());
    assert!(
        read["proc"]["exe"].as_str().unwrap_or("").ends_with("/cat"),
        "{read}"
    );
}
