//! Capabilities dropped once the probes are attached.
//!
//! Loading and attaching the probes needs root (CAP_BPF, CAP_PERFMON, often CAP_SYS_ADMIN).
//! Afterwards the collector only reads the ring buffer (an mmap'd fd and `poll`, no
//! capability), reads the drop counters (`BPF_MAP_LOOKUP_ELEM` on a map fd it already holds)
//! and reads `/proc/<pid>/…` of processes it did not see start. [`drop_after_attach`] keeps
//! only what that needs ([`NEEDED`], plus CAP_BPF when the running kernel turns out to refuse
//! map reads without it), empties the inheritable and ambient sets, removes everything else
//! from the bounding set and sets `PR_SET_NO_NEW_PRIVS`.
//!
//! Capabilities are per thread and a new thread starts with its creator's: this must run on
//! the main thread before any other thread is spawned (both callers do so). A refused drop is
//! logged as a warning, never an error: the sensor keeps running with what it has.
//!
//! The user id stays 0: files the sensor writes later (exporter outputs, rotated traces) are
//! still created as root, but only where plain file modes let root write (no
//! CAP_DAC_OVERRIDE).

use caps::{CapSet, Capability, CapsHashSet};

/// What the sensor still needs after the attach, and why (also logged at debug level).
pub const NEEDED: &[(Capability, &str)] = &[
    (
        Capability::CAP_SYS_PTRACE,
        "readlink of /proc/<pid>/exe, cwd and fd/N (descriptors opened before the sensor) needs \
         ptrace-read access to processes of other users and to processes holding capabilities \
         the sensor no longer has",
    ),
    (
        Capability::CAP_DAC_READ_SEARCH,
        "/proc/<pid>/fd is mode 0500 owned by the process's user; policy files are re-read on \
         SIGHUP whatever their mode",
    ),
];

/// What [`drop_after_attach`] left in place.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Capabilities still permitted and effective.
    pub kept: Vec<Capability>,
    /// The capability kept because this kernel refuses map reads without it.
    pub kept_for_maps: Option<Capability>,
    /// What could not be dropped, and why (each also logged as a warning).
    pub not_dropped: Vec<String>,
}

