//! `cargo xtask man` and `cargo xtask completions`: the `sensor` man pages (one per
//! subcommand, `sensor.1`, `sensor-run.1`, …) and shell completion scripts, generated from
//! the clap definitions (`sensor::cli::Cli`), so they cannot drift from `--help`.

use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;

/// The shells completions are written for.
pub const SHELLS: [Shell; 5] = [
    Shell::Bash,
    Shell::Zsh,
    Shell::Fish,
    Shell::Elvish,
    Shell::PowerShell,
];

/// Writes `sensor.1` and a page per subcommand into `out`; returns the files written.
pub fn man(out: &Path) -> Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    clap_mangen::generate_to(sensor::cli::Cli::command(), out)
        .with_context(|| format!("writing man pages into {}", out.display()))?;
    let mut pages: Vec<_> = std::fs::read_dir(out)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "1"))
        .collect();
    pages.sort();
    Ok(pages)
}

/// Writes a completion script for each of [`SHELLS`] into `out`; returns the files written.
pub fn completions(out: &Path) -> Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut cmd = sensor::cli::Cli::command();
    SHELLS
        .iter()
        .map(|&shell| {
            clap_complete::generate_to(shell, &mut cmd, "sensor", out)
                .with_context(|| format!("writing {shell} completions into {}", out.display()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn man_pages_cover_every_subcommand_and_the_environment() {
        let tmp = testkit_tmp("man");
        let pages = man(&tmp).unwrap();
        let names: Vec<String> = pages
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        for want in [
            "sensor.1",
            "sensor-run.1",
            "sensor-print.1",
            "sensor-record.1",
            "sensor-policy.1",
            "sensor-healthcheck.1",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
        }
        let run = std::fs::read_to_string(tmp.join("sensor-run.1")).unwrap();
        for text in ["\\-\\-metrics", "SENSOR_METRICS", "RUST_LOG", "78"] {
            assert!(run.contains(text), "sensor-run.1 lacks {text}");
        }
        // groff finds no undefined macro in it, when it is installed.
        if let Ok(o) = Command::new("groff")
            .args(["-man", "-Tutf8", "-Wall", "-wmac", "-z"])
            .arg(tmp.join("sensor-run.1"))
            .output()
        {
            assert!(
                o.status.success() && o.stderr.is_empty(),
                "{}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        let _ = std::fs::remove_dir_all(&tmp);
    }

    #[test]
    fn completion_scripts_parse_in_their_shell() {
        let tmp = testkit_tmp("completions");
        let files = completions(&tmp).unwrap();
        assert_eq!(files.len(), SHELLS.len());
        let bash = std::fs::read_to_string(tmp.join("sensor.bash")).unwrap();
        for word in [
            "run",
            "print",
            "record",
            "healthcheck",
            "--metrics",
            "--log-format",
        ] {
            assert!(bash.contains(word), "bash completions lack {word}");
        }
        // `bash -n` parses the script without running it.
        let o = Command::new("bash")
            .arg("-n")
            .arg(tmp.join("sensor.bash"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let _ = std::fs::remove_dir_all(&tmp);
    }

    fn testkit_tmp(what: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("xtask-{what}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }
}
