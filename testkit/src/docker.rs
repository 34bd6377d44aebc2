//! A Docker daemon for tests, and local images made without a registry.
//!
//! [`Docker::start`] uses the daemon of `$DOCKER_HOST` or the default socket when one
//! answers; otherwise (as root, with Debian's `docker.io`) it starts a private `dockerd` with
//! its own socket, data and exec roots, no bridge and no iptables rules, so it disturbs
//! neither a system daemon nor another test's; dropping the [`Docker`] stops it and removes
//! its files. Containers run with `--network none` or the host's network there.
//!
//! No registry can be reached: [`Docker::busybox_image`] imports a base image made from
//! `busybox` (Debian's busybox-static) and the shared libraries of the binaries it will run,
//! the shape of the `busybox:glibc` image. [`Image`] and [`Container`] remove themselves
//! when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// A reachable Docker daemon (and the private one behind it, if this process started it).
pub struct Docker {
    /// `-H` value of every `docker` command.
    host: String,
    daemon: Option<Daemon>,
}

struct Daemon {
    child: Child,
    dir: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SIGTERM: dockerd stops its containers and unmounts its layers before exiting.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Unique names within this process (`<prefix>-<pid>-<n>`).
fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Relaxed)
    )
}

fn answers(host: &str) -> bool {
    Command::new("docker")
        .args(["-H", host, "version", "--format", "{{.Server.Version}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Docker {
    /// A daemon to use, or `None` after printing `SKIPPED` and why (no docker client, not
    /// root, no dockerd, or it could not start here).
    pub fn start() -> Option<Docker> {
        crate::locate::program("docker")?;
        let candidates = [
            std::env::var("DOCKER_HOST").ok(),
            Some("unix:///var/run/docker.sock".to_string()),
        ];
        if let Some(host) = candidates.into_iter().flatten().find(|h| answers(h)) {
            return Some(Docker { host, daemon: None });
        }
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            println!("SKIPPED: no Docker daemon answers and starting one needs root");
            return None;
        }
        let dockerd = crate::locate::program("dockerd")?;
        let dir = std::env::temp_dir().join(unique("sysflow-dockerd"));
        std::fs::create_dir_all(&dir).ok()?;
        let host = format!("unix://{}", dir.join("docker.sock").display());
        let log = std::fs::File::create(dir.join("dockerd.log")).ok()?;
        let child = Command::new(dockerd)
            .arg(format!("--data-root={}", dir.join("data").display()))
            .arg(format!("--exec-root={}", dir.join("exec").display()))
            .arg(format!("--pidfile={}", dir.join("dockerd.pid").display()))
            .arg(format!("--host={host}"))
            .args(["--bridge=none", "--iptables=false", "--ip-masq=false"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .ok()?;
        let mut daemon = Daemon { child, dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !answers(&host) {
            let gone = daemon.child.try_wait().ok().flatten();
            if gone.is_some() || Instant::now() > deadline {
                let log =
                    std::fs::read_to_string(daemon.dir.join("dockerd.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(5).collect();
                println!("SKIPPED: dockerd did not start here ({gone:?}): {tail:?}");
                return None;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Some(Docker {
            host,
            daemon: Some(daemon),
        })
    }

    /// True when this process started the daemon (it goes away with the [`Docker`]).
    pub fn is_private(&self) -> bool {
        self.daemon.is_some()
    }

    /// `docker -H <this daemon>`, with the classic builder (the Debian daemon has no
    /// BuildKit front end to pull).
    pub fn cmd(&self) -> Command {
        let mut c = Command::new("docker");
        c.args(["-H", &self.host]).env("DOCKER_BUILDKIT", "0");
        c
    }

    /// Runs `docker ARGS`; panics with its output when it fails.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.cmd().args(args).output().expect("run docker");
        assert!(o.status.success(), "docker {args:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    /// A base image named `<prefix>-<pid>-<n>:latest`: busybox with its applets in `/bin`,
    /// the shared libraries `binaries` need (by `ldd`), `/etc/passwd` with root and
    /// `sysflow` (uid/gid 1001), `/tmp`. `None` after printing `SKIPPED` without busybox.
    pub fn busybox_image(&self, prefix: &str, binaries: &[&Path]) -> Option<Image<'_>> {
        let busybox = crate::locate::program("busybox")?;
        let tmp = std::env::temp_dir().join(unique("sysflow-rootfs"));
        let root = tmp.join("root");
        for d in ["bin", "etc", "tmp"] {
            std::fs::create_dir_all(root.join(d)).ok()?;
        }
        std::fs::copy(&busybox, root.join("bin/busybox")).ok()?;
        let list = Command::new(&busybox).arg("--list").output().ok()?;
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            let _ = std::os::unix::fs::symlink("busybox", root.join("bin").join(applet));
        }
        for lib in libraries(&busybox, binaries) {
            let to = root.join(lib.strip_prefix("/").ok()?);
            std::fs::create_dir_all(to.parent()?).ok()?;
            std::fs::copy(&lib, &to).ok()?;
        }
        std::fs::write(
            root.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nsysflow:x:1001:1001:sysflow:/:/bin/sh\n",
        )
        .ok()?;
        std::fs::write(root.join("etc/group"), "root:x:0:\nsysflow:x:1001:\n").ok()?;
        std::fs::set_permissions(
            root.join("tmp"),
            std::os::unix::fs::PermissionsExt::from_mode(0o1777),
        )
        .ok()?;
        let tag = format!("{}:latest", unique(prefix));
        let tar = tmp.join("root.tar");
        let o = Command::new("tar")
            .arg("-C")
            .arg(&root)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .output()
            .ok()?;
        assert!(o.status.success(), "tar: {}", text(&o));
        self.ok(&["import", &tar.to_string_lossy(), &tag]);
        let _ = std::fs::remove_dir_all(&tmp);
        Some(Image { docker: self, tag })
    }

    /// A name for a container that is removed (`docker rm -f`) when the guard drops.
    pub fn container(&self, prefix: &str) -> Container<'_> {
        Container {
            docker: self,
            name: unique(prefix),
        }
    }

    /// Guards an image built by the test (removed when dropped).
    pub fn image(&self, tag: String) -> Image<'_> {
        Image { docker: self, tag }
    }
}

/// The shared libraries of `programs` (the ELF interpreter included), by `ldd`.
fn libraries(first: &Path, rest: &[&Path]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for p in std::iter::once(first).chain(rest.iter().copied()) {
        let Ok(o) = Command::new("ldd").arg(p).output() else {
            continue;
        };
        for l in String::from_utf8_lossy(&o.stdout).lines() {
            // `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)` or `/lib64/ld-linux… (0x…)`
            let path = l
                .split_whitespace()
                .find(|w| w.starts_with('/'))
                .map(PathBuf::from);
            if let Some(path) = path.filter(|p| p.is_file() && !out.contains(p)) {
                out.push(path);
            }
        }
    }
    out
}

/// A command's stdout and stderr, for messages.
fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// An image removed when dropped.
pub struct Image<'a> {
    docker: &'a Docker,
    pub tag: String,
}

impl Drop for Image<'_> {
    fn drop(&mut self) {
        let _ = self.docker.cmd().args(["rmi", "-f", &self.tag]).output();
    }
}

/// A container name; the container is removed when the guard drops.
pub struct Container<'a> {
    docker: &'a Docker,
    pub name: String,
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let _ = self
            .docker
            .cmd()
            .args(["rm", "-f", "-v", &self.name])
            .output();
    }
}
