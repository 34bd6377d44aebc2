//! `sensor run --input ebpf` end to end: the native probes feed the pipeline, a test rule set
//! matches a small workload run by this test (a shell started with a marker argument, and a
//! read of a "secret" file), and the alerts come out on stdout as JSON.
//!
//! Needs root and a sensor built after `cargo xtask build-ebpf --release`; otherwise it prints
//! `SKIPPED: ...` and returns.

use std::process::Command;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use testkit::ebpf::{lock, start_failed};
use testkit::run::*;

use super::sensor;

/// A running `sensor run` with its stdout (true) and stderr (false) lines on a channel.
pub(super) struct Daemon {
    pub(super) child: std::process::Child,
    pub(super) rx: Receiver<(bool, String)>,
    pub(super) log: Vec<String>,
}

/// Start `sensor run ARGS` with `rules` as its policies and wait until the probes are
/// attached; `None` (after printing why) when eBPF is not available here.
pub(super) fn start_ebpf(args: &[&str], rules: &std::path::Path) -> Option<Daemon> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: loading eBPF probes needs root");
        return None;
    }
    let (mut child, rx) = spawn_lines(
        sensor()
            .arg("run")
            .args(args)
            .env("POLICYENGINE_POLICIES", rules),
    );
    let mut log = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok((false, l)) => {
                let attached = l.contains("eBPF probes attached");
                log.push(l);
                if attached {
                    return Some(Daemon { child, rx, log });
                }
            }
            Ok((true, l)) => log.push(l),
            Err(_) => {
                if let Ok(Some(_)) = child.try_wait() {
                    log.extend(rx.try_iter().map(|(_, l)| l));
                    let all = log.join("\n");
                    start_failed("run_ebpf", &all);
                    return None;
                }
                assert!(
                    Instant::now() < deadline,
                    "probes not attached:\n{}",
                    log.join("\n")
                );
            }
        }
    }
}

impl Daemon {
    /// Run `sh -c script` until every rule of `want` has alerted (bounded: 30 s); the first
    /// alert of each rule, `None` for those that never came.
    fn alerts(&mut self, script: &str, want: &[&str]) -> Vec<Option<serde_json::Value>> {
        let mut got = vec![None; want.len()];
        let deadline = Instant::now() + Duration::from_secs(30);
        while got.iter().any(Option::is_none) && Instant::now() < deadline {
            let st = Command::new("/bin/sh")
                .args(["-c", script])
                .status()
                .unwrap();
            assert!(st.success());
            let until = Instant::now() + Duration::from_millis(1500);
            while let Ok((is_out, l)) = self
                .rx
                .recv_timeout(until.saturating_duration_since(Instant::now()))
            {
                if !is_out {
                    self.log.push(l);
                    continue;
                }
                let v: serde_json::Value = serde_json::from_str(&l)
                    .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l}"));
                let ids = rule_ids(&v);
                if let Some(i) = want.iter().position(|w| ids.iter().any(|r| r == w)) {
                    got[i].get_or_insert(v);
                }
            }
        }
        got
    }

    /// Send `sig`, then wait (at most 10 s) for a log line that satisfies `want`.
    fn signal_and_wait(&mut self, sig: i32, want: impl Fn(&str) -> bool) -> bool {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, sig) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok((false, l)) = self.rx.recv_timeout(Duration::from_millis(200)) {
                let hit = want(&l);
                self.log.push(l);
                if hit {
                    return true;
                }
            }
        }
        false
    }

    /// SIGTERM, then the exit status and everything the daemon logged.
    pub(super) fn stop(mut self) -> (Option<i32>, String) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let st = self.child.wait().unwrap();
        self.log.extend(self.rx.try_iter().map(|(_, l)| l));
        (st.code(), self.log.join("\n"))
    }
}

/// Writes `pipeline.json` in `dir`: the `drivers` entry `driver`, then reader → alert-mode
/// policy engine → JSON on the terminal. Returns its path.
fn alert_pipeline(dir: &std::path::Path, driver: &str) -> String {
    let config = dir.join("pipeline.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"drivers":[{driver}],"pipeline":[
  {{"processor":"sysflowreader","handler":"flattener","in":"sysflow sysflowchan","out":"flat flattenerchan"}},
  {{"processor":"policyengine","in":"flat flattenerchan","out":"evt eventchan","mode":"alert"}},
  {{"processor":"exporter","in":"evt eventchan","export":"terminal","format":"json"}}]}}"#
        ),
    )
    .unwrap();
    config.to_string_lossy().to_string()
}

