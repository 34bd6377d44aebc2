//! Developer tasks. `cargo xtask build-ebpf [--release]` builds the probe object with nightly
//! and bpf-linker and copies it to `target/sensor-ebpf/sensor-probes.o`, where the sensor's
//! build script picks it up. `cargo xtask fuzz --minutes N [--target NAME] [--parallel]` runs the fuzz
//! targets (see `fuzz.rs`). `cargo xtask soak [--records N] [--rate R]` runs the soak test at
//! full size in release (see `soak.rs`).

use std::{path::PathBuf, process::Command};

use anyhow::{bail, Context, Result};

mod fuzz;
mod soak;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn build_ebpf(release: bool) -> Result<()> {
    let dir = root().join("sensor-ebpf");
    let mut cmd = Command::new("cargo");
    cmd.current_dir(&dir)
        // The probe crate pins its own toolchain (rust-toolchain.toml); do not let the
        // workspace's stable toolchain leak in through the environment.
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTC")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CARGO_TARGET_DIR")
        .args([
            "+nightly",
            "build",
            "-Z",
            "build-std=core",
            "--target",
            "bpfel-unknown-none",
        ]);
    if release {
        cmd.arg("--release");
    }
    let status = cmd
        .status()
        .context("running cargo +nightly (is rustup installed?)")?;
    if !status.success() {
        bail!(
            "building sensor-ebpf failed; it needs `rustup component add rust-src --toolchain nightly` \
             and `cargo install bpf-linker` (see docs/ebpf.md)"
        );
    }
    let profile = if release { "release" } else { "debug" };
    let obj = dir
        .join("target/bpfel-unknown-none")
        .join(profile)
        .join("sensor-probes");
    let out_dir = root().join("target/sensor-ebpf");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let out = out_dir.join("sensor-probes.o");
    std::fs::copy(&obj, &out)
        .with_context(|| format!("copying {} to {}", obj.display(), out.display()))?;
    println!("probe object: {}", out.display());
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("build-ebpf") => {
            let release = args[1..].iter().any(|a| a == "--release");
            if let Some(bad) = args[1..].iter().find(|a| *a != "--release") {
                bail!("build-ebpf: unknown argument {bad:?} (only --release)");
            }
            build_ebpf(release)
        }
        Some("fuzz") => {
            let mut minutes = 5.0;
            let mut target = None;
            let mut parallel = false;
            let mut it = args[1..].iter();
            while let Some(a) = it.next() {
                match a.as_str() {
                    "--minutes" => {
                        minutes = it
                            .next()
                            .and_then(|m| m.parse::<f64>().ok())
                            .filter(|m| *m > 0.0)
                            .context("--minutes needs a positive number")?;
                    }
                    "--target" => target = Some(it.next().context("--target needs a name")?),
                    "--parallel" => parallel = true,
                    bad => bail!(
                        "fuzz: unknown argument {bad:?} (--minutes N, --target NAME, --parallel)"
                    ),
                }
            }
            fuzz::run(&root(), minutes, target.map(String::as_str), parallel)
        }
        Some("soak") => {
            let mut records = 10_000_000u64;
            let mut rate = 50_000u64;
            let mut it = args[1..].iter();
            while let Some(a) = it.next() {
                let mut num = |what: &str| {
                    it.next()
                        .and_then(|v| v.replace('_', "").parse::<u64>().ok())
                        .with_context(|| format!("{what} needs a whole number"))
                };
                match a.as_str() {
                    "--records" => records = num("--records")?.max(1),
                    "--rate" => rate = num("--rate")?,
                    bad => bail!("soak: unknown argument {bad:?} (--records N, --rate R)"),
                }
            }
            soak::run(&root(), records, rate)
        }
        _ => {
            bail!(
                "usage: cargo xtask build-ebpf [--release] | fuzz [--minutes N] [--target NAME] [--parallel] \
                 | soak [--records N] [--rate LINES_PER_S]"
            )
        }
    }
}
