//! Exposure: `sensor run` warns when the pipeline or a policy file is writable by other users
//! (and stays quiet when it is not); the socket file is 0600 by default, and a symlink at the
//! socket path is refused (not followed).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use testkit::run::stderr;

use super::sensor;

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Writes a pipeline naming a policy directory; returns (pipeline, policy dir, policy file).
fn setup(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let pol_dir = dir.join("policies");
    std::fs::create_dir_all(&pol_dir).expect("mkdir");
    let rule = pol_dir.join("r.yaml");
    std::fs::write(
        &rule,
        "- rule: exec\n  desc: exec\n  condition: sf.type = PE\n  priority: low\n",
    )
    .expect("rule");
    let cfg = dir.join("pipeline.json");
    std::fs::write(
        &cfg,
        format!(
            r#"{{"pipeline":[
  {{"processor":"sysflowreader","handler":"flattener","in":"sysflow sysflowchan","out":"flat flattenerchan"}},
  {{"processor":"policyengine","in":"flat flattenerchan","out":"evt eventchan","policies":"{}"}},
  {{"processor":"exporter","in":"evt eventchan","export":"terminal"}}]}}"#,
            pol_dir.display()
        ),
    )
    .expect("config");
    chmod(&pol_dir, 0o755);
    chmod(&rule, 0o644);
    chmod(&cfg, 0o644);
    (cfg, pol_dir, rule)
}

fn check(cfg: &Path) -> String {
    let o = sensor()
        .args(["run", "--check", "--config"])
        .arg(cfg)
        .output()
        .expect("run sensor");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    err
}

#[test]
fn writable_pipeline_and_policies_are_warned_about() {
    let _cpus = testkit::isolate::shared();
    let tmp = tempfile::tempdir().expect("tempdir");
    let (cfg, pol_dir, rule) = setup(tmp.path());

    let err = check(&cfg);
    assert!(
        !err.contains("writable"),
        "private files warned about: {err}"
    );

    chmod(&cfg, 0o666);
    chmod(&rule, 0o664);
    let err = check(&cfg);
    assert!(
        err.contains(&format!(
            "pipeline file {} is writable by every user (mode 0666)",
            cfg.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "policy {} is writable by its group (mode 0664)",
            rule.display()
        )),
        "{err}"
    );

    chmod(&cfg, 0o644);
    chmod(&rule, 0o644);
    chmod(&pol_dir, 0o777);
    let err = check(&cfg);
    assert!(
        err.contains(&format!(
            "policy {} is writable by every user",
            pol_dir.display()
        )),
        "{err}"
    );
    assert!(!err.contains("pipeline file"), "{err}");
}

#[test]
fn socket_is_private_and_symlinks_are_not_followed() {
    let _cpus = testkit::isolate::shared();
    let tmp = tempfile::tempdir().expect("tempdir");
    let sock = tmp.path().join("s.sock");
    let mut child = sensor()
        .args(["run", "--log", "quiet", "--input", "socket"])
        .arg(&sock)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !sock.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mode = std::fs::metadata(&sock)
        .expect("socket exists")
        .permissions()
        .mode()
        & 0o777;
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let st = child.wait().expect("wait");
    assert_eq!(mode, 0o600, "socket mode");
    assert_eq!(st.code(), Some(0));

    // A symlink planted at the socket path, pointing at a file that must stay untouched.
    let target = tmp.path().join("precious");
    std::fs::write(&target, "keep").expect("target");
    std::os::unix::fs::symlink(&target, &sock).expect("symlink");
    let o = sensor()
        .args(["run", "--log", "quiet", "--input", "socket"])
        .arg(&sock)
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("symbolic link"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&target).expect("target"), "keep");
    assert!(std::fs::symlink_metadata(&sock)
        .expect("link")
        .file_type()
        .is_symlink());
}

