//! Command-line compatibility with sf-processor: its single-dash long options (`-config x`,
//! `-log=info`, …) are rewritten to clap's `--` form before parsing; options we have no
//! equivalent for fail with a clear message.

use std::ffi::OsString;

/// Single-dash spellings of the original and what they become.
const RENAMES: &[(&str, &str)] = &[
    ("config", "--config"),
    ("input", "--input"),
    ("driver", "--input"),
    ("log", "--log"),
    ("version", "--version"),
    ("test", "--check"),
    ("plugdir", "--plugdir"),
    ("driverdir", "--driverdir"),
    ("cpuprofile", "--cpuprofile"),
    ("memprofile", "--memprofile"),
    ("traceprofile", "--traceprofile"),
    ("perflog", "--perflog"),
];

/// Rewrites `-name` / `-name=value` of the original's options after the `run` subcommand.
pub fn rewrite(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut in_run = false;
    let mut done = false;
    for a in args {
        let Some(s) = a.to_str() else {
            out.push(a);
            continue;
        };
        if !in_run && !done && s == "run" && out.len() == 1 {
            in_run = true;
            out.push(a);
            continue;
        }
        if in_run && !done {
            if s == "--" {
                done = true;
            } else if let Some(rest) = s.strip_prefix('-').filter(|r| !r.starts_with('-')) {
                let (name, value) = match rest.split_once('=') {
                    Some((n, v)) => (n, Some(v)),
                    None => (rest, None),
                };
                if let Some((_, long)) = RENAMES.iter().find(|(n, _)| *n == name) {
                    out.push(match value {
                        Some(v) => format!("{long}={v}").into(),
                        None => (*long).into(),
                    });
                    continue;
                }
            }
        }
        out.push(a);
    }
    out
}

/// Refuses the original's options that have no equivalent here.
pub fn check_unsupported(a: &super::RunArgs) -> anyhow::Result<()> {
    if a.plugdir.is_some() || a.driverdir.is_some() {
        anyhow::bail!(
            "-plugdir/-driverdir: dynamic plugin and driver libraries are not supported; every plugin is built in"
        );
    }
    if a.cpuprofile.is_some() || a.memprofile.is_some() || a.traceprofile.is_some() {
        anyhow::bail!(
            "-cpuprofile/-memprofile/-traceprofile: Go profiles are not available; profile with `perf record` instead"
        );
    }
    if a.perflog {
        anyhow::bail!(
            "-perflog: not available; the stage counters are logged at exit and on SIGUSR1"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw(v: &[&str]) -> Vec<String> {
        rewrite(v.iter().map(OsString::from))
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect()
    }

    #[test]
    fn single_dash_options_become_long() {
        assert_eq!(
            rw(&[
                "sensor",
                "run",
                "-config",
                "p.json",
                "-log=error",
                "-driver",
                "file",
                "x.sf"
            ]),
            [
                "sensor",
                "run",
                "--config",
                "p.json",
                "--log=error",
                "--input",
                "file",
                "x.sf"
            ]
        );
        assert_eq!(
            rw(&["sensor", "run", "-test"]),
            ["sensor", "run", "--check"]
        );
        // Short flags, other subcommands and anything after `--` are left alone.
        assert_eq!(
            rw(&["sensor", "print", "-config"]),
            ["sensor", "print", "-config"]
        );
        assert_eq!(
            rw(&["sensor", "run", "--", "-log"]),
            ["sensor", "run", "--", "-log"]
        );
    }
}
