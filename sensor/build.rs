//! Embeds the eBPF probe object when `cargo xtask build-ebpf` has produced it.
//!
//! Looks for `$SENSOR_PROBES_OBJ` or `<workspace>/target/sensor-ebpf/sensor-probes.o`; when
//! found, sets `cfg(sensor_probes)` and `SENSOR_PROBES_OBJ` for `include_bytes!`. Without it
//! the sensor builds fine and `--input ebpf`/`sensor record` explain how to build the probes.

use std::path::PathBuf;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(sensor_probes)");
    println!("cargo::rerun-if-env-changed=SENSOR_PROBES_OBJ");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let dir = manifest.join("../target/sensor-ebpf");
    // Watch the directory (created if absent) so a later `xtask build-ebpf` triggers a rebuild.
    let _ = std::fs::create_dir_all(&dir);
    println!("cargo::rerun-if-changed={}", dir.display());
    let obj = std::env::var_os("SENSOR_PROBES_OBJ")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("sensor-probes.o"));
    if obj.is_file() {
        println!("cargo::rerun-if-changed={}", obj.display());
        println!("cargo::rustc-cfg=sensor_probes");
        println!("cargo::rustc-env=SENSOR_PROBES_OBJ={}", obj.display());
    }
}