/// Whether something listens on the socket at `path` (a connect succeeds).
fn listening(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: plain socket calls on a fresh fd, closed before returning.
    unsafe {
        let fd = libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0);
        assert!(fd >= 0);
        let mut addr: libc::sockaddr_un = std::mem::zeroed();
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (d, s) in addr.sun_path.iter_mut().zip(path.as_os_str().as_bytes()) {
            *d = *s as libc::c_char;
        }
        let rc = libc::connect(
            fd,
            (&addr as *const libc::sockaddr_un).cast(),
            std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
        );
        libc::close(fd);
        rc == 0
    }
}

/// Starts `sensor run --input socket` with `args`, waits until it listens, returns the
/// socket's (uid, gid, mode) and stops it.
fn socket_stat(args: &[&str], sock: &Path) -> (u32, u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let child = sensor()
        .args(["run", "--log", "quiet", "--input", "socket"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(20);
    // Listening means owner and mode are final: both are set before listen().
    while !listening(sock) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let m = std::fs::symlink_metadata(sock);
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let o = child.wait_with_output().expect("wait");
    let m = m.unwrap_or_else(|e| panic!("socket missing ({e}): {}", stderr(&o)));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    (m.uid(), m.gid(), m.mode() & 0o777)
}

#[test]
fn socket_owner_is_set_before_listening() {
    let _cpus = testkit::isolate::shared();
    // SAFETY: plain getter.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: changing a file's owner needs root");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let sock = tmp.path().join("s.sock");
    let s = sock.to_str().expect("utf-8 path");

    // Command line, UID:GID (65534 is nobody/nogroup).
    let st = socket_stat(&["--socket-owner", "65534:65534", s], &sock);
    assert_eq!(st, (65534, 65534, 0o600), "(uid, gid, mode) of the socket");

    // The pipeline's socket driver entry, UID only (the group stays the creator's) and a mode.
    let cfg = tmp.path().join("p.json");
    std::fs::write(
        &cfg,
        format!(
            r#"{{"drivers":[{{"driver":"socket","path":"{s}","owner":"65534","mode":"0640"}}],
"pipeline":[
  {{"processor":"sysflowreader","handler":"flattener","in":"sysflow sysflowchan","out":"flat flattenerchan"}},
  {{"processor":"policyengine","in":"flat flattenerchan","out":"evt eventchan","mode":"enrich"}},
  {{"processor":"exporter","in":"evt eventchan","export":"terminal"}}]}}"#
        ),
    )
    .expect("config");
    chmod(&cfg, 0o600);
    // SAFETY: plain getter.
    let gid = unsafe { libc::getegid() };
    let c = cfg.to_str().expect("utf-8 path");
    let st = socket_stat(&["--config", c], &sock);
    assert_eq!(
        st,
        (65534, gid, 0o640),
        "(uid, gid, mode) from the driver entry"
    );
    // The command line wins over the driver entry.
    let st = socket_stat(
        &[
            "--config",
            c,
            "--socket-owner",
            "0:65534",
            "--socket-mode",
            "0600",
        ],
        &sock,
    );
    assert_eq!(
        st,
        (0, 65534, 0o600),
        "(uid, gid, mode) with command-line overrides"
    );

    // A malformed owner is refused up front.
    let o = sensor()
        .args(["run", "--input", "socket", "--socket-owner", "nobody", s])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("expected UID or UID:GID"),
        "{}",
        stderr(&o)
    );
    std::fs::write(
        &cfg,
        r#"{"drivers":[{"driver":"file","owner":"1"}],"pipeline":[
  {"processor":"sysflowreader","in":"sysflow sysflowchan","out":"flat flattenerchan"},
  {"processor":"exporter","in":"flat flattenerchan","export":"terminal"}]}"#,
    )
    .expect("config");
    let o = sensor()
        .args(["run", "--check", "--config", c])
        .output()
        .expect("run");
    // 78: a configuration error.
    assert_eq!(o.status.code(), Some(78), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("\"owner\": only the socket driver creates a file"),
        "{}",
        stderr(&o)
    );
}
