//! Exposure: `sensor run` warns when the pipeline or a policy file is writable by other users
//! (and stays quiet when it is not); the socket file is 0600 by default, and a symlink at the
//! socket path is refused (not followed).

#[path = "run_common.rs"]
mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

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
    let o = common::sensor()
        .args(["run", "--check", "--config"])
        .arg(cfg)
        .output()
        .expect("run sensor");
    let err = common::stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    err
}

#[test]
fn writable_pipeline_and_policies_are_warned_about() {
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
    let tmp = tempfile::tempdir().expect("tempdir");
    let sock = tmp.path().join("s.sock");
    let mut child = common::sensor()
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
    let o = common::sensor()
        .args(["run", "--log", "quiet", "--input", "socket"])
        .arg(&sock)
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        common::stderr(&o).contains("symbolic link"),
        "{}",
        common::stderr(&o)
    );
    assert_eq!(std::fs::read_to_string(&target).expect("target"), "keep");
    assert!(std::fs::symlink_metadata(&sock)
        .expect("link")
        .file_type()
        .is_symlink());
}
