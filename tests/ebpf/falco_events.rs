//! Falco's own rules, as shipped, under the eBPF collector: a port of falcosecurity/
//! event-generator's syscall actions (`events/syscall/*.go`, one action per rule) that run
//! outside a container on this host. `sensor run --input ebpf` loads Falco's three rule
//! files unchanged (`../shared/rulesets/falco`) and exports Falco's JSON alerts; each action
//! then does what event-generator's does and must raise its rule.
//!
//! Deviations from event-generator, each for the host's sake or for lack of a tool:
//! `SpawnAs(name, …)` (event-generator re-executes itself under another name) runs a copy
//! of bash under that name doing the same syscalls; `ModifyBinaryDirs` renames a file it
//! created in /bin rather than /bin/true; the network actions talk to listeners of this
//! test on the host's own address (the rules exclude loopback and private networks, and no
//! remote host is reachable here); `ChangeThreadNamespace` enters its own network namespace
//! where event-generator calls `setns(0, 0)`, which fails (SysFlow records no failed
//! calls); `FilelessExecutionViaMemfdCreate` runs a memfd copy of /bin/true from perl where
//! event-generator runs a copy of itself. Actions event-generator skips on this host (no
//! `crontab`, `sudoedit` or `pkexec` installed) and those that only run in a container are
//! not ported. Actions whose syscalls SysFlow does not see are run too and counted as
//! misses: they are listed in docs/policy-language.md with the reason.
//!
//! Needs root, kernel BTF, the probes (`cargo xtask build-ebpf --release`) and ../shared;
//! otherwise prints `SKIPPED: ...` and returns.

use std::net::{TcpListener, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use testkit::ebpf::lock;

use super::run::{start_ebpf, Daemon};

/// An event-generator action: its name there, the rule it targets, what it does, and
/// whether SysFlow can see it (false: a documented gap, run and counted, not required).
struct Action {
    name: &'static str,
    rule: &'static str,
    run: fn(&Ctx) -> Result<(), String>,
    visible: bool,
}

/// What actions share: a world-readable scratch directory and the host's own address.
struct Ctx {
    dir: PathBuf,
    host_ip: String,
}

impl Ctx {
    /// A copy of bash named `name` in the scratch directory (event-generator's `SpawnAs`).
    fn bash_as(&self, name: &str) -> Result<PathBuf, String> {
        let p = self.dir.join(name);
        if !p.exists() {
            std::fs::copy("/usr/bin/bash", &p).map_err(|e| format!("copy bash: {e}"))?;
        }
        Ok(p)
    }

    /// Runs `name -c script` (a bash named `name`); its exit status does not matter.
    fn spawn_as(&self, name: &str, script: &str) -> Result<(), String> {
        let p = self.bash_as(name)?;
        run(Command::new(p).args(["-c", script]))
    }

    /// A TCP listener on the host's address that accepts and drops connections, on `port`
    /// (0: any); returns the port.
    fn listen(&self, port: u16) -> Result<u16, String> {
        let l = TcpListener::bind((self.host_ip.as_str(), port))
            .map_err(|e| format!("listen {}:{port}: {e}", self.host_ip))?;
        let port = l.local_addr().map_err(|e| e.to_string())?.port();
        std::thread::spawn(move || {
            for c in l.incoming().take(4) {
                drop(c);
            }
        });
        Ok(port)
    }
}

fn run(cmd: &mut Command) -> Result<(), String> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|_| ())
        .map_err(|e| format!("{cmd:?}: {e}"))
}

fn io(r: std::io::Result<impl Sized>, what: &str) -> Result<(), String> {
    r.map(|_| ()).map_err(|e| format!("{what}: {e}"))
}

/// A unique name for files the actions create in system directories.
fn unique(prefix: &str) -> String {
    format!("{prefix}-created-by-sensor-test-{}", std::process::id())
}

