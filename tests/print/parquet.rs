//! `sensor print -o parquet|arrow -w FILE`: the file read back with pyarrow and pandas
//! matches the flatjson output in every column of every record (tests/parquet_check.py
//! holds the comparison rules), row groups bound memory, and `-c` selects columns.

use std::path::{Path, PathBuf};
use std::process::Command;

use testkit::print::{run, temp_dir, traces};
use testkit::s3::{trace_bytes, TraceSpec};
use testkit::{analytics_tool, traces_dir};

use super::sensor;

/// The venv Python with pyarrow and pandas (`$ANALYTICS_PYTHON`, else `<repo>/.venv-analytics`), or
/// `None` after printing a SKIPPED line.
fn analytics_python() -> Option<PathBuf> {
    let py = std::env::var_os("ANALYTICS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| analytics_tool("python"));
    let ok = Command::new(&py)
        .args(["-c", "import pyarrow, pandas"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some(py)
    } else {
        println!(
            "SKIPPED: pyarrow/pandas not installed (pip install pyarrow pandas into <repo>/.venv-analytics)"
        );
        None
    }
}

fn check_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/parquet_check.py")
}

/// Exports `inputs` as flatjson and as `format`, then runs the Python comparison.
fn export_and_compare(
    py: &Path,
    dir: &Path,
    name: &str,
    format: &str,
    extra: &[&str],
    inputs: &[PathBuf],
    row_groups: Option<usize>,
) -> String {
    let export = dir.join(format!("{name}.{format}"));
    let jsonl = dir.join(format!("{name}.jsonl"));
    let mut args: Vec<&std::ffi::OsStr> =
        vec!["print".as_ref(), "-o".as_ref(), "flatjson".as_ref()];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    args.extend(inputs.iter().map(|p| p.as_os_str()));
    let json = run(&sensor(), &args);
    assert!(
        json.status.success(),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    std::fs::write(&jsonl, &json.stdout).expect("write jsonl");

    let mut args: Vec<&std::ffi::OsStr> = vec![
        "print".as_ref(),
        "-o".as_ref(),
        format.as_ref(),
        "-w".as_ref(),
        export.as_os_str(),
    ];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    args.extend(inputs.iter().map(|p| p.as_os_str()));
    let out = run(&sensor(), &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());

    let mut c = Command::new(py);
    c.arg(check_script()).arg(format).arg(&export).arg(&jsonl);
    if let Some(n) = row_groups {
        c.arg(n.to_string());
    }
    let chk = c.output().expect("run parquet_check.py");
    let text = String::from_utf8_lossy(&chk.stdout).into_owned();
    assert!(
        chk.status.success(),
        "{name} ({format}): {}{}",
        text,
        String::from_utf8_lossy(&chk.stderr)
    );
    text
}

#[test]
fn every_column_of_every_shared_trace_matches_json() {
    let Some(dir) = traces_dir() else { return };
    let Some(py) = analytics_python() else { return };
    let tmp = temp_dir("parquet-shared");
    let all = traces(&dir);
    assert!(!all.is_empty());
    for t in &all {
        let name = t.file_stem().unwrap().to_string_lossy().into_owned();
        for format in ["parquet", "arrow"] {
            let out =
                export_and_compare(&py, &tmp, &name, format, &[], std::slice::from_ref(t), None);
            assert!(
                out.starts_with("OK ") && out.contains(" 75 columns"),
                "{out}"
            );
        }
    }
    // All traces into one file.
    let out = export_and_compare(&py, &tmp, "all", "parquet", &[], &all, None);
    assert!(out.starts_with("OK "), "{out}");
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn large_trace_is_written_in_row_groups_with_selected_columns() {
    let Some(py) = analytics_python() else { return };
    let tmp = temp_dir("parquet-large");
    // 150,000 events + 1 file flow: three row groups of at most 65,536 rows.
    let trace = tmp.join("large.sf");
    std::fs::write(
        &trace,
        trace_bytes(&TraceSpec {
            exporter: "large",
            pid: 7,
            events: 150_000,
        }),
    )
    .unwrap();
    let cols =
        "ts,type,opflags,opflags_bitmap,proc.pid,proc.exe,proc.name,file.path,flow.wbytes,proc.tty,proc.env";
    let out = export_and_compare(
        &py,
        &tmp,
        "large",
        "parquet",
        &["-c", cols],
        &[trace],
        Some(3),
    );
    assert_eq!(out.trim(), "OK 150001 rows 11 columns");
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn columnar_output_needs_a_file() {
    for format in ["parquet", "arrow"] {
        let out = run(
            &sensor(),
            &[
                "print".as_ref(),
                "-o".as_ref(),
                format.as_ref(),
                "x.sf".as_ref(),
            ],
        );
        assert_eq!(out.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("Output file path is required for Parquet and Arrow output (-w FILE)"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