#[test]
fn ebpf_input_alerts_on_a_live_workload() {
    let _g = lock();
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
    let Some(mut d) = start_ebpf(&["--log", "info", "--input", "ebpf"], &rules) else {
        return;
    };
    let script = format!("cat '{}' > /dev/null # {marker}", secret.display());
    let mut got = d
        .alerts(&script, &["Marked shell", "Secret read"])
        .into_iter();
    let (shell, read) = (got.next().flatten(), got.next().flatten());
    // SIGUSR1 adds the collector's own counters to the stages'.
    let counted = d.signal_and_wait(libc::SIGUSR1, |l| {
        l.contains("counters (SIGUSR1) events=")
            && l.contains("events.proc=")
            && l.contains("drops=0")
    });
    let (code, log) = d.stop();
    assert!(counted, "no collector counters on SIGUSR1:\n{log}");
    assert_eq!(code, Some(0), "{log}");
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

/// The pipeline's `drivers` entry selects the eBPF input (no `--input`) and carries the
/// collector's settings: `cpusperring` (one ring per CPU here) and `filereadmode` 0, which
/// keeps the read-only flows under /proc that the default mode suppresses.
#[test]
fn ebpf_driver_entry_configures_the_collector() {
    let _g = lock();
    let tmp = tempfile::tempdir().unwrap();
    let marker = format!("sensor-driver-{}", std::process::id());
    let rules = tmp.path().join("rules.yaml");
    std::fs::write(
        &rules,
        format!(
            "- rule: Proc read\n  desc: the marked shell read a file under /proc\n  \
             condition: sf.type = FF and sf.file.path startswith /proc/ and sf.proc.args contains '{marker}'\n  \
             priority: low\n"
        ),
    )
    .unwrap();
    let cfg = alert_pipeline(
        tmp.path(),
        r#"{"driver":"ebpf","cpusperring":"1","filereadmode":"0"}"#,
    );
    let Some(mut d) = start_ebpf(&["--log", "info", "--config", &cfg], &rules) else {
        return;
    };
    let cpus = std::fs::read_to_string("/sys/devices/system/cpu/possible")
        .ok()
        .and_then(|s| s.trim().rsplit([',', '-']).next()?.parse::<usize>().ok())
        .map_or(1, |n| n + 1);
    let attached = d.log.last().cloned().unwrap_or_default();
    assert!(
        attached.contains(&format!("rings={}", cpus.min(16)))
            && attached.contains("cpus_per_ring=1"),
        "{attached}"
    );
    let script = format!("read x < /proc/self/stat; : {marker}");
    let alert = d.alerts(&script, &["Proc read"]).pop().flatten();
    let (code, log) = d.stop();
    assert_eq!(code, Some(0), "{log}");
    let alert = alert.unwrap_or_else(|| panic!("no 'Proc read' alert:\n{log}"));
    assert_eq!(alert["file"]["path"], "/proc/self/stat", "{alert}");
}

/// `events: auto` in the driver entry: with an exec rule only, the daemon attaches no syscall
/// probe (process life cycle only) and still alerts; a reload to rules that need file events
/// says that the probes lack them and a restart is needed.
#[test]
fn ebpf_events_auto_follows_the_rules() {
    let _g = lock();
    let tmp = tempfile::tempdir().unwrap();
    let marker = format!("sensor-auto-{}", std::process::id());
    let rules = tmp.path().join("rules.yaml");
    std::fs::write(
        &rules,
        format!(
            "- rule: Marked shell\n  desc: a shell started with the test marker\n  \
             condition: sf.type = PE and sf.opflags = EXEC and sf.proc.args contains '{marker}'\n  \
             priority: high\n"
        ),
    )
    .unwrap();
    let cfg = alert_pipeline(tmp.path(), r#"{"driver":"ebpf","events":"auto"}"#);
    let Some(mut d) = start_ebpf(&["--log", "info", "--config", &cfg], &rules) else {
        return;
    };
    let attached = d.log.last().cloned().unwrap_or_default();
    assert!(
        attached.contains("programs=3") && attached.contains("events=none"),
        "{attached}"
    );
    let alert = d
        .alerts(&format!(": {marker}"), &["Marked shell"])
        .pop()
        .flatten();
    assert!(alert.is_some(), "no alert:\n{}", d.log.join("\n"));

    std::fs::write(
        &rules,
        "- rule: Shadow\n  desc: shadow read\n  condition: sf.type = FF and sf.file.path = /etc/shadow\n  priority: high\n",
    )
    .unwrap();
    let warned = d.signal_and_wait(libc::SIGHUP, |l| {
        l.contains("can also match file events") && l.contains("restart")
    });
    let (code, log) = d.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(warned, "no warning about the missing file events:\n{log}");
}
