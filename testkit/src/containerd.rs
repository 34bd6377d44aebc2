//! containerd for the container tests: [`Containerd::start_or_find`] finds it answering on
//! its default socket, or starts it there (state `/run/containerd`, where the sensor looks
//! for bundles; a private root; the CRI plugin off), for the CRI-style containers `ctr` runs
//! (the CRI plugin's OCI annotations, the kubelet's cgroup paths). [`Containerd::import`]
//! copies a Docker image into it. Prints `SKIPPED: <why>` and returns `None` when it cannot
//! be (not root, no `containerd`/`ctr`, a daemon that does not come up).

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use crate::docker::{Docker, Image};

/// How long a started daemon may take to answer.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Start `cmd` with its stderr in `log`; wait until `ready()` (at most [`START_TIMEOUT`]).
/// `None`, after printing why, when it exits or does not get ready.
fn start_daemon(
    name: &str,
    what: &str,
    cmd: &mut Command,
    log: &Path,
    ready: &dyn Fn() -> bool,
) -> Option<Child> {
    let log_file = fs::File::create(log).ok()?;
    let mut child = match cmd.stdout(Stdio::null()).stderr(log_file).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("SKIPPED: {name}: cannot start {what}: {e}");
            return None;
        }
    };
    let t0 = Instant::now();
    while !ready() {
        let exited = child.try_wait().ok().flatten().is_some();
        if exited || t0.elapsed() > START_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            let text = fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(5).collect();
            eprintln!(
                "SKIPPED: {name}: {what} did not come up: {}",
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            );
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(child)
}

/// Stop a daemon this process started (SIGTERM, then SIGKILL after 30 s) and remove `dirs`.
fn stop_daemon(mut child: Child, dirs: &[PathBuf]) {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let t0 = Instant::now();
    while child.try_wait().ok().flatten().is_none() {
        if t0.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for d in dirs {
        let _ = fs::remove_dir_all(d);
    }
}

/// Run `cmd` to completion: its stdout (trimmed) on success, `what args: stderr` otherwise.
fn output(cmd: &mut Command, what: &str, args: &[&str]) -> Result<String, String> {
    let out: Output = cmd.output().map_err(|e| format!("{what} {args:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "{what} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// containerd at its default places (see the module doc).
pub struct Containerd {
    /// The daemon this guard started, and its private root.
    own: Option<(Child, Vec<PathBuf>)>,
}

/// containerd's default socket; its state directory is `/run/containerd`, where the sensor
/// looks for bundles.
const CONTAINERD_SOCK: &str = "/run/containerd/containerd.sock";

impl Containerd {
    /// containerd answering on its default socket, or started there (state `/run/containerd`,
    /// a private root, CRI plugin off); `None`, after printing why, when it cannot be.
    pub fn start_or_find(name: &str) -> Option<Containerd> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("SKIPPED: {name}: containerd needs root");
            return None;
        }
        crate::locate::program("ctr")?;
        crate::locate::program("containerd")?;
        let c = Containerd { own: None };
        if c.ctr(&["version"]).is_ok() {
            return Some(c);
        }
        let root =
            PathBuf::from("/var/lib").join(format!("sfx-containerd-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).ok()?;
        let config = root.join("config.toml");
        fs::write(
            &config,
            "version = 2\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n",
        )
        .ok()?;
        let mut cmd = Command::new("containerd");
        cmd.arg("--config")
            .arg(&config)
            .arg("--root")
            .arg(root.join("root"))
            .args(["--state", "/run/containerd", "--address", CONTAINERD_SOCK]);
        let probe = Containerd { own: None };
        let child = start_daemon(
            name,
            "containerd",
            &mut cmd,
            &root.join("containerd.log"),
            &|| probe.ctr(&["version"]).is_ok(),
        );
        let Some(child) = child else {
            let _ = fs::remove_dir_all(&root);
            return None;
        };
        Some(Containerd {
            own: Some((child, vec![root])),
        })
    }

    /// Run `ctr ARGS` (namespace `k8s.io`, as the CRI plugin's) to completion; stdout or the
    /// error.
    pub fn ctr(&self, args: &[&str]) -> Result<String, String> {
        let mut c = Command::new("ctr");
        c.args(["--address", CONTAINERD_SOCK, "--namespace", "k8s.io"])
            .args(args);
        output(&mut c, "ctr", args)
    }

    /// Copy `image` from Docker into containerd (`docker save` | `ctr images import`); the
    /// reference containerd knows it by (`docker.io/library/<tag>`).
    pub fn import(&self, d: &Docker, image: &Image) -> Result<String, String> {
        let dir = std::env::temp_dir().join(format!("sfx-ctr-import-{}", std::process::id()));
        let _ = fs::create_dir_all(&dir);
        let tar = dir.join("image.tar");
        let tar_s = tar.to_string_lossy().to_string();
        d.ok(&["save", "-o", &tar_s, &image.tag]);
        let r = self.ctr(&["images", "import", &tar_s]);
        let _ = fs::remove_dir_all(&dir);
        r?;
        // containerd's normalised name of a Docker Hub reference.
        Ok(if image.tag.contains('/') {
            format!("docker.io/{}", image.tag)
        } else {
            format!("docker.io/library/{}", image.tag)
        })
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        if let Some((child, dirs)) = self.own.take() {
            stop_daemon(child, &dirs);
        }
    }
}