const ACTIONS: &[Action] = &[
    Action {
        name: "WriteBelowBinaryDir",
        rule: "Write below binary dir",
        visible: true,
        run: |_| {
            let f = format!("/bin/{}", unique("w"));
            let r = io(std::fs::write(&f, b""), &f);
            let _ = std::fs::remove_file(&f);
            r
        },
    },
    Action {
        name: "WriteBelowEtc",
        rule: "Write below etc",
        visible: true,
        run: |_| {
            let f = format!("/etc/{}", unique("falco-event-generator"));
            let r = io(std::fs::write(&f, b""), &f);
            let _ = std::fs::remove_file(&f);
            r
        },
    },
    Action {
        name: "MkdirBinaryDirs",
        rule: "Mkdir binary dirs",
        visible: true,
        run: |_| {
            let d = format!("/bin/{}", unique("d"));
            let r = io(std::fs::create_dir(&d), &d);
            let _ = std::fs::remove_dir(&d);
            r
        },
    },
    Action {
        name: "ModifyBinaryDirs",
        rule: "Modify binary dirs",
        visible: true,
        run: |_| {
            let from = format!("/bin/{}", unique("m"));
            let to = format!("{from}.event-generator");
            io(std::fs::write(&from, b""), &from)?;
            let r = io(std::fs::rename(&from, &to), &to);
            let _ = std::fs::remove_file(&to);
            let _ = std::fs::remove_file(&from);
            r
        },
    },
    Action {
        name: "ReadSensitiveFileUntrusted",
        rule: "Read sensitive file untrusted",
        visible: true,
        run: |_| io(std::fs::File::open("/etc/shadow"), "/etc/shadow"),
    },
    Action {
        name: "ReadSensitiveFileTrustedAfterStartup",
        rule: "Read sensitive file trusted after startup",
        visible: true,
        // A server process (httpd) opens /etc/shadow after running 6 s.
        run: |c| c.spawn_as("httpd", "sleep 6; exec 3</etc/shadow"),
    },
    Action {
        name: "RunShellUntrusted",
        rule: "Run shell untrusted",
        visible: true,
        run: |c| c.spawn_as("httpd", "/bin/sh -c true; true"),
    },
    Action {
        name: "DbProgramSpawnedProcess",
        rule: "DB program spawned process",
        visible: true,
        run: |c| c.spawn_as("mysqld", "/bin/ls >/dev/null; true"),
    },
    Action {
        name: "UserMgmtBinaries",
        rule: "User mgmt binaries",
        visible: true,
        run: |c| c.spawn_as("vipw", "/bin/ls >/dev/null; true"),
    },
    Action {
        name: "LaunchSuspiciousNetworkToolOnHost",
        rule: "Launch Suspicious Network Tool on Host",
        visible: true,
        run: |c| c.spawn_as("nc", "true"),
    },
    Action {
        name: "DetectCryptoMinersUsingTheStratumProtocol",
        rule: "Detect crypto miners using the Stratum protocol",
        visible: true,
        run: |c| {
            let p = c.bash_as("miner")?;
            run(Command::new(p).args(["-c", "true", "stratum+tcp://pool.example:3333"]))
        },
    },
    Action {
        name: "SystemUserInteractive",
        rule: "System user interactive",
        visible: true,
        // A process named `login` run by a system user (daemon, uid 1).
        run: |c| {
            use std::os::unix::process::CommandExt;
            let p = c.bash_as("login")?;
            run(Command::new(p).args(["-c", "true"]).uid(1).gid(1))
        },
    },
    Action {
        name: "SearchPrivateKeysOrPasswords",
        rule: "Search Private Keys or Passwords",
        visible: true,
        run: |_| run(Command::new("find").args(["/tmp", "-maxdepth", "1", "-iname", "id_rsa"])),
    },
    Action {
        name: "FindAwsCredentials",
        rule: "Find AWS Credentials",
        visible: true,
        run: |_| {
            run(Command::new("find").args(["/tmp", "-maxdepth", "1", "-path", "*.aws/credentials"]))
        },
    },
    Action {
        name: "RemoveBulkDataFromDisk",
        rule: "Remove Bulk Data from Disk",
        visible: true,
        run: |c| {
            let f = c.dir.join("bulk.txt");
            io(std::fs::write(&f, b"bulk data content"), "bulk.txt")?;
            run(Command::new("shred").arg("-u").arg(&f))
        },
    },
    Action {
        name: "ClearLogActivities",
        rule: "Clear Log Activities",
        visible: true,
        run: |_| {
            let d = format!("/{}", unique("falco-event-generator"));
            io(std::fs::create_dir(&d), &d)?;
            let r = io(
                std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(format!("{d}/syslog")),
                "syslog",
            );
            let _ = std::fs::remove_dir_all(&d);
            r
        },
    },
    Action {
        name: "CreateSymlinkOverSensitiveFiles",
        rule: "Create Symlink Over Sensitive Files",
        visible: true,
        run: |c| {
            let l = c.dir.join("etc_link");
            run(Command::new("ln").arg("-s").arg("/etc").arg(&l))?;
            io(std::fs::read_dir(&l), "etc_link")
        },
    },
    Action {
        name: "CreateHardlinkOverSensitiveFiles",
        rule: "Create Hardlink Over Sensitive Files",
        visible: true,
        run: |c| {
            let l = c.dir.join("shadow_link");
            run(Command::new("ln").arg("/etc/shadow").arg(&l))?;
            io(std::fs::remove_file(&l), "shadow_link")
        },
    },
    Action {
        name: "ExecutionFromDevShm",
        rule: "Execution from /dev/shm",
        visible: true,
        run: |_| {
            let f = format!("/dev/shm/{}.sh", unique("example_script"));
            io(std::fs::write(&f, "#!/bin/bash\n echo 'hello world'\n"), &f)?;
            io(
                std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)),
                "chmod",
            )?;
            let r = run(&mut Command::new(&f));
            let _ = std::fs::remove_file(&f);
            r
        },
    },
    Action {
        name: "CreateFilesBelowDev",
        rule: "Create files below dev",
        visible: true,
        run: |_| {
            let f = format!("/dev/{}", unique("f"));
            let r = io(std::fs::write(&f, b""), &f);
            let _ = std::fs::remove_file(&f);
            r
        },
    },
    Action {
        name: "ModifyShellConfigurationFile",
        rule: "Modify Shell Configuration File",
        visible: true,
        run: |c| {
            io(
                std::fs::write(c.dir.join(".bashrc"), b"# test\n"),
                ".bashrc",
            )
        },
    },
    Action {
        name: "DeleteOrRenameShellHistory",
        rule: "Delete or rename shell history",
        visible: true,
        run: |c| {
            let f = c.dir.join("ash_history");
            io(std::fs::write(&f, b""), "ash_history")?;
            io(std::fs::remove_file(&f), "ash_history")
        },
    },
    Action {
        name: "ReadSshInformation",
        rule: "Read ssh information",
        visible: true,
        run: |_| with_root_ssh("known_hosts", |f| io(std::fs::File::open(f), "known_hosts")),
    },
    Action {
        name: "AddingSshKeysToAuthorizedKeys",
        rule: "Adding ssh keys to authorized_keys",
        visible: true,
        run: |_| {
            with_root_ssh("authorized_keys", |f| {
                io(
                    std::fs::OpenOptions::new().append(true).open(f),
                    "authorized_keys",
                )
            })
        },
    },
    Action {
        name: "UpdatePackageRepository",
        rule: "Update Package Repository",
        visible: true,
        run: |_| {
            let f = format!("/etc/apt/sources.list.d/{}.list", unique("r"));
            let r = io(std::fs::write(&f, b""), &f);
            let _ = std::fs::remove_file(&f);
            r
        },
    },
    Action {
        name: "NonSudoSetuid",
        rule: "Non sudo setuid",
        visible: true,
        // setuid to daemon, then (failing) back to root, from a process named `child`.
        run: |c| {
            let p = c.dir.join("child");
            if !p.exists() {
                io(std::fs::copy("/usr/bin/perl", &p), "copy perl")?;
            }
            run(Command::new(p).args(["-e", "$< = $> = 1; $< = 0;"]))
        },
    },
    Action {
        name: "SystemProcsNetworkActivity",
        rule: "System procs network activity",
        visible: true,
        run: |c| {
            let port = c.listen(0)?;
            c.spawn_as(
                "sha1sum",
                &format!("exec 3<>/dev/tcp/{}/{port}; exec 3>&-", c.host_ip),
            )
        },
    },
    Action {
        name: "DisallowedSSHConnectionNonStandardPort",
        rule: "Disallowed SSH Connection Non Standard Port",
        visible: true,
        run: |c| {
            let port = c.listen(4444)?;
            run(Command::new("ssh").args([
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=3",
                "-o",
                "StrictHostKeyChecking=no",
                "-p",
                &port.to_string(),
                &format!("nobody@{}", c.host_ip),
                "true",
            ]))
        },
    },
    Action {
        name: "UnexpectedUDPTraffic",
        rule: "Unexpected UDP Traffic",
        visible: true,
        run: |c| {
            let rx = UdpSocket::bind((c.host_ip.as_str(), 0)).map_err(|e| e.to_string())?;
            let to = rx.local_addr().map_err(|e| e.to_string())?;
            let tx = UdpSocket::bind((c.host_ip.as_str(), 0)).map_err(|e| e.to_string())?;
            io(tx.connect(to), "udp connect")?;
            io(tx.send(b"event-generator"), "udp send")?;
            let mut b = [0u8; 32];
            rx.set_read_timeout(Some(Duration::from_secs(2)))
                .map_err(|e| e.to_string())?;
            io(rx.recv(&mut b), "udp recv")
        },
    },
    Action {
        name: "ChangeThreadNamespace",
        rule: "Change thread namespace",
        visible: true,
        // setns(2) (308) into the process's own network namespace.
        run: |_| {
            run(Command::new("perl").args([
                "-e",
                "open(my $f, '<', '/proc/self/ns/net') or die; syscall(308, fileno($f), 0);",
            ]))
        },
    },
    Action {
        name: "FilelessExecutionViaMemfdCreate",
        rule: "Fileless execution via memfd_create",
        visible: true,
        // memfd_create (319; perl passes a string argument by pointer only from a
        // variable), copy /bin/true in unbuffered, execute it from /proc/self/fd. Its exit
        // status is checked: the exec must have happened.
        run: |_| {
            let status = Command::new("perl")
                .args([
                    "-e",
                    "my $n = 'program'; my $fd = syscall(319, $n, 0); die \"memfd: $!\" if $fd < 0; \
                     open(my $m, '>&=', $fd) or die; open(my $t, '<', '/bin/true') or die; \
                     binmode $t; my $b = do { local $/; <$t> }; \
                     syswrite($m, $b) == length($b) or die \"write: $!\"; \
                     exec {\"/proc/self/fd/$fd\"} 'true' or die \"exec: $!\";",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .status()
                .map_err(|e| format!("perl: {e}"))?;
            status
                .success()
                .then_some(())
                .ok_or_else(|| format!("memfd execution failed: {status}"))
        },
    },
    // Gaps: the syscalls or data these rules need are not in SysFlow records (see
    // docs/policy-language.md, "Falco's event-generator under SysFlow").
    Action {
        name: "DirectoryTraversalMonitoredFileRead",
        rule: "Directory traversal monitored file read",
        visible: false,
        run: |_| {
            io(
                std::fs::File::open("/etc/../etc/../etc/shadow"),
                "traversal",
            )
        },
    },
    Action {
        name: "ProgramRunWithDisallowedHttpProxyEnv",
        rule: "Program run with disallowed http proxy env",
        visible: false,
        run: |_| {
            run(Command::new("curl")
                .arg("--version")
                .env("HTTP_PROXY", "http://example.com"))
        },
    },
    Action {
        name: "PotentialLocalPrivilegeEscalationViaEnvironmentVariablesMisuse",
        rule: "Potential Local Privilege Escalation via Environment Variables Misuse",
        visible: false,
        run: |_| run(Command::new("/bin/true").env("GLIBC_TUNABLES", "glibc.malloc.mxfast=1")),
    },
    Action {
        name: "SetSetuidOrSetgidBit",
        rule: "Set Setuid or Setgid bit",
        visible: false,
        run: |c| {
            let f = c.dir.join("suid");
            io(std::fs::write(&f, b""), "suid")?;
            run(Command::new("chmod").arg("u+s").arg(&f))
        },
    },
    Action {
        name: "PtraceAttachedToProcess",
        rule: "PTRACE attached to process",
        visible: false,
        run: |_| {
            // PTRACE_ATTACH (16) to a child sleeping, then PTRACE_DETACH (17).
            run(Command::new("perl").args([
                "-e",
                "my $p = fork; if (!$p) { sleep 3; exit 0 } syscall(101, 16, $p, 0, 0); \
                 select(undef, undef, undef, 0.2); syscall(101, 17, $p, 0, 0); waitpid($p, 0);",
            ]))
        },
    },
    Action {
        name: "PtraceAntiDebugAttempt",
        rule: "PTRACE anti-debug attempt",
        visible: false,
        // PTRACE_TRACEME (0).
        run: |_| run(Command::new("perl").args(["-e", "syscall(101, 0, 0, 0, 0);"])),
    },
    Action {
        name: "UnprivilegedDelegationOfPageFaultsHandlingToAUserspaceProcess",
        rule: "Unprivileged Delegation of Page Faults Handling to a Userspace Process",
        visible: false,
        // userfaultfd (323) as the daemon user.
        run: |_| {
            use std::os::unix::process::CommandExt;
            run(Command::new("perl")
                .args(["-e", "syscall(323, 0);"])
                .uid(1)
                .gid(1))
        },
    },
];

/// Runs `f` on `/root/.ssh/NAME`, creating it (and /root/.ssh) for the action when absent
/// and removing what it created afterwards.
fn with_root_ssh(name: &str, f: impl FnOnce(&Path) -> Result<(), String>) -> Result<(), String> {
    let dir = Path::new("/root/.ssh");
    let made_dir = !dir.exists();
    if made_dir {
        io(std::fs::create_dir(dir), "/root/.ssh")?;
    }
    let file = dir.join(name);
    let made_file = !file.exists();
    if made_file {
        io(std::fs::write(&file, b""), name)?;
    }
    let r = f(&file);
    if made_file {
        let _ = std::fs::remove_file(&file);
    }
    if made_dir {
        let _ = std::fs::remove_dir(dir);
    }
    r
}

/// The address of this host's default route (no packet is sent: a UDP "connect" only picks
/// the source address).
fn host_ip() -> Option<String> {
    let s = UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("198.51.100.1:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then(|| ip.to_string())
}

/// Writes the pipeline: eBPF driver → reader → alert-mode policy engine → Falco's JSON on
/// the terminal. The driver keeps its defaults (`filereadmode` 2, read-only flows under
/// /proc, /dev, /sys and the library directories dropped): a file created empty below /dev
/// and a setns through /proc/self/ns must come through it.
fn falco_pipeline(dir: &Path) -> String {
    let config = dir.join("pipeline.json");
    std::fs::write(
        &config,
        r#"{"drivers":[{"driver":"ebpf"}],"pipeline":[
  {"processor":"sysflowreader","handler":"flattener","in":"sysflow sysflowchan","out":"flat flattenerchan"},
  {"processor":"policyengine","in":"flat flattenerchan","out":"evt eventchan","mode":"alert"},
  {"processor":"exporter","in":"evt eventchan","export":"terminal","format":"falco"}]}"#,
    )
    .unwrap();
    config.to_string_lossy().to_string()
}

