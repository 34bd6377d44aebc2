//! SigmaHQ rules on live activity: `sensor run --input ebpf` with sf-processor's Sigma rule
//! set (SigmaHQ's Linux process_creation rules, ../shared/rulesets/sigma), a fixture file of
//! this test's own rules for the other log sources, and — when `$SIGMA_RULES` points at a
//! SigmaHQ checkout — SigmaHQ's process_creation and file_event directories. This test does
//! what each rule describes (decode base64, read /etc/passwd, copy it to /tmp, start a shell
//! through env or awk, drop a script in /etc/profile.d and a file in /etc/cron.d, …) and
//! every rule must alert on the record that did it.
//!
//! Needs root and the probe (SKIPPED otherwise). Files it writes under /etc are named
//! `sigma-test-<pid>`, hold a comment only, and are removed by the same script line.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use testkit::ebpf::lock;

use super::run::start_ebpf;

/// An action and the rules (ids) it must fire, with what the alert's record must show.
struct Case {
    script: String,
    rules: Vec<&'static str>,
    /// The alert's `type` and a check of its JSON (exe or file path).
    kind: &'static str,
    check: Check,
}

enum Check {
    ExeEndsWith(&'static str),
    ExeContains(String),
    FilePath(String),
}

fn case(
    script: impl Into<String>,
    rules: &[&'static str],
    kind: &'static str,
    check: Check,
) -> Case {
    Case {
        script: script.into(),
        rules: rules.to_vec(),
        kind,
        check,
    }
}

/// sf-processor's (SigmaHQ's) process_creation rules and what fires them. `w` is the test's
/// work directory (under /tmp), `port` a loopback listener.
fn shared_cases(w: &str, port: u16) -> Vec<Case> {
    let pe = "PE";
    vec![
        case(
            "echo aGkK | base64 -d >/dev/null",
            &["e2072cab-8c9a-459b-b63c-40ae79e27031"],
            pe,
            Check::ExeEndsWith("/base64"),
        ),
        case(
            "/bin/echo IyEvYmluL2Jhc2gK >/dev/null",
            &["fe2f9663-41cb-47e2-b954-8a228f3b9dff"],
            pe,
            Check::ExeEndsWith("/echo"),
        ),
        case(
            "sh -c 'echo true | base64 -w0 | sh' >/dev/null 2>&1",
            &["ba592c6d-6888-43c3-b8c6-689b8fe47337"],
            pe,
            Check::ExeEndsWith("/sh"),
        ),
        case(
            "cat /etc/sudoers >/dev/null 2>&1",
            &["0f79c4d2-4e1f-4683-9c36-b5469a665e06"],
            pe,
            Check::ExeEndsWith("/cat"),
        ),
        case(
            "cat /etc/passwd >/dev/null",
            &["b45e3d6f-42c6-47d8-a478-df6bd6cf534c"],
            pe,
            Check::ExeEndsWith("/cat"),
        ),
        case(
            "cat /etc/group >/dev/null",
            &["676381a6-15ca-4d73-a9c8-6a22e970b90d"],
            pe,
            Check::ExeEndsWith("/cat"),
        ),
        case(
            "uname -a >/dev/null",
            &["42df45e7-e6e9-43b5-8f26-bec5b39cc239"],
            pe,
            Check::ExeEndsWith("/uname"),
        ),
        case(
            "ps >/dev/null",
            &["4e2f5868-08d4-413d-899f-dc2f1508627b"],
            pe,
            Check::ExeEndsWith("/ps"),
        ),
        case(
            "ip addr >/dev/null 2>&1",
            &["e7bd1cfa-b446-4c88-8afb-403bcd79e3fa"],
            pe,
            Check::ExeEndsWith("/ip"),
        ),
        case(
            "who >/dev/null",
            &["4c519226-f0cd-4471-bd2f-6fbb2bb68a79"],
            pe,
            Check::ExeEndsWith("/who"),
        ),
        case(
            "nohup true >/dev/null 2>&1",
            &["e4ffe466-6ff8-48d4-94bd-e32d1a6061e2"],
            pe,
            Check::ExeEndsWith("/nohup"),
        ),
        case(
            format!("touch {w}/.bash_history; cat {w}/.bash_history"),
            &["d7821ff1-4527-4e33-9f84-d0d57fa2fb66"],
            pe,
            Check::ExeEndsWith("/cat"),
        ),
        case(
            format!("rm -f {w}/.bash_history"),
            &[
                "30aed7b6-d2c1-4eaf-9382-b6bc43e50c57",
                "1182f3b3-e716-4efa-99ab-d2685d04360f",
            ],
            pe,
            Check::ExeEndsWith("/rm"),
        ),
        case(
            format!("rm -f /var/log/sigma-test-{}.log", std::process::id()),
            &["80915f59-9b56-4616-9de0-fd0dea6c12fe"],
            pe,
            Check::ExeEndsWith("/rm"),
        ),
        case(
            format!("dd if=/dev/zero of={w}/dd.bin bs=1 count=1 2>/dev/null"),
            &["2953194b-e33c-4859-b9e8-05948c167447"],
            pe,
            Check::ExeEndsWith("/dd"),
        ),
        case(
            "/bin/echo --donate-level=0 >/dev/null",
            &["9069ea3c-b213-4c52-be13-86506a227ab1"],
            pe,
            Check::ExeEndsWith("/echo"),
        ),
        case(
            "env http_proxy=http://127.0.0.1:9 true",
            &["72f4ab3f-787d-495d-a55d-68c2ff46cf4c"],
            pe,
            Check::ExeEndsWith("/env"),
        ),
        case(
            format!("curl -s -m 2 -A sigma -d x http://127.0.0.1:{port}/ >/dev/null"),
            &[
                "ea34fb97-e2c4-4afb-810f-785e4459b194",
                "b86d356d-6093-443d-971c-9b07db583c68",
                "00b90cc1-17ec-402c-96ad-3a8117d7a582",
            ],
            pe,
            Check::ExeEndsWith("/curl"),
        ),
        case(
            format!("touch {w}/f; chattr -i {w}/f 2>/dev/null"),
            &["34979410-e4b5-4e5d-8cfb-389fdff05c12"],
            pe,
            Check::ExeEndsWith("/chattr"),
        ),
        case(
            format!("chmod 600 {w}/f"),
            &["6419afd1-3742-47a5-a7e6-b50386cd15f8"],
            pe,
            Check::ExeEndsWith("/chmod"),
        ),
        case(
            format!("sh -c 'chown root {w}/f; chmod u+s {w}/f'"),
            &["c21c4eaa-ba2e-419a-92b2-8371703cbe21"],
            pe,
            Check::ExeEndsWith("/sh"),
        ),
        case(
            format!("find {w} -perm -4000 -name none >/dev/null"),
            &[
                "0cf7a157-8879-41a2-8f55-388dd23746b7",
                "d3feb4ee-ff1d-4d3d-bd10-5b28a238cc72",
            ],
            pe,
            Check::ExeEndsWith("/find"),
        ),
        case(
            "grep -q falcond /dev/null",
            &["c9d8b7fd-78e4-44fe-88f6-599135d46d60"],
            pe,
            Check::ExeEndsWith("/grep"),
        ),
        case(
            "arp -a >/dev/null 2>&1",
            &["11063ec2-de63-4153-935e-b1a8b9e616f1"],
            pe,
            Check::ExeEndsWith("/arp"),
        ),
        // A shell whose parent is named java, and a uname whose parent is named nginx.
        case(
            format!("cp /bin/sh {w}/java; {w}/java -c '/bin/sh -c true; true'"),
            &["d292e0af-9a18-420c-9525-ec0ac3936892"],
            pe,
            Check::ExeEndsWith("/sh"),
        ),
        case(
            format!(
                "mkdir -p {w}/nginx; cp /bin/sh {w}/nginx/nginx; {w}/nginx/nginx -c 'uname >/dev/null; true'"
            ),
            &["818f7b24-0fba-4c49-a073-8b755573b9c7"],
            pe,
            Check::ExeEndsWith("/uname"),
        ),
        // Tools this host lacks, by name: a copy of `true` started as they are.
        case(
            format!("cp /bin/true {w}/bpftrace; {w}/bpftrace --unsafe"),
            &["f8341cb2-ee25-43fa-a975-d8a5a9714b39"],
            pe,
            Check::ExeContains(format!("{w}/bpftrace")),
        ),
        case(
            format!("cp /bin/true {w}/doas; {w}/doas"),
            &["067d8238-7127-451c-a9ec-fa78045b618b"],
            pe,
            Check::ExeContains(format!("{w}/doas")),
        ),
        case(
            format!("cp /bin/true {w}/crontab; {w}/crontab -r; {w}/crontab {w}/f"),
            &[
                "c2e234de-03a3-41e1-b39a-1e56dc17ba67",
                "6b14bac8-3e3a-4324-8109-42f0546a347f",
            ],
            pe,
            Check::ExeContains(format!("{w}/crontab")),
        ),
        case(
            format!("cp /bin/true {w}/systemctl; {w}/systemctl stop firewalld"),
            &[
                "e3a8a052-111f-4606-9aee-f28ebeb76776",
                "de25eeb8-3655-4643-ac3a-b662d3f26b6b",
            ],
            pe,
            Check::ExeContains(format!("{w}/systemctl")),
        ),
    ]
}

/// This test's own rules for the log sources besides process_creation.
fn fixture_rules(w: &str, pid: u32, port: u16) -> String {
    format!(
        "title: Cron file written
id: 5e1f0000-0000-4000-8000-000000000001
logsource: {{category: file_event, product: linux}}
detection:
    selection:
        TargetFilename|startswith: /etc/cron.d/sigma-test-{pid}
    condition: selection
---
title: Profile script written
id: 5e1f0000-0000-4000-8000-000000000002
logsource: {{category: file_event, product: linux}}
detection:
    selection:
        TargetFilename|contains: /etc/profile.d/
        TargetFilename|endswith: .sh
    condition: selection
---
title: Passwd copied to tmp
id: 5e1f0000-0000-4000-8000-000000000003
logsource: {{category: file_event, product: linux}}
detection:
    selection:
        Image|endswith: /cp
        TargetFilename: {w}/passwd.copy
    condition: selection
---
title: Work file deleted
id: 5e1f0000-0000-4000-8000-000000000004
logsource: {{category: file_delete, product: linux}}
detection:
    selection:
        TargetFilename: {w}/gone
    condition: selection
---
title: Work file renamed
id: 5e1f0000-0000-4000-8000-000000000005
logsource: {{category: file_rename, product: linux}}
detection:
    selection:
        SourceFilename: {w}/a
        TargetFilename: {w}/b
    condition: selection
---
title: Curl to the test listener
id: 5e1f0000-0000-4000-8000-000000000006
logsource: {{category: network_connection, product: linux}}
detection:
    selection:
        Image|endswith: /curl
        Initiated: 'true'
        DestinationIp: 127.0.0.1
        DestinationPort: {port}
        Protocol: tcp
    condition: selection
"
    )
}

fn fixture_cases(w: &str, pid: u32, port: u16) -> Vec<Case> {
    vec![
        case(format!("echo '# sigma test' > /etc/cron.d/sigma-test-{pid}; rm -f /etc/cron.d/sigma-test-{pid}"), &["5e1f0000-0000-4000-8000-000000000001"], "FF", Check::FilePath(format!("/etc/cron.d/sigma-test-{pid}"))),
        case(format!("echo '# sigma test' > /etc/profile.d/sigma-test-{pid}.sh; rm -f /etc/profile.d/sigma-test-{pid}.sh"), &["5e1f0000-0000-4000-8000-000000000002"], "FF", Check::FilePath(format!("/etc/profile.d/sigma-test-{pid}.sh"))),
        case(format!("cp /etc/passwd {w}/passwd.copy; rm -f {w}/passwd.copy"), &["5e1f0000-0000-4000-8000-000000000003"], "FF", Check::FilePath(format!("{w}/passwd.copy"))),
        case(format!("touch {w}/gone; rm {w}/gone"), &["5e1f0000-0000-4000-8000-000000000004"], "FE", Check::FilePath(format!("{w}/gone"))),
        case(format!("touch {w}/a; mv {w}/a {w}/b; rm -f {w}/b"), &["5e1f0000-0000-4000-8000-000000000005"], "FE", Check::FilePath(format!("{w}/a"))),
        case(format!("curl -s -m 2 http://127.0.0.1:{port}/ >/dev/null"), &["5e1f0000-0000-4000-8000-000000000006"], "NF", Check::ExeEndsWith("/curl")),
    ]
}

/// SigmaHQ's own rules (from `$SIGMA_RULES`) that the same kind of actions fire.
fn sigmahq_cases(w: &str, pid: u32, port: u16, doas: bool) -> Vec<Case> {
    let mut v = vec![
        case(format!("echo '#' > /etc/cron.d/sigma-test-{pid}; rm -f /etc/cron.d/sigma-test-{pid}"), &["6c4e2f43-d94d-4ead-b64d-97e53fa2bd05"], "FF", Check::FilePath(format!("/etc/cron.d/sigma-test-{pid}"))),
        case(format!("echo '#' > /etc/sudoers.d/sigma-test-{pid}; rm -f /etc/sudoers.d/sigma-test-{pid}"), &["ddb26b76-4447-4807-871f-1b035b2bfa5d"], "FF", Check::FilePath(format!("/etc/sudoers.d/sigma-test-{pid}"))),
        case(format!("echo '#' > /etc/profile.d/sigma-test-{pid}.sh; rm -f /etc/profile.d/sigma-test-{pid}.sh"), &["13f08f54-e705-4498-91fd-cce9d9cee9f1"], "FF", Check::FilePath(format!("/etc/profile.d/sigma-test-{pid}.sh"))),
        case(format!("echo '#' > /etc/systemd/system/sigma-test-{pid}.service; rm -f /etc/systemd/system/sigma-test-{pid}.service"), &["62641464-0c1a-40b2-aeb0-fc61b5c2fec3"], "FF", Check::FilePath(format!("/etc/systemd/system/sigma-test-{pid}.service"))),
        case(format!("echo '#' > {w}/ebpfbackdoor"), &["1a2ea919-d11d-4d1e-8535-06cda13be20f"], "FF", Check::FilePath(format!("{w}/ebpfbackdoor"))),
        case(format!("cp /bin/bash {w}/bash"), &["c2a5d8e3-9b47-4f1a-d628-4f1e7c2b9a65"], "FF", Check::FilePath(format!("{w}/bash"))),
        case(format!("wget -q -t 1 -T 2 -O {w}/dl http://127.0.0.1:{port}/ 2>/dev/null"), &["35a05c60-9012-49b6-a11f-6bab741c9f74"], "FF", Check::FilePath(format!("{w}/dl"))),
        case(format!("cp /etc/passwd {w}/passwd.copy2"), &["fa4aaed5-4fe0-498d-bbc0-08e3346387ba"], "PE", Check::ExeEndsWith("/cp")),
        case("env /bin/sh </dev/null", &["bed978f8-7f3a-432b-82c5-9286a9b3031a"], "PE", Check::ExeEndsWith("/env")),
        case("awk 'BEGIN {system(\"/bin/sh -c true\")}'", &["8c1a5675-cb85-452f-a298-b01b22a51856"], "PE", Check::ExeContains("awk".into())),
        case("bash -i -c true >/dev/null 2>&1 </dev/null", &["6104e693-a7d6-4891-86cb-49a258523559"], "PE", Check::ExeEndsWith("/bash")),
    ];
    if doas {
        v.push(case(
            "echo '#' > /etc/doas.conf; rm -f /etc/doas.conf",
            &["00eee2a5-fdb0-4746-a21d-e43fbdea5681"],
            "FF",
            Check::FilePath("/etc/doas.conf".into()),
        ));
    }
    v
}

/// A loopback listener that accepts and answers every connection with an empty HTTP
/// response (bounded: it stops with the test process).
fn listener() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut s = s;
            let _ = s.set_read_timeout(Some(std::time::Duration::from_millis(200)));
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            let _ =
                std::io::Write::write_all(&mut s, b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
        }
    });
    port
}

