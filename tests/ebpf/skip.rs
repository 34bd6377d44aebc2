//! What an eBPF test does when the sensor could not start its probes: skip when this machine
//! cannot run them (probes not built, no privilege, no kernel BTF), fail on anything else.
//! A verifier rejection or a failed attach is a bug in the probes and must not pass for a
//! skip.

/// Prints `SKIPPED: ...` for an environment limit; panics with the sensor's log otherwise.
pub fn start_failed(name: &str, log: &str) {
    if log.contains("built without the eBPF probes") {
        eprintln!("SKIPPED: {name}: probes not built (run `cargo xtask build-ebpf --release`)");
    } else if log.contains("Operation not permitted") || log.contains("cannot read kernel BTF") {
        eprintln!("SKIPPED: {name}: BPF not permitted here: {log}");
    } else {
        panic!("{name}: the sensor could not load or attach its probes:\n{log}");
    }
}
