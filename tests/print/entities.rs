//! `-o json` of a stream in which the entities change between records (exec, setuid, the
//! parent's exec, container and pod updates, a new header reusing the OIDs): every record
//! shows its entities as they are then, whatever the number of encoding threads (whose
//! fragment caches have served the old ones), and the bytes are the real sysprint's.

use std::ffi::OsStr;

use testkit::entities;
use testkit::print::*;

use super::ours;

#[test]
fn entity_changes_show_in_the_next_record() {
    let tmp = temp_dir("entities");
    let trace = tmp.join("changes.sf");
    let bytes = testkit::traces::trace(
        sysflow_model::avro::Codec::Deflate,
        &entities::stream(),
        1000,
    );
    std::fs::write(&trace, bytes).unwrap();
    let print = |threads: &str| {
        let o = run(
            &ours(),
            &[
                OsStr::new("-o"),
                OsStr::new("json"),
                OsStr::new("--threads"),
                OsStr::new(threads),
                trace.as_os_str(),
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    let out = print("2");
    assert!(out == print("1"), "one thread and two differ");
    let docs = json_lines(&out);
    let expected = entities::expected();
    let flows: Vec<_> = docs.iter().filter(|d| d["type"] == "FF").collect();
    assert_eq!(flows.len(), expected.len());
    for (d, e) in flows.iter().zip(&expected) {
        let fd = e.fd;
        assert_eq!(d["file"]["fd"], fd, "flow order");
        assert_eq!(d["node"]["id"], e.node, "fd {fd}");
        match e.proc {
            Some((exe, uid)) => {
                assert_eq!(d["proc"]["pid"], e.pid, "fd {fd}");
                assert_eq!(d["proc"]["exe"], exe, "fd {fd}");
                assert_eq!(d["proc"]["uid"], uid, "fd {fd}");
                let user = if uid == 0 { "root" } else { "alice" };
                assert_eq!(d["proc"]["user"], user, "fd {fd}");
            }
            // sysprint's rendering of a record without its process (no pid either: sysprint
            // reads it from the process).
            None => {
                assert!(d["proc"]["pid"].is_null(), "fd {fd}");
                assert_eq!(d["proc"]["exe"], "", "fd {fd}");
                assert!(d["proc"]["uid"].is_null(), "fd {fd}");
            }
        }
        assert_eq!(d["pproc"]["exe"], e.parent.unwrap_or(""), "fd {fd}");
        assert_eq!(d["container"]["name"], e.container.unwrap_or(""), "fd {fd}");
        match e.pod_restarts {
            Some(n) => assert_eq!(d["pod"]["rstrtcnt"], n, "fd {fd}"),
            None => assert!(d["pod"]["rstrtcnt"].is_null(), "fd {fd}"),
        }
    }
    // And the bytes are the real sysprint's.
    if let Some(real) = testkit::sysprint_or_skip() {
        let theirs = run(
            &real,
            &[OsStr::new("-o"), OsStr::new("json"), trace.as_os_str()],
        );
        assert!(theirs.status.success());
        assert!(theirs.stdout == out, "bytes differ from sysprint's");
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