/// Sorted, comma-separated capability names (`none` for an empty set).
pub fn names<'a>(caps: impl IntoIterator<Item = &'a Capability>) -> String {
    let mut v: Vec<Capability> = caps.into_iter().copied().collect();
    v.sort_by_key(|c| c.index());
    if v.is_empty() {
        return "none".into();
    }
    v.iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn sorted(set: &CapsHashSet) -> Vec<Capability> {
    let mut v: Vec<Capability> = set.iter().copied().collect();
    v.sort_by_key(|c| c.index());
    v
}

/// Runs `map_readable` with only `keep` effective, then restores `effective`.
fn lookup_works_with(
    keep: &CapsHashSet,
    effective: &CapsHashSet,
    map_readable: &dyn Fn() -> bool,
) -> bool {
    if caps::set(None, CapSet::Effective, keep).is_err() {
        // Cannot even try: assume the map needs what we have.
        return false;
    }
    let ok = map_readable();
    if let Err(e) = caps::set(None, CapSet::Effective, effective) {
        tracing::warn!(error = %e, "cannot restore the effective capabilities");
    }
    ok
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(1)
}

/// Reduces this thread's capabilities to what the collector still needs after the attach
/// (see the module doc). `map_readable` reads a probe map and says whether that worked; it
/// is called with reduced effective capabilities to learn whether the kernel still allows
/// map reads without CAP_BPF. With `keep_all` (`--keep-caps`) nothing is changed.
pub fn drop_after_attach(keep_all: bool, map_readable: &dyn Fn() -> bool) -> Outcome {
    if keep_all {
        tracing::info!("--keep-caps: capabilities left as they are");
        return Outcome {
            kept: caps::read(None, CapSet::Effective)
                .map(|s| sorted(&s))
                .unwrap_or_default(),
            ..Default::default()
        };
    }
    let n = threads();
    if n > 1 {
        tracing::warn!(
            threads = n,
            "threads already run: only the calling thread's capabilities are reduced"
        );
    }
    let mut out = Outcome::default();
    let permitted = caps::read(None, CapSet::Permitted).unwrap_or_default();
    let effective = caps::read(None, CapSet::Effective).unwrap_or_default();
    let mut keep: CapsHashSet = NEEDED
        .iter()
        .map(|(c, _)| *c)
        .filter(|c| permitted.contains(c))
        .collect();

    // Kernels before 6.5 checked kernel.unprivileged_bpf_disabled (and then CAP_BPF or
    // CAP_SYS_ADMIN) on every bpf() command, including lookups on a map fd already held;
    // later ones check only when creating maps and loading programs. Tried for real here.
    let map_cap = [Capability::CAP_BPF, Capability::CAP_SYS_ADMIN]
        .into_iter()
        .find(|c| permitted.contains(c));
    if let Some(cap) = map_cap {
        if !lookup_works_with(&keep, &effective, map_readable) {
            keep.insert(cap);
            out.kept_for_maps = Some(cap);
            let sysctl = std::fs::read_to_string("/proc/sys/kernel/unprivileged_bpf_disabled")
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "?".into());
            tracing::info!(
                unprivileged_bpf_disabled = %sysctl,
                "this kernel refuses map reads without {cap}: {cap} kept for the drop counters"
            );
            if !lookup_works_with(&keep, &effective, map_readable) {
                tracing::warn!("the drop counters cannot be read even with {cap}");
            }
        }
    }

    // The bounding set first: dropping from it needs CAP_SETPCAP in the effective set.
    let bounding = caps::read(None, CapSet::Bounding).unwrap_or_default();
    let extra: Vec<Capability> = sorted(&bounding)
        .into_iter()
        .filter(|c| !keep.contains(c))
        .collect();
    if effective.contains(&Capability::CAP_SETPCAP) {
        for c in extra {
            if let Err(e) = caps::drop(None, CapSet::Bounding, c) {
                out.not_dropped
                    .push(format!("{c} from the bounding set ({e})"));
            }
        }
    } else if !extra.is_empty() {
        out.not_dropped.push(format!(
            "{} from the bounding set (needs CAP_SETPCAP)",
            names(&extra)
        ));
    }
    if let Err(e) = caps::clear(None, CapSet::Ambient) {
        out.not_dropped.push(format!("the ambient set ({e})"));
    }
    // The sensor executes nothing, so nothing is inheritable.
    let sets = [
        (CapSet::Inheritable, CapsHashSet::new()),
        (CapSet::Effective, keep.clone()),
        (CapSet::Permitted, keep.clone()),
    ];
    for (set, value) in &sets {
        if let Err(e) = caps::set(None, *set, value) {
            out.not_dropped.push(format!("the {set:?} set ({e})"));
        }
    }
    // SAFETY: prctl with PR_SET_NO_NEW_PRIVS takes plain integers.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        out.not_dropped.push(format!(
            "no_new_privs ({})",
            std::io::Error::last_os_error()
        ));
    }

    out.kept = caps::read(None, CapSet::Effective)
        .map(|s| sorted(&s))
        .unwrap_or_else(|_| sorted(&keep));
    for w in &out.not_dropped {
        tracing::warn!("could not drop {w}");
    }
    for (c, why) in NEEDED.iter().filter(|(c, _)| keep.contains(c)) {
        tracing::debug!("{c} kept: {why}");
    }
    tracing::info!(
        kept = %names(&out.kept),
        "capabilities dropped after attach"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_line(key: &str) -> u64 {
        let s = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        let v = s
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("{key} missing"))
            .trim();
        u64::from_str_radix(v, 16).unwrap_or_else(|_| v.parse().unwrap())
    }

    fn mask(caps: &[Capability]) -> u64 {
        caps.iter().fold(0, |m, c| m | c.bitmask())
    }

    /// Capabilities are per thread: the drop is tried on a thread of its own, which leaves
    /// the test harness alone.
    fn on_own_thread(map_readable: bool) -> Option<(Outcome, [u64; 5])> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("SKIPPED: dropping capabilities needs root");
            return None;
        }
        std::thread::spawn(move || {
            let out = drop_after_attach(false, &|| map_readable);
            let st = [
                status_line("CapEff:"),
                status_line("CapPrm:"),
                status_line("CapBnd:"),
                status_line("CapAmb:"),
                status_line("NoNewPrivs:"),
            ];
            (out, st)
        })
        .join()
        .ok()
    }

    #[test]
    fn keeps_only_the_needed_set_when_maps_stay_readable() {
        let Some((out, [eff, prm, bnd, amb, nnp])) = on_own_thread(true) else {
            return;
        };
        let want = mask(&[Capability::CAP_DAC_READ_SEARCH, Capability::CAP_SYS_PTRACE]);
        assert_eq!(out.not_dropped, Vec::<String>::new());
        assert_eq!(out.kept_for_maps, None);
        assert_eq!((eff, prm, bnd, amb, nnp), (want, want, want, 0, 1));
    }

    #[test]
    fn keeps_cap_bpf_when_the_kernel_refuses_map_reads_without_it() {
        let Some((out, [eff, prm, bnd, _, _])) = on_own_thread(false) else {
            return;
        };
        let want = mask(&[
            Capability::CAP_DAC_READ_SEARCH,
            Capability::CAP_SYS_PTRACE,
            Capability::CAP_BPF,
        ]);
        assert_eq!(out.kept_for_maps, Some(Capability::CAP_BPF));
        assert_eq!((eff, prm, bnd), (want, want, want));
    }

    #[test]
    fn names_are_sorted_by_number() {
        assert_eq!(
            names(&[Capability::CAP_SYS_PTRACE, Capability::CAP_DAC_READ_SEARCH]),
            "CAP_DAC_READ_SEARCH,CAP_SYS_PTRACE"
        );
        assert_eq!(names(&[]), "none");
    }
}