/// Directories the actions write to, created (and later removed) where this host lacks them.
fn ensure_dirs(dirs: &[&str]) -> Vec<PathBuf> {
    dirs.iter()
        .map(Path::new)
        .filter(|d| !d.exists())
        .map(|d| {
            std::fs::create_dir_all(d).unwrap();
            d.to_path_buf()
        })
        .collect()
}

#[test]
fn sigmahq_rules_fire_on_live_actions() {
    let _g = lock();
    let Some(shared) = testkit::shared_dir() else {
        return;
    };
    let pid = std::process::id();
    let tmp = tempfile::Builder::new()
        .prefix("sigma-ebpf")
        .tempdir_in("/tmp")
        .unwrap();
    let work = tmp.path().join("w");
    std::fs::create_dir_all(&work).unwrap();
    let w = work.display().to_string();
    let port = listener();
    let rules = tmp.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::os::unix::fs::symlink(shared.join("rulesets/sigma/rules"), rules.join("shared")).unwrap();
    std::fs::write(rules.join("fixtures.yml"), fixture_rules(&w, pid, port)).unwrap();
    let mut cases = shared_cases(&w, port);
    cases.extend(fixture_cases(&w, pid, port));
    let sigmahq = std::env::var_os("SIGMA_RULES").map(PathBuf::from);
    match &sigmahq {
        Some(s) => {
            let linux = if s.join("rules/linux").is_dir() {
                s.join("rules/linux")
            } else {
                s.clone()
            };
            for d in ["process_creation", "file_event"] {
                std::os::unix::fs::symlink(linux.join(d), rules.join(format!("sigmahq_{d}")))
                    .unwrap();
            }
            let doas = !Path::new("/etc/doas.conf").exists();
            cases.extend(sigmahq_cases(&w, pid, port, doas));
        }
        None => eprintln!(
            "SKIPPED (in part): set SIGMA_RULES to a SigmaHQ checkout to add its file_event rules"
        ),
    }
    let created = ensure_dirs(&[
        "/etc/cron.d",
        "/etc/profile.d",
        "/etc/sudoers.d",
        "/etc/systemd/system",
    ]);
    let Some(mut d) = start_ebpf(&["--log", "info", "--input", "ebpf"], &rules) else {
        return;
    };
    // The actions run from a file: a `sh -c` with all of them in its command line would match
    // the command-line rules itself.
    let actions = tmp.path().join("actions.sh");
    let text: Vec<&str> = cases.iter().map(|c| c.script.as_str()).collect();
    std::fs::write(&actions, text.join("\n")).unwrap();
    let script = format!("sh {}", actions.display());
    let want: Vec<&str> = cases.iter().flat_map(|c| c.rules.iter().copied()).collect();
    let got = d.alerts(&script, &want);
    let (code, log) = d.stop();
    for dir in created.iter().rev() {
        let _ = std::fs::remove_dir(dir);
    }
    assert_eq!(code, Some(0), "{log}");
    let mut missing = Vec::new();
    let mut i = 0;
    for c in &cases {
        for rule in &c.rules {
            let Some(alert) = &got[i] else {
                missing.push(format!("{rule} ({})", c.script));
                i += 1;
                continue;
            };
            i += 1;
            assert_eq!(alert["type"], c.kind, "{rule}: {alert}");
            let exe = alert["proc"]["exe"].as_str().unwrap_or("");
            let path = alert["file"]["path"].as_str().unwrap_or("");
            let ok = match &c.check {
                Check::ExeEndsWith(s) => exe.ends_with(s),
                Check::ExeContains(s) => exe.contains(s.as_str()),
                Check::FilePath(p) => path == p,
            };
            assert!(ok, "{rule} ({}): {alert}", c.script);
        }
    }
    assert!(
        missing.is_empty(),
        "rules that did not alert: {missing:#?}\n{log}"
    );
    let sigmahq_rules = want.iter().filter(|r| !r.starts_with("5e1f0000")).count();
    eprintln!(
        "{} rules alerted on their actions, {sigmahq_rules} of them SigmaHQ's",
        want.len()
    );
    assert!(sigmahq_rules >= 15);
}
