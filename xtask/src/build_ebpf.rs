//! `cargo xtask build-ebpf [--release]`: builds the probe object with nightly and bpf-linker
//! and copies it to `target/sensor-ebpf/sensor-probes.o`, where the sensor's build script
//! picks it up (docs/ebpf.md).

use std::{path::Path, process::Command};

use anyhow::{bail, Context, Result};

/// Builds `sensor-ebpf` for `bpfel-unknown-none` (release or debug) and copies the object.
pub fn run(root: &Path, release: bool) -> Result<()> {
    let dir = root.join("sensor-ebpf");
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
    let out_dir = root.join("target/sensor-ebpf");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let out = out_dir.join("sensor-probes.o");
    std::fs::copy(&obj, &out)
        .with_context(|| format!("copying {} to {}", obj.display(), out.display()))?;
    println!("probe object: {}", out.display());
    Ok(())
}
