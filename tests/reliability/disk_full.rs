//! Disk full under the file exporter (a 256 KiB tmpfs): a clear error naming the cause, the
//! file never ends in a half line (every line is a whole JSON document), no crash.
//! Needs root for `mount`; otherwise SKIPPED with a message.

use std::process::Command;

use sysflow_model::avro::Codec;
use testkit::run::stderr;
use testkit::traces;

use super::sensor;

struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn disk_full_gives_a_clear_error_and_whole_lines() {
    let _cpus = testkit::isolate::shared();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mnt = tmp.path().join("small");
    std::fs::create_dir_all(&mnt).expect("mkdir");
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(&mnt)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        println!("SKIPPED: cannot mount a tmpfs (needs root)");
        return;
    }
    let _m = Mount(mnt.clone());

    // ~3000 events: several MB of JSON, far over the 256 KiB of the file system.
    let trace = tmp.path().join("t.sf");
    std::fs::write(
        &trace,
        traces::trace(Codec::Deflate, &traces::records(3000), 500),
    )
    .expect("trace");
    let out = mnt.join("out.json");
    let cfg = tmp.path().join("p.json");
    std::fs::write(
        &cfg,
        format!(
            r#"{{"pipeline":[
  {{"processor":"sysflowreader","handler":"flattener","in":"sysflow sysflowchan","out":"flat flattenerchan"}},
  {{"processor":"policyengine","in":"flat flattenerchan","out":"evt eventchan","mode":"enrich"}},
  {{"processor":"exporter","in":"evt eventchan","export":"file","file.path":"{}"}}]}}"#,
            out.display()
        ),
    )
    .expect("config");
    let o = sensor()
        .args(["run", "--log", "info", "--config"])
        .arg(&cfg)
        .arg(&trace)
        .output()
        .expect("run sensor");
    let err = stderr(&o);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "crashed: {:?}\n{err}",
        o.status
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("No space left on device"),
        "no clear error:\n{err}"
    );
    assert!(err.contains("records dropped"), "{err}");
    assert!(err.contains("export_errors="), "not counted:\n{err}");

    let text = std::fs::read(&out).expect("output file");
    assert!(!text.is_empty(), "nothing written before the disk filled");
    assert_eq!(text.last(), Some(&b'\n'), "the file ends in a half line");
    for (i, l) in text
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        assert!(
            serde_json::from_slice::<serde_json::Value>(l).is_ok(),
            "line {} is not a whole JSON document: {}",
            i + 1,
            String::from_utf8_lossy(&l[..l.len().min(200)])
        );
    }
}
