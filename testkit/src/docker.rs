//! A Docker daemon for the container tests, and a local image to run in it (no registry).
//!
//! - [`Dockerd::start_or_find`]: a daemon that answers, `$DOCKER_HOST`'s or
//!   `/var/run/docker.sock`'s, or else one started for the test with private directories
//!   (data, exec root, socket, pid file; no bridge, no iptables) so it disturbs nothing on
//!   the host and nothing disturbs it. The guard stops a daemon it started, and removes its
//!   directories, when dropped; a daemon it found is left running.
//! - [`Dockerd::busybox_image`]: `local/<name>:1`, a rootfs of Debian's static busybox (the
//!   binary and its applets as symlinks) made with `docker import`; the guard removes it.
//!
//! - [`Containerd::start_or_find`]: containerd at its default socket and state directory
//!   (`/run/containerd`), found running or started with a private root, for the CRI-style
//!   containers `ctr` runs (OCI annotations and cgroup paths as the kubelet's CRI requests make
//!   them); [`Containerd::import`] copies a Docker image into it.
//!
//! All print `SKIPPED: <why>` and return `None` when this machine cannot (not root, no
//! `dockerd`/`docker`/`containerd`/`ctr`, no busybox, a daemon that does not come up).

use std::{
    fs,
    io::{Read, Write},
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

/// How long a started daemon may take to answer.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A Docker daemon (see the module doc).
pub struct Dockerd {
    socket: PathBuf,
    /// The daemon this guard started, and its directories.
    own: Option<(Child, Vec<PathBuf>)>,
}

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

/// True when an HTTP server answers `GET /_ping` with 200 on `socket`.
fn pings(socket: &Path) -> bool {
    let Ok(mut s) = UnixStream::connect(socket) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    reply.starts_with("HTTP/1.1 200") || reply.starts_with("HTTP/1.0 200")
}

fn on_path(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Dockerd {
    /// A daemon to run containers in (see the module doc); `name` tells the test's private
    /// directories apart. `None`, after printing `SKIPPED: …`, when there can be none.
    pub fn start_or_find(name: &str) -> Option<Dockerd> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("SKIPPED: {name}: Docker needs root");
            return None;
        }
        if !on_path("docker") {
            eprintln!("SKIPPED: {name}: no docker CLI (Debian: apt-get install docker.io)");
            return None;
        }
        let found = std::env::var("DOCKER_HOST")
            .ok()
            .and_then(|h| h.strip_prefix("unix://").map(PathBuf::from))
            .into_iter()
            .chain([PathBuf::from("/var/run/docker.sock")])
            .find(|s| pings(s));
        if let Some(socket) = found {
            return Some(Dockerd { socket, own: None });
        }
        if !on_path("dockerd") {
            eprintln!("SKIPPED: {name}: no dockerd (Debian: apt-get install docker.io)");
            return None;
        }
        let tag = format!("sfx-dockerd-{name}-{}", std::process::id());
        let run = PathBuf::from("/run").join(&tag);
        let data = PathBuf::from("/var/lib").join(&tag);
        let _ = fs::remove_dir_all(&run);
        let _ = fs::remove_dir_all(&data);
        if let Err(e) = fs::create_dir_all(&run).and_then(|_| fs::create_dir_all(&data)) {
            eprintln!("SKIPPED: {name}: cannot create the daemon's directories: {e}");
            return None;
        }
        let socket = run.join("docker.sock");
        let mut cmd = Command::new("dockerd");
        cmd.arg("--data-root")
            .arg(&data)
            .arg("--exec-root")
            .arg(run.join("exec"))
            .arg("--pidfile")
            .arg(run.join("docker.pid"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .args(["--bridge", "none", "--iptables=false", "--ip6tables=false"]);
        let child = start_daemon(name, "dockerd", &mut cmd, &run.join("dockerd.log"), &|| {
            pings(&socket)
        });
        let Some(child) = child else {
            let _ = fs::remove_dir_all(&run);
            let _ = fs::remove_dir_all(&data);
            return None;
        };
        let d = Dockerd {
            socket,
            own: Some((child, vec![run, data])),
        };
        Some(d)
    }

    /// The daemon's API socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// `unix://<socket>`, for `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The docker CLI talking to this daemon.
    pub fn docker(&self) -> Command {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", self.host());
        c
    }

    /// Run the docker CLI with `args` to completion; stdout on success, the error otherwise.
    pub fn run(&self, args: &[&str]) -> Result<String, String> {
        output(self.docker().args(args), "docker", args)
    }

    /// `local/<name>:1` from Debian's static busybox (see the module doc); `None` after
    /// printing `SKIPPED: …` when busybox-static is not installed.
    pub fn busybox_image(&self, name: &str) -> Option<Image<'_>> {
        let busybox = Path::new("/bin/busybox");
        if !busybox.is_file() {
            eprintln!("SKIPPED: {name}: no /bin/busybox (apt-get install busybox-static)");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("sfx-image-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let root = dir.join("rootfs");
        for d in ["bin", "etc", "tmp", "proc", "sys", "dev"] {
            fs::create_dir_all(root.join(d)).expect("rootfs dirs");
        }
        fs::copy(busybox, root.join("bin/busybox")).expect("copy busybox");
        for applet in [
            "sh", "cat", "sleep", "echo", "ls", "true", "id", "env", "touch", "rm", "head",
        ] {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(applet))
                .expect("applet link");
        }
        fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").expect("passwd");
        fs::write(root.join("etc/shadow"), "root:*:19000:0:99999:7:::\n").expect("shadow");
        let tar = dir.join("rootfs.tar");
        let ok = Command::new("tar")
            .arg("-C")
            .arg(&root)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "tar of the busybox rootfs failed");
        let reference = format!("local/{name}:1");
        let tar_s = tar.to_string_lossy().to_string();
        let imported = self.run(&["import", "-c", r#"CMD ["/bin/sh"]"#, &tar_s, &reference]);
        let _ = fs::remove_dir_all(&dir);
        let id = match imported {
            Ok(id) => id,
            Err(e) => panic!("{name}: docker import failed: {e}"),
        };
        Some(Image {
            docker: self,
            reference,
            id: id.strip_prefix("sha256:").unwrap_or(&id).to_string(),
        })
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        if let Some((child, dirs)) = self.own.take() {
            stop_daemon(child, &dirs);
        }
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
        if !on_path("ctr") || !on_path("containerd") {
            eprintln!("SKIPPED: {name}: no containerd/ctr (Debian: apt-get install containerd)");
            return None;
        }
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
    /// reference containerd knows it by (`docker.io/local/<name>:1`).
    pub fn import(&self, d: &Dockerd, image: &Image) -> Result<String, String> {
        let dir = std::env::temp_dir().join(format!("sfx-ctr-import-{}", std::process::id()));
        let _ = fs::create_dir_all(&dir);
        let tar = dir.join("image.tar");
        let tar_s = tar.to_string_lossy().to_string();
        d.run(&["save", "-o", &tar_s, &image.reference])?;
        let r = self.ctr(&["images", "import", &tar_s]);
        let _ = fs::remove_dir_all(&dir);
        r?;
        Ok(format!("docker.io/{}", image.reference))
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        if let Some((child, dirs)) = self.own.take() {
            stop_daemon(child, &dirs);
        }
    }
}

/// A local image (see [`Dockerd::busybox_image`]); removed, with any container left of it,
/// when dropped.
pub struct Image<'a> {
    docker: &'a Dockerd,
    /// `local/<name>:1`.
    pub reference: String,
    /// The image id (hex, without `sha256:`).
    pub id: String,
}

impl Drop for Image<'_> {
    fn drop(&mut self) {
        let filter = format!("ancestor={}", self.reference);
        if let Ok(ids) = self.docker.run(&["ps", "-aq", "--filter", &filter]) {
            for id in ids.split_whitespace() {
                let _ = self.docker.run(&["rm", "-f", id]);
            }
        }
        let _ = self.docker.run(&["rmi", "-f", &self.reference]);
    }
}