/// Reads Falco alerts from the daemon's stdout for `wait`, or until `until` returns true.
fn collect(
    d: &mut Daemon,
    alerts: &mut Vec<serde_json::Value>,
    wait: Duration,
    until: &dyn Fn(&[serde_json::Value]) -> bool,
) {
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline && !until(alerts) {
        match d.rx.recv_timeout(Duration::from_millis(100)) {
            Ok((true, l)) => {
                let v: serde_json::Value = serde_json::from_str(&l)
                    .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l}"));
                alerts.push(v);
            }
            Ok((false, l)) => d.log.push(l),
            Err(_) => {}
        }
    }
}

fn fired(alerts: &[serde_json::Value], rule: &str) -> bool {
    alerts.iter().any(|a| a["rule"] == rule)
}

/// Loads Falco's three rule files from ../shared, or `None` after printing why not.
fn falco_rules() -> Option<PathBuf> {
    let p = testkit::locate::shared_dir()?.join("rulesets/falco");
    if p.is_dir() {
        Some(p)
    } else {
        println!("SKIPPED: {} not found", p.display());
        None
    }
}

#[test]
fn event_generator_actions_fire_falco_rules() {
    let _g = lock();
    let Some(rules) = falco_rules() else { return };
    let Some(host_ip) = host_ip() else {
        println!("SKIPPED: this host has no non-loopback address for the network actions");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("actions");
    std::fs::create_dir(&dir).unwrap();
    // World-readable: one action runs as the daemon user.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cfg = falco_pipeline(tmp.path());
    let Some(mut d) = start_ebpf(&["--log", "info", "--config", &cfg], &rules) else {
        return;
    };
    let ctx = Ctx { dir, host_ip };
    let mut alerts = Vec::new();
    let mut errors = Vec::new();
    for a in ACTIONS {
        if let Err(e) = (a.run)(&ctx) {
            errors.push(format!("{}: {e}", a.name));
        }
        // Flows are reported when their file or socket closes: a short wait per action,
        // a longer one at the end for the stragglers.
        let rule = a.rule;
        collect(
            &mut d,
            &mut alerts,
            Duration::from_secs(if a.visible { 4 } else { 1 }),
            &|v| fired(v, rule),
        );
    }
    collect(&mut d, &mut alerts, Duration::from_secs(5), &|v| {
        ACTIONS.iter().all(|a| fired(v, a.rule))
    });
    let (code, log) = d.stop();
    assert_eq!(code, Some(0), "{log}");
    let mut table = String::new();
    let mut missed = Vec::new();
    let mut n = 0;
    for a in ACTIONS {
        let hit = fired(&alerts, a.rule);
        n += hit as usize;
        table.push_str(&format!(
            "  {:<4} {:<62} {}\n",
            if hit {
                "yes"
            } else if a.visible {
                "MISS"
            } else {
                "gap"
            },
            a.name,
            a.rule
        ));
        if a.visible && !hit {
            missed.push(a.name);
        }
    }
    eprintln!(
        "event-generator actions: {n} of {} fired their rule ({} %)\n{table}action errors: {errors:?}",
        ACTIONS.len(),
        100 * n / ACTIONS.len()
    );
    // Every alert is Falco's JSON.
    for a in &alerts {
        for k in [
            "time",
            "rule",
            "priority",
            "output",
            "output_fields",
            "source",
            "tags",
            "hostname",
        ] {
            assert!(a.get(k).is_some(), "alert without '{k}': {a}");
        }
    }
    assert!(
        missed.is_empty(),
        "actions SysFlow sees that did not fire: {missed:?}\n{table}\n{log}"
    );
    // The issue's goal: at least 80 % of the ported actions fire their rule (the gaps are
    // listed with their reasons in docs/policy-language.md).
    assert!(
        n * 100 >= ACTIONS.len() * 80,
        "{n} of {} actions fired, under 80 %\n{table}",
        ACTIONS.len()
    );
}

/// The sensor's own work (its reads of /proc, its exports) raises none of Falco's rules:
/// 20 s of an idle host with Falco's three files loaded, and no alert names the sensor.
#[test]
fn falco_rules_raise_no_alert_on_the_sensor_itself() {
    let _g = lock();
    let Some(rules) = falco_rules() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cfg = falco_pipeline(tmp.path());
    let Some(mut d) = start_ebpf(&["--log", "info", "--config", &cfg], &rules) else {
        return;
    };
    let me = d.child.id() as i64;
    let exe = std::fs::canonicalize(super::SENSOR).unwrap_or_else(|_| super::SENSOR.into());
    let mut alerts = Vec::new();
    collect(&mut d, &mut alerts, Duration::from_secs(20), &|_| false);
    let (code, log) = d.stop();
    assert_eq!(code, Some(0), "{log}");
    let own: Vec<_> = alerts
        .iter()
        .filter(|a| {
            let f = &a["output_fields"];
            f["proc.pid"].as_i64() == Some(me)
                || f["proc.exepath"].as_str() == exe.to_str()
                || f["proc.exe"].as_str() == exe.to_str()
        })
        .collect();
    eprintln!(
        "{} alert(s) in 20 s on this host, {} about the sensor",
        alerts.len(),
        own.len()
    );
    assert!(own.is_empty(), "the sensor alerted on itself: {own:#?}");
}
