//! The deployment files, tried for real: the image built from a host binary and run in file,
//! socket and eBPF modes under a Docker daemon; the Kubernetes manifests validated offline
//! against a bundled schema and their sensor arguments checked by the sensor; the systemd
//! unit through `systemd-analyze verify`, and its credentials (a non-root user with the
//! unit's capabilities) loading the probes.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use testkit::docker::Docker;
use testkit::run::*;
use yaml_rust2::{Yaml, YamlLoader};

use super::sensor;

fn repo(p: &str) -> PathBuf {
    testkit::repo_root().join(p)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The runtime stage of a Dockerfile: from `FROM ${BASE}` to the end, the source build's
/// `COPY --from=build /out/rootfs/ /` spelt as the runtime-only file's `COPY rootfs/ /`,
/// comments left out.
fn runtime_stage(text: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| l.trim() != "FROM ${BASE}")
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| l.replace("COPY --from=build /out/rootfs/ /", "COPY rootfs/ /"))
        .collect()
}

#[test]
fn dockerfiles_share_the_runtime_stage_and_end_as_non_root() {
    let source = read(&repo("Dockerfile"));
    let runtime = read(&repo("Dockerfile.runtime"));
    let stage = runtime_stage(&runtime);
    assert!(stage.len() > 10, "{stage:?}");
    assert_eq!(
        runtime_stage(&source),
        stage,
        "Dockerfile's runtime stage drifted"
    );
    let last_user = stage
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER line");
    let uid = last_user.split(':').next().unwrap();
    assert!(uid != "0" && uid != "root", "final USER {last_user}");
    for key in [
        "title",
        "version",
        "revision",
        "licenses",
        "source",
        "description",
    ] {
        let label = format!("org.opencontainers.image.{key}=");
        assert!(stage.iter().any(|l| l.contains(&label)), "{label} missing");
    }
    // The version label defaults to the crate's version.
    let version = format!("ARG VERSION={}", env!("CARGO_PKG_VERSION"));
    assert!(stage.contains(&version), "{version}");
    assert!(stage
        .iter()
        .any(|l| l.contains(r#"CMD ["/usr/local/bin/sensor", "healthcheck"]"#)));
}

/// Copies a directory tree.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// The build context of Dockerfile.runtime, as its header says to make it, around the sensor
/// under test (stripped of its debug info).
fn image_context(dir: &Path) {
    let bin = dir.join("rootfs/usr/local/bin");
    std::fs::create_dir_all(&bin).unwrap();
    let stripped = Command::new("strip")
        .arg("-o")
        .arg(bin.join("sensor"))
        .arg(env!("CARGO_BIN_EXE_sensor"))
        .status()
        .is_ok_and(|s| s.success());
    if !stripped {
        std::fs::copy(env!("CARGO_BIN_EXE_sensor"), bin.join("sensor")).unwrap();
    }
    copy_tree(&repo("conf"), &dir.join("rootfs/etc/sysflow/conf"));
    let ca = Path::new("/etc/ssl/certs/ca-certificates.crt");
    if ca.is_file() {
        std::fs::create_dir_all(dir.join("rootfs/etc/ssl/certs")).unwrap();
        std::fs::copy(ca, dir.join("rootfs/etc/ssl/certs/ca-certificates.crt")).unwrap();
    }
}

/// The JSON lines (alerts) a container wrote on stdout so far.
fn alerts(docker: &Docker, name: &str) -> Vec<serde_json::Value> {
    let o = docker.cmd().args(["logs", name]).output().unwrap();
    json_lines(
        &stdout(&o)
            .lines()
            .filter(|l| l.starts_with('{'))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// Waits (`secs` at most) for `done`, panicking with `what` and the container's log.
fn wait(docker: &Docker, name: &str, secs: u64, what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        if Instant::now() > deadline {
            let o = docker.cmd().args(["logs", name]).output().unwrap();
            panic!("{what}; container log:\n{}", stderr(&o));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `docker run -d --name NAME --network none ARGS`: the test's containers need no network.
fn detached(docker: &Docker, name: &str, args: &[&str]) -> String {
    let mut all = vec!["run", "-d", "--name", name, "--network", "none"];
    all.extend_from_slice(args);
    docker.ok(&all)
}

/// `Uid:` and `CapEff:` of a process, from /proc.
fn uid_and_caps(pid: &str) -> (String, String) {
    let status = read(&PathBuf::from(format!("/proc/{pid}/status")));
    let field = |k: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    (field("Uid:"), field("CapEff:"))
}

#[test]
fn image_runs_unprivileged_for_files_and_sockets_and_watches_another_container_with_ebpf() {
    let Some(traces) = testkit::traces_dir() else {
        return;
    };
    let Some(docker) = Docker::start() else {
        return;
    };
    let sensor_bin = Path::new(env!("CARGO_BIN_EXE_sensor"));
    let Some(base) = docker.busybox_image("sysflow-test-base", &[sensor_bin]) else {
        return;
    };
    let ctx = tempfile::tempdir().unwrap();
    image_context(ctx.path());
    let tag = format!("sysflow-sensor-test-{}:latest", std::process::id());
    let image = docker.image(tag.clone());
    docker.ok(&[
        "build",
        "-q",
        "-f",
        &repo("Dockerfile.runtime").to_string_lossy(),
        "--build-arg",
        &format!("BASE={}", base.tag),
        "-t",
        &image.tag,
        &ctx.path().to_string_lossy(),
    ]);
    assert_eq!(
        docker.ok(&["inspect", "-f", "{{.Config.User}}", &tag]),
        "1001:1001"
    );
    let labels: serde_json::Value =
        serde_json::from_str(&docker.ok(&["inspect", "-f", "{{json .Config.Labels}}", &tag]))
            .unwrap();
    assert_eq!(labels["org.opencontainers.image.title"], "sysflow-sensor");
    assert_eq!(
        labels["org.opencontainers.image.version"],
        env!("CARGO_PKG_VERSION")
    );

    // File mode, as the image's user: the same alerts as the binary on the host.
    let trace = "k8s_small.sf";
    let host = sensor()
        .arg("run")
        .arg(traces.join(trace))
        .output()
        .unwrap();
    let want = json_lines(&stdout(&host)).len();
    assert!(want > 0, "the built-in rules alert on {trace}");
    let c = docker.container("sysflow-file");
    let o = docker
        .cmd()
        .args(["run", "--name", &c.name, "--network", "none", "-v"])
        .arg(format!("{}:/traces:ro", traces.display()))
        .args([&tag, &format!("/traces/{trace}")])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        json_lines(&stdout(&o)).len(),
        want,
        "file mode in the image"
    );
    drop(c);

    // Socket mode: the sensor (uid 1001, no capability) creates the socket in a directory of
    // the host; a collector-side client streams the same trace into it.
    let sock_dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(sock_dir.path(), Some(1001), Some(1001)).unwrap();
    let c = docker.container("sysflow-socket");
    detached(
        &docker,
        &c.name,
        &[
            "--health-interval=1s",
            "--health-start-period=1s",
            "-v",
            &format!("{}:/sock", sock_dir.path().display()),
            &tag,
        ],
    );
    let sock = sock_dir.path().join("sysflow.sock");
    wait(&docker, &c.name, 30, "the socket appears", || sock.exists());
    let pid = docker.ok(&["inspect", "-f", "{{.State.Pid}}", &c.name]);
    assert_eq!(
        uid_and_caps(&pid),
        ("1001".into(), "0000000000000000".into())
    );
    assert_eq!(std::fs::metadata(&sock).unwrap().uid(), 1001);
    let health = || docker.ok(&["inspect", "-f", "{{.State.Health.Status}}", &c.name]);
    wait(&docker, &c.name, 30, "HEALTHCHECK reports healthy", || {
        health() == "healthy"
    });
    let client = Client::connect(&sock);
    client.send_all(&records(&traces.join(trace)));
    wait(&docker, &c.name, 30, "every alert of the trace", || {
        alerts(&docker, &c.name).len() >= want
    });
    drop(client);
    let metrics = docker.ok(&[
        "exec",
        &c.name,
        "wget",
        "-qO-",
        "http://127.0.0.1:9090/metrics",
    ]);
    let probes_built = metrics.contains(r#"probes="embedded""#);
    docker.ok(&["stop", "-t", "20", &c.name]);
    assert_eq!(
        docker.ok(&["inspect", "-f", "{{.State.ExitCode}}", &c.name]),
        "0"
    );
    assert_eq!(
        alerts(&docker, &c.name).len(),
        want,
        "socket mode in the image"
    );
    drop(c);

    // eBPF mode: root in the container with the documented capabilities (SYS_ADMIN for
    // BPF and PERFMON, which this Docker does not know by name), the host's PID namespace,
    // watching another container write below its /etc.
    if !probes_built {
        println!("SKIPPED: eBPF in a container: the sensor was built without its probes");
        return;
    }
    let _probes = testkit::ebpf::lock();
    let c = docker.container("sysflow-ebpf");
    // The daemon's API socket where the sensor looks for it, for container names.
    let api = format!(
        "{}:/var/run/docker.sock",
        docker.host().trim_start_matches("unix://")
    );
    detached(
        &docker,
        &c.name,
        &[
            "--user",
            "0",
            "-v",
            &api,
            "--pid=host",
            "--cap-drop=ALL",
            "--cap-add=SYS_ADMIN",
            "--cap-add=SYS_PTRACE",
            "--cap-add=DAC_READ_SEARCH",
            "--security-opt",
            "seccomp=unconfined",
            "-v",
            "/sys/kernel/btf:/sys/kernel/btf:ro",
            &tag,
            "--input",
            "ebpf",
        ],
    );
    let log = || stderr(&docker.cmd().args(["logs", &c.name]).output().unwrap());
    wait(&docker, &c.name, 60, "the probes attach or fail", || {
        let l = log();
        l.contains("probes attached") || l.contains("error")
    });
    if !log().contains("probes attached") {
        testkit::ebpf::start_failed("eBPF in a container", &log());
        return;
    }
    wait(&docker, &c.name, 30, "ready", || {
        docker
            .cmd()
            .args([
                "exec",
                &c.name,
                "/usr/local/bin/sensor",
                "healthcheck",
                "--ready",
            ])
            .status()
            .is_ok_and(|s| s.success())
    });
    let victim = docker.container("sysflow-victim");
    let marker = format!("/etc/sysflow-test-{}", std::process::id());
    detached(
        &docker,
        &victim.name,
        &[
            &base.tag,
            "sh",
            "-c",
            // A second first: names come from the runtime asynchronously (records are never
            // held back for them), and the write must come after the lookup.
            &format!("sleep 2; echo x > {marker}; sleep 30"),
        ],
    );
    let victim_id = docker.ok(&["inspect", "-f", "{{.Id}}", &victim.name]);
    let alert = || {
        alerts(&docker, &c.name).into_iter().find(|a| {
            a["file"]["path"] == marker.as_str() && rule_ids(a).contains(&"Write below etc".into())
        })
    };
    wait(
        &docker,
        &c.name,
        30,
        "the victim's write below /etc alerts",
        || alert().is_some(),
    );
    let a = alert().unwrap();
    assert_eq!(a["container"]["id"], victim_id[..12], "{a}");
    // Named by the runtime the sensor asks through the mounted socket: the victim's name
    // and image, never the sensor's own container.
    assert_eq!(a["container"]["name"], victim.name.as_str(), "{a}");
    assert_eq!(a["container"]["image"], base.tag.as_str(), "{a}");
    // The collector's own counters reach the endpoint inside the container (published
    // once a second).
    let metrics = || {
        let url = "http://127.0.0.1:9090/metrics";
        docker.ok(&["exec", &c.name, "wget", "-qO-", url])
    };
    wait(&docker, &c.name, 10, "eBPF events counted", || {
        samples_of(&metrics(), "sysflow_ebpf_events_total") > 0.0
    });
    let m = metrics();
    assert!(
        m.contains(r#"sysflow_ebpf_drops_total{class="proc"}"#),
        "{m}"
    );
    assert!(samples_of(&m, "sysflow_ebpf_rings") >= 1.0, "{m}");
    docker.ok(&["stop", "-t", "20", &c.name]);
    assert_eq!(
        docker.ok(&["inspect", "-f", "{{.State.ExitCode}}", &c.name]),
        "0"
    );
}

/// The value of an unlabelled sample in a text exposition.
fn samples_of(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing"))
}

/// `kubernetes-validate`: `$KUBERNETES_VALIDATE`, the venv `.ci/run` makes, or `PATH`.
fn kubernetes_validate() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("KUBERNETES_VALIDATE").map(PathBuf::from),
        Some(repo(".venv-deploy/bin/kubernetes-validate")),
    ];
    match candidates.into_iter().flatten().find(|p| p.is_file()) {
        Some(p) => Some(p),
        None => testkit::locate::program("kubernetes-validate"),
    }
}

/// The Kubernetes version whose schema (bundled with kubernetes-validate) the manifests are
/// checked against; the oldest release they are written for.
const KUBERNETES: &str = "1.30.0";

/// Runs `cmd` without a network when it can (root and `unshare`), to show that it needs none.
fn offline(mut cmd: Command) -> Output {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root && Path::new("/usr/bin/unshare").is_file() {
        let mut u = Command::new("/usr/bin/unshare");
        u.arg("--net").arg(cmd.get_program()).args(cmd.get_args());
        cmd = u;
    }
    cmd.output().unwrap()
}

fn validate(files: &[PathBuf]) {
    let Some(kv) = kubernetes_validate() else {
        return;
    };
    let mut cmd = Command::new(kv);
    cmd.args(["--strict", "--kubernetes-version", KUBERNETES])
        .args(files);
    let o = offline(cmd);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    // One `passed` line per resource, none skipped for an unknown kind.
    let passed = stdout(&o).matches(" passed for resource ").count();
    let docs: usize = files
        .iter()
        .map(|f| YamlLoader::load_from_str(&read(f)).unwrap().len())
        .sum();
    assert_eq!(passed, docs, "{}", stdout(&o));
}

fn yaml(p: &Path) -> Vec<Yaml> {
    YamlLoader::load_from_str(&read(p)).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The resource files of a kustomization directory and, recursively, of its bases.
fn resources(dir: &Path, out: &mut Vec<PathBuf>) {
    let k = &yaml(&dir.join("kustomization.yaml"))[0];
    let listed: Vec<&str> = k["resources"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    for r in &listed {
        let p = dir.join(r);
        if p.is_dir() {
            resources(&p, out);
        } else {
            assert!(p.is_file(), "{} lists missing {r}", dir.display());
            out.push(p);
        }
    }
    // No file of the directory is left out.
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".yaml") && name != "kustomization.yaml" {
            assert!(
                listed.contains(&name.as_str()),
                "{} not listed in {}",
                name,
                dir.display()
            );
        }
    }
}

const OVERLAYS: [&str; 2] = ["ebpf", "socket"];

#[test]
fn kubernetes_manifests_validate_offline_and_their_sensor_arguments_parse() {
    for overlay in OVERLAYS {
        let mut files = Vec::new();
        resources(&repo("deploy/kubernetes").join(overlay), &mut files);
        validate(&files);
        let ds = files
            .iter()
            .flat_map(|f| yaml(f))
            .find(|d| d["kind"].as_str() == Some("DaemonSet"));
        let ds = ds.unwrap_or_else(|| panic!("{overlay}: no DaemonSet"));
        let pod = &ds["spec"]["template"]["spec"];
        let c = pod["containers"]
            .as_vec()
            .unwrap()
            .iter()
            .find(|c| c["name"].as_str() == Some("sensor"))
            .expect("a sensor container");
        let args: Vec<&str> = c["args"]
            .as_vec()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        let env = c["env"].as_vec().unwrap();
        let metrics = env
            .iter()
            .find(|e| e["name"].as_str() == Some("SENSOR_METRICS"))
            .and_then(|e| e["value"].as_str())
            .expect("SENSOR_METRICS");
        // The sensor accepts its arguments and metrics address as the manifest gives them.
        let o = sensor()
            .arg("run")
            .args(&args)
            .arg("--check")
            .env("SENSOR_METRICS", metrics)
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{overlay}: {args:?}: {}",
            stderr(&o)
        );
        // The probes ask the endpoint on the port it listens on.
        let port = metrics.rsplit(':').next().unwrap().parse::<i64>().unwrap();
        let ports = c["ports"].as_vec().unwrap();
        assert!(ports
            .iter()
            .any(|p| p["name"].as_str() == Some("metrics")
                && p["containerPort"].as_i64() == Some(port)));
        assert_eq!(
            c["livenessProbe"]["httpGet"]["path"].as_str(),
            Some("/healthz")
        );
        assert_eq!(
            c["readinessProbe"]["httpGet"]["path"].as_str(),
            Some("/readyz")
        );
        assert_eq!(
            c["livenessProbe"]["httpGet"]["port"].as_str(),
            Some("metrics")
        );
        // Every node, within limits.
        assert_eq!(pod["tolerations"][0]["operator"].as_str(), Some("Exists"));
        assert!(c["resources"]["limits"]["memory"].as_str().is_some());
        let sc = &c["securityContext"];
        match overlay {
            "ebpf" => {
                assert_eq!(pod["hostPID"].as_bool(), Some(true));
                assert_eq!(sc["privileged"].as_bool(), Some(false));
                let mounts: Vec<&str> = c["volumeMounts"]
                    .as_vec()
                    .unwrap()
                    .iter()
                    .filter_map(|m| m["mountPath"].as_str())
                    .collect();
                assert!(mounts.contains(&"/sys/kernel/btf") && mounts.contains(&"/sys/fs/bpf"));
            }
            _ => {
                assert_eq!(sc["runAsNonRoot"].as_bool(), Some(true));
                assert_eq!(sc["capabilities"]["drop"][0].as_str(), Some("ALL"));
                assert!(sc["capabilities"]["add"].is_badvalue());
                assert!(args.contains(&"/sock/sysflow.sock"));
                assert!(pod["containers"]
                    .as_vec()
                    .unwrap()
                    .iter()
                    .any(|c| c["name"].as_str() == Some("sf-collector")));
            }
        }
    }
}

#[test]
fn kustomize_builds_objects_that_validate() {
    let Some(kubectl) = testkit::locate::program("kubectl") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    for overlay in OVERLAYS {
        let mut cmd = Command::new(&kubectl);
        cmd.arg("kustomize")
            .arg(repo("deploy/kubernetes").join(overlay));
        let o = offline(cmd);
        assert!(o.status.success(), "{overlay}: {}", stderr(&o));
        let out = tmp.path().join(format!("{overlay}.yaml"));
        std::fs::write(&out, &o.stdout).unwrap();
        validate(std::slice::from_ref(&out));
        // The base's namespace and labels reach every object; the image gets its tag.
        for d in yaml(&out) {
            let kind = d["kind"].as_str().unwrap().to_string();
            if kind != "Namespace" {
                assert_eq!(
                    d["metadata"]["namespace"].as_str(),
                    Some("sysflow"),
                    "{kind}"
                );
            }
            assert_eq!(
                d["metadata"]["labels"]["app.kubernetes.io/part-of"].as_str(),
                Some("sysflow")
            );
        }
        let text = stdout(&o);
        assert!(
            text.contains(&format!(
                "image: sysflow-sensor:{}",
                env!("CARGO_PKG_VERSION")
            )),
            "{text}"
        );
    }
}

/// The unit with `ExecStart`'s sensor replaced by the one under test.
fn unit_under_test(dir: &Path) -> PathBuf {
    let unit = read(&repo("deploy/systemd/sysflow-sensor.service"))
        .replace("/usr/local/bin/sensor", env!("CARGO_BIN_EXE_sensor"));
    let p = dir.join("sysflow-sensor.service");
    std::fs::write(&p, unit).unwrap();
    p
}

/// Values of `key=` lines of the unit.
fn unit_values(key: &str) -> Vec<String> {
    read(&repo("deploy/systemd/sysflow-sensor.service"))
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(str::to_string)
        .collect()
}

#[test]
fn systemd_unit_verifies_and_its_command_line_parses() {
    let Some(analyze) = testkit::locate::program("systemd-analyze") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let unit = unit_under_test(tmp.path());
    let o = Command::new(&analyze)
        .args(["verify", "--man=no"])
        .arg(&unit)
        .output()
        .unwrap();
    // verify reports problems on stderr even when it exits 0.
    assert!(
        o.status.success() && stderr(&o).trim().is_empty(),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    let o = Command::new(&analyze)
        .args(["security", "--offline=true", "--threshold=50"])
        .arg(&unit)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "exposure above 5.0 (worse than OK): {}",
        stdout(&o)
    );
    let exec = unit_values("ExecStart");
    let args: Vec<&str> = exec[0].split_whitespace().skip(2).collect();
    let o = sensor()
        .arg("run")
        .args(&args)
        .arg("--check")
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    // Configuration and usage errors are not restarted.
    assert_eq!(unit_values("RestartPreventExitStatus"), ["2 78"]);
}

#[test]
fn systemd_unit_credentials_attach_the_probes_without_root() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("SKIPPED: switching to the unit's user needs root");
        return;
    }
    let Some(setpriv) = testkit::locate::program("setpriv") else {
        return;
    };
    // The unit's capabilities, as setpriv spells them (`+bpf,+perfmon,…`).
    let caps: Vec<String> = unit_values("AmbientCapabilities")[0]
        .split_whitespace()
        .map(|c| format!("+{}", c.trim_start_matches("CAP_").to_ascii_lowercase()))
        .collect();
    assert_eq!(
        unit_values("CapabilityBoundingSet"),
        unit_values("AmbientCapabilities")
    );
    let caps = caps.join(",");
    let _probes = testkit::ebpf::lock();
    // A user of no account, as DynamicUser gives (uid in its 61184–65519 range).
    let (mut child, lines) = spawn_lines(
        Command::new(setpriv)
            .args(["--reuid=61184", "--regid=61184", "--clear-groups"])
            .arg(format!("--inh-caps=-all,{caps}"))
            .arg(format!("--ambient-caps=-all,{caps}"))
            .arg(format!("--bounding-set=-all,{caps}"))
            .arg("--no-new-privs")
            .arg(env!("CARGO_BIN_EXE_sensor"))
            .args(["run", "--input", "ebpf"]),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut log = String::new();
    while !log.contains("built-in rules") {
        match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok((false, l)) => {
                log.push_str(&l);
                log.push('\n');
            }
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                testkit::ebpf::start_failed("the unit's credentials", &log);
                return;
            }
        }
    }
    assert!(log.contains("probes attached"), "{log}");
    let (uid, _) = uid_and_caps(&child.id().to_string());
    assert_eq!(uid, "61184");
    // The probes see this (root) test read a sensitive file, and the rules alert.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = false;
    while !seen && Instant::now() < deadline {
        let _ = std::fs::read("/etc/shadow");
        while let Ok((out, l)) = lines.recv_timeout(Duration::from_millis(500)) {
            if out && l.contains("/etc/shadow") && l.contains("Sensitive file read") {
                let v: serde_json::Value = serde_json::from_str(&l).unwrap();
                if v["proc"]["pid"].as_i64() == Some(std::process::id() as i64) {
                    seen = true;
                    break;
                }
            }
        }
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(seen, "no alert for this test's read of /etc/shadow");
    assert_eq!(status.code(), Some(0));
}
