//! Reliability: corrupted and truncated traces (in-process and through `sensor print`), hostile
//! socket clients, exposure of the daemon's files and socket, a full disk, a soak under a
//! slow exporter, and a syslog server that goes away (backlog limits, the disk buffer). One module per topic; helpers in `testkit::reliability` and generated traces
//! in `testkit::traces`.
//!
//! The tests of a binary run in parallel threads of one process. Here that matters twice:
//! the soak is timed, so it holds `testkit::isolate::exclusive()` and every other test holds
//! `testkit::isolate::shared()`; and `corruption_print` measures its children's peak RSS,
//! which starts from this process's, so it runs in a fresh process of this binary
//! (`testkit::isolate::in_child`). `corruption` installs a counting global allocator for the
//! whole binary; it counts per thread, so the other tests are not measured by it.

use std::process::Command;

mod corruption;
mod corruption_print;
mod disk_full;
mod outage;
mod privilege;
mod soak;
mod socket;

/// The sensor binary under test.
fn sensor() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sensor"))
}
