//! `examples/trace-analytics.ipynb` executed end to end with nbconvert on a Parquet export of
//! three shared traces, so the notebook cannot rot: it must run and find the shellshock
//! process tree, the files the web servers wrote, the network peers and draw the timeline.

use std::path::Path;
use std::process::Command;

use testkit::print::{run, temp_dir};
use testkit::{analytics_tool, traces_dir};

use super::sensor;

#[test]
fn trace_analytics_notebook_runs_and_answers() {
    let Some(dir) = traces_dir() else { return };
    let jupyter = analytics_tool("jupyter");
    let deps_ok = Command::new(analytics_tool("python"))
        .args([
            "-c",
            "import nbconvert, ipykernel, pandas, pyarrow, matplotlib",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    if !jupyter.exists() || !deps_ok {
        println!("SKIPPED: jupyter nbconvert/ipykernel/pandas/pyarrow/matplotlib not installed in <repo>/.venv-analytics");
        return;
    }
    let tmp = temp_dir("notebook");
    let parquet = tmp.join("trace.parquet");
    let traces: Vec<_> = ["shellshock.sf", "nginx.sf", "httpd.sf"]
        .iter()
        .map(|t| dir.join(t))
        .collect();
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "print".as_ref(),
        "-o".as_ref(),
        "parquet".as_ref(),
        "-w".as_ref(),
        parquet.as_os_str(),
    ];
    args.extend(traces.iter().map(|p| p.as_os_str()));
    let out = run(&sensor(), &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let nb = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/trace-analytics.ipynb");
    let plot = tmp.join("timeline.png");
    let out = Command::new(&jupyter)
        .args(["nbconvert", "--to", "notebook", "--execute"])
        .arg("--ExecutePreprocessor.timeout=300")
        .arg(&nb)
        .arg("--output-dir")
        .arg(&tmp)
        .env("TRACE_PARQUET", &parquet)
        .env("TRACE_PLOT", &plot)
        .output()
        .expect("run jupyter nbconvert");
    assert!(
        out.status.success(),
        "notebook failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let executed =
        std::fs::read_to_string(tmp.join("trace-analytics.ipynb")).expect("executed notebook");
    for want in [
        // the exports's size
        "records, 75 columns",
        // shellshock: apache's CGI script ran bash, which ran cat /etc/passwd
        "12705 apache2 -> 16680 vulnerable -> 16681 cat",
        "/bin/bash -> /bin/cat /etc/passwd",
        // files written by web servers
        "/var/log/apache2/access.log",
        "/var/log/nginx/error.log",
        // network peers
        "172.17.0.2",
        // the timeline was drawn
        "image/png",
        "timeline of",
    ] {
        assert!(executed.contains(want), "executed notebook lacks {want:?}");
    }
    assert!(std::fs::metadata(&plot).is_ok_and(|m| m.len() > 10_000));
    let _ = std::fs::remove_dir_all(&tmp);
}
