//! `cargo xtask fuzz --minutes N [--target NAME] [--parallel]`: writes seed corpora generated
//! from the shared trace/rule generator (`testkit::traces`), then runs each cargo-fuzz target
//! in turn for N minutes (one process each; the machine is shared). Needs the nightly
//! toolchain and cargo-fuzz.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use sysflow_model::avro::datum::encode_datum;
use sysflow_model::avro::Codec;
use testkit::traces;

/// The engine's fuzz crate (its targets move with the crate); the others are in `fuzz/`.
const POLICY_FUZZ: &str = "sysflow-policy/fuzz";
/// The dictionary of policy conditions, shared by the engine's targets and sfql.
const POLICY_DICT: &str = "sysflow-policy/fuzz/dict/policy.dict";

/// A fuzz target: its name, its cargo-fuzz crate and its dictionary (paths from the root).
pub struct Target {
    pub name: &'static str,
    pub dir: &'static str,
    pub dict: Option<&'static str>,
}

/// Fuzz targets in run order.
pub const TARGETS: &[Target] = &[
    Target {
        name: "ocf_reader",
        dir: "fuzz",
        dict: None,
    },
    Target {
        name: "datum",
        dir: "fuzz",
        dict: None,
    },
    Target {
        name: "policy_expr",
        dir: POLICY_FUZZ,
        dict: Some(POLICY_DICT),
    },
    Target {
        name: "policy_load",
        dir: POLICY_FUZZ,
        dict: Some(POLICY_DICT),
    },
    Target {
        name: "pipeline_config",
        dir: "fuzz",
        dict: Some("fuzz/dict/pipeline.dict"),
    },
    Target {
        name: "sfql",
        dir: "fuzz",
        dict: Some(POLICY_DICT),
    },
];

fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// Writes the seed files of every target into `<its fuzz crate>/corpus/<target>/seed-*`.
pub fn write_seeds(root: &Path) -> Result<()> {
    let mut seeds: Vec<(&str, String, Vec<u8>)> = Vec::new();
    let recs = traces::records(14);
    for (codec, name) in [
        (Codec::Null, "null"),
        (Codec::Deflate, "deflate"),
        (Codec::Snappy, "snappy"),
    ] {
        seeds.push((
            "ocf_reader",
            format!("seed-{name}-one-block"),
            traces::trace(codec, &recs, usize::MAX),
        ));
        seeds.push((
            "ocf_reader",
            format!("seed-{name}-blocks"),
            traces::trace(codec, &recs, 5),
        ));
    }
    seeds.push((
        "ocf_reader",
        "seed-header-only".into(),
        traces::trace(Codec::Null, &[], 1),
    ));
    for (i, r) in recs.iter().enumerate() {
        let mut b = Vec::new();
        encode_datum(r, &mut b);
        seeds.push(("datum", format!("seed-{i:02}"), b));
    }
    for (i, c) in traces::conditions().iter().enumerate() {
        seeds.push(("policy_expr", format!("seed-{i:02}"), c.as_bytes().to_vec()));
    }
    for (name, text) in traces::policies() {
        seeds.push(("policy_load", format!("seed-{name}"), text.into_bytes()));
    }
    seeds.push(("policy_load", "seed-sigma.yml".into(), SIGMA_SEED.into()));
    // sfql: the expression, then (after a NUL) an optional definitions file.
    for (i, q) in traces::sfql_queries().iter().enumerate() {
        seeds.push(("sfql", format!("seed-{i:02}"), q.as_bytes().to_vec()));
    }
    for (name, text) in traces::policies() {
        let mut b = b"sf.proc.exe in (shells) or proc.name = bash\0".to_vec();
        b.extend_from_slice(text.as_bytes());
        seeds.push(("sfql", format!("seed-defs-{name}"), b));
    }
    for (i, p) in traces::pipelines().iter().enumerate() {
        seeds.push((
            "pipeline_config",
            format!("seed-{i:02}.json"),
            p.as_bytes().to_vec(),
        ));
    }
    for (name_of_target, name, bytes) in seeds {
        let Some(t) = target(name_of_target) else {
            bail!("seed for unknown fuzz target {name_of_target}");
        };
        let dir = root.join(t.dir).join("corpus").join(t.name);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let p = dir.join(name);
        std::fs::write(&p, bytes).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

/// Runs every target (or `only`) for `minutes` each: one after the other, or with
/// `parallel` all at once under `nice 19` (so they take only the CPU nothing else wants),
/// each writing to `fuzz/logs/<target>.log`.
pub fn run(root: &Path, minutes: f64, only: Option<&str>, parallel: bool) -> Result<()> {
    write_seeds(root)?;
    let targets: Vec<&Target> = TARGETS
        .iter()
        .filter(|t| only.is_none_or(|o| o == t.name))
        .collect();
    if targets.is_empty() {
        bail!(
            "unknown fuzz target {:?} (targets: {})",
            only.unwrap_or_default(),
            TARGETS
                .iter()
                .map(|t| t.name)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let secs = (minutes * 60.0).round().max(1.0) as u64;
    let mut failed = Vec::new();
    if parallel {
        // Build once first: concurrent `cargo fuzz run`s would fight over the build lock
        // and the first one's timer would include everyone's compile.
        let mut dirs: Vec<&str> = targets.iter().map(|t| t.dir).collect();
        dirs.dedup();
        for d in dirs {
            let status = Command::new("cargo")
                .current_dir(root.join(d))
                .env_remove("RUSTUP_TOOLCHAIN")
                .env_remove("CARGO_TARGET_DIR")
                .args(["+nightly", "fuzz", "build"])
                .status()
                .context(
                    "running cargo +nightly fuzz build (install it: cargo install cargo-fuzz)",
                )?;
            if !status.success() {
                bail!("cargo fuzz build failed in {d}");
            }
        }
        let mut children = Vec::new();
        for t in &targets {
            let logs = root.join(t.dir).join("logs");
            std::fs::create_dir_all(&logs)
                .with_context(|| format!("creating {}", logs.display()))?;
            let target = t.name;
            let log_path = logs.join(format!("{target}.log"));
            let log = std::fs::File::create(&log_path)
                .with_context(|| format!("creating {}", log_path.display()))?;
            let mut cmd = Command::new("nice");
            cmd.args(["-n", "19", "cargo"]);
            fuzz_args(&mut cmd, root, t, secs);
            cmd.stdout(log.try_clone()?).stderr(log);
            println!(
                "== fuzz {target} for {secs} s, log in {}",
                log_path.display()
            );
            children.push((target, cmd.spawn().context("spawning nice cargo fuzz")?));
        }
        for (target, mut child) in children {
            if !child.wait().context("waiting for cargo fuzz")?.success() {
                failed.push(target);
            }
        }
    } else {
        for t in targets {
            let target = t.name;
            println!("== fuzz {target} for {secs} s");
            let mut cmd = Command::new("cargo");
            fuzz_args(&mut cmd, root, t, secs);
            let status = cmd
                .status()
                .context("running cargo +nightly fuzz (install it: cargo install cargo-fuzz)")?;
            if !status.success() {
                failed.push(target);
            }
        }
    }
    if !failed.is_empty() {
        bail!(
            "fuzz targets failed: {} (crash inputs in <fuzz crate>/artifacts/)",
            failed.join(", ")
        );
    }
    println!("all fuzz targets ran clean for {secs} s each");
    Ok(())
}

/// The `cargo +nightly fuzz run` arguments of one target.
fn fuzz_args(cmd: &mut Command, root: &Path, t: &Target, secs: u64) {
    let target = t.name;
    cmd.current_dir(root.join(t.dir))
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO_TARGET_DIR")
        .args(["+nightly", "fuzz", "run", target])
        .arg(format!("corpus/{target}"))
        .args([
            "--",
            &format!("-max_total_time={secs}"),
            // A hang is anything over 10 s on one input; memory beyond 1 GiB is a bug
            // (one block is capped at 64 MiB).
            "-timeout=10",
            "-rss_limit_mb=1024",
            "-max_len=65536",
            "-print_final_stats=1",
        ]);
    if let Some(d) = t.dict {
        cmd.arg(format!("-dict={}", root.join(d).display()));
    }
}

/// A Sigma rule file for `policy_load` (the loader reads a mapping with Sigma's keys as Sigma):
/// a collection, modifiers, keywords, a meta filter.
const SIGMA_SEED: &str = "action: global
logsource:
    category: process_creation
    product: linux
---
title: Decode
id: 11111111-2222-4333-8444-555555555555
level: high
tags: [attack.t1140]
detection:
    selection_img:
        Image|endswith: /base64
    selection_cli:
        CommandLine|contains|all: ['-d', ' -i']
        CommandLine|base64offset|contains: 'bash -i'
    keywords:
        - 'x*y?z'
    filter:
        User: null
        ProcessId|gte: 2
        Image|fieldref: ParentImage
    condition: 1 of selection_* and not (filter or keywords)
---
title: Not root
filter:
    rules: any
    selection:
        User|cased|windash: -root
    condition: not selection
";
