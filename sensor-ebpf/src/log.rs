//! Debug logs of the probes (aya-log-ebpf), printed by the sensor through `tracing` with
//! `sensor record --probe-log` (docs/ebpf.md, "Probe debug logs").
//!
//! Free when off: user space always writes the frozen `.rodata` global `AYA_LOG_LEVEL` before
//! loading (0 unless asked), so the verifier knows every call's level check is false and
//! removes the call. Left at the crate's default (0xff, every level on), each call would
//! build a record and write it to the `AYA_LOGS` ring whether or not anyone reads it.
//!
//! Ops are logged by number (`sensor_ebpf_common::Op`) and errors as positive errno values:
//! a record's text is formatted in user space from plain values.

use aya_log_ebpf::debug;
use sensor_ebpf_common::Op;

/// An event of `op` of thread `pid_tgid` was lost: its ring was full (counted in `DROPS`).
#[inline(always)]
pub fn ring_full(op: Op, pid_tgid: u64) {
    // aya-log-ebpf 0.2 does not use its context argument (records go to the AYA_LOGS ring),
    // so the handlers that have none pass a unit.
    debug!(
        &(),
        "ring full: event of op {} lost (pid {} tid {})",
        op as u16,
        (pid_tgid >> 32) as u32,
        pid_tgid as u32
    );
}

/// The syscall of `op` of thread `pid_tgid` failed with `ret` (-errno) and is not reported
/// (a kernel-side filter: a failed open makes no flow).
#[inline(always)]
pub fn failed(op: Op, pid_tgid: u64, ret: i64) {
    debug!(
        &(),
        "op {} failed with errno {}, not reported (pid {} tid {})",
        op as u16,
        -ret,
        (pid_tgid >> 32) as u32,
        pid_tgid as u32
    );
}

/// Descriptor `fd` of an I/O `op` of thread `pid_tgid` did not lead to an open file (closed,
/// out of range, or the descriptor table could not be read), so nothing is reported.
#[inline(always)]
pub fn no_file(op: Op, pid_tgid: u64, fd: i64, ret: i64) {
    debug!(
        &(),
        "op {} on fd {}: no open file (ret {}), not reported (pid {} tid {})",
        op as u16,
        fd,
        ret,
        (pid_tgid >> 32) as u32,
        pid_tgid as u32
    );
}
