//! Loads and attaches the probes, drains the ring buffer into the [`Builder`], and keeps
//! the self-observation counters (events/s, drops per class).

use std::{
    os::fd::AsRawFd,
    time::{Duration, Instant},
};

use aya::{
    maps::{HashMap as BpfHashMap, MapData, PerCpuArray, RingBuf},
    programs::BtfTracePoint,
    Btf as AyaBtf, Ebpf, EbpfLoader,
};
use aya_log::EbpfLogger;
use sensor_ebpf_common::{
    classes, Op, COMM_LEN, CPUS_PER_RING, DROP_CLASSES, DROP_CLASS_NAMES, FILTER_CLASSES,
    MAX_RINGS, RING_SIZE,
};

use super::{
    btf::{Btf, Hierarchy},
    builder::{Builder, BuilderConfig},
    containers::{RuntimeConfig, Runtimes},
    filter::{comm_keys, CommError},
    object,
    procfs::{Clocks, Names},
    raw::{RawEvent, Scratch},
    reorder::{watermark, Reorder},
    stats::Summary,
};

/// Knobs of the collector (defaults in one place: [`Default`]).
#[derive(Debug, Clone)]
pub struct CollectorConfig {
    /// Record builder settings.
    pub builder: BuilderConfig,
    /// Size of each ring buffer in bytes: a power of two, at least one page (default 16 MiB).
    pub ring_size: u32,
    /// CPUs sharing one ring buffer (default 2, as Falco's `cpus_for_each_buffer`); raised
    /// when the host has more CPUs than `MAX_RINGS` rings of this many can cover.
    pub cpus_per_ring: u32,
    /// Process names (`task->comm`, at most 15 bytes, at most 64 names) whose descriptor I/O,
    /// opens, dups and directory-entry calls the probes skip in the kernel (default none).
    pub exclude_comms: Vec<String>,
    /// Syscall events reported besides the process life cycle (`sensor_ebpf_common::classes`
    /// bits; default all). With none, the `sys_exit` program is not attached: syscalls keep
    /// the kernel's fast path.
    pub events: u32,
    /// Print the probes' debug logs (aya-log) through `tracing`, target [`PROBE_LOG_TARGET`]
    /// at debug (default off; then the probes' log calls are removed at load and cost nothing).
    pub probe_log: bool,
    /// Where to ask container runtimes for names and images (default: Docker's and podman's
    /// sockets, containerd's and CRI-O's state directories).
    pub runtimes: RuntimeConfig,
}

/// `tracing` target of the probes' debug logs (their crate name, as aya-log reports it).
pub const PROBE_LOG_TARGET: &str = "sensor_probes";

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            builder: BuilderConfig::default(),
            ring_size: RING_SIZE,
            cpus_per_ring: CPUS_PER_RING,
            exclude_comms: Vec::new(),
            events: classes::ALL,
            probe_log: false,
            runtimes: RuntimeConfig::default(),
        }
    }
}

impl From<BuilderConfig> for CollectorConfig {
    fn from(builder: BuilderConfig) -> Self {
        CollectorConfig {
            builder,
            ..Default::default()
        }
    }
}

/// Why the collector could not start.
#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    #[error("{}", object::HOW_TO_BUILD)]
    NoProbes,
    #[error("cannot read kernel BTF (/sys/kernel/btf/vmlinux): {0}")]
    KernelBtf(String),
    #[error("kernel struct layout: {0}")]
    Offsets(#[from] super::btf::BtfError),
    #[error("loading the probes failed (root or CAP_BPF+CAP_PERFMON needed): {0}")]
    Load(#[source] aya::EbpfError),
    #[error("probe program `{0}`: {1}")]
    Program(String, #[source] aya::programs::ProgramError),
    #[error("map `{0}` missing or of the wrong type")]
    Map(&'static str),
    #[error("ring buffer size {0} must be a power of two of at least {1} bytes (the page size)")]
    RingSize(u32, u32),
    #[error("CPUs per ring must be at least 1")]
    CpusPerRing,
    #[error("unknown event class bits {0:#x}")]
    EventClasses(u32),
    #[error("excluded process names: {0}")]
    ExcludeComm(#[from] CommError),
    #[error("filling the excluded process names map: {0}")]
    ExcludeMap(#[source] aya::maps::MapError),
    #[error("cannot count the possible CPUs: {0}")]
    Cpus(String),
    #[error("waiting for events: {0}")]
    Poll(#[source] std::io::Error),
    #[error("reading the probes' debug logs: {0}")]
    ProbeLog(#[source] aya_log::Error),
}

/// Running probes plus the record builder.
pub struct Collector {
    // Kept alive: dropping it detaches every program.
    _ebpf: Ebpf,
    /// One ring per group of CPUs, in CPU order.
    rings: Vec<RingBuf<MapData>>,
    /// Scratch for polling every ring.
    pollfds: Vec<libc::pollfd>,
    /// Events of several rings waiting to be released in time order (unused with one ring).
    reorder: Reorder,
    /// Watermark of the last release.
    released_to: u64,
    drops: PerCpuArray<MapData, u64>,
    filtered: PerCpuArray<MapData, u64>,
    builder: Builder,
    /// The runtime lookups, started at the first poll: after the capabilities were dropped
    /// (they are per thread, and a thread started before would keep them all).
    runtimes: Option<RuntimeConfig>,
    /// Aligned copy for an event the ring or the reorder arena holds misaligned.
    scratch: Box<Scratch>,
    decode_errors: u64,
    started: Instant,
    last_drops: [u64; DROP_CLASSES as usize],
    /// When the drop counters were last read.
    drops_checked: Instant,
    attached: usize,
    events_by_class: [u64; DROP_CLASSES as usize],
    /// Reader of the probes' debug logs (`probe_log`).
    probe_log: Option<EbpfLogger<&'static dyn log::Log>>,
    /// Events consumed in the current one-second window, its start, and the best window.
    window_events: u64,
    window_start: Instant,
    peak_rate: u64,
}

/// Longest wait for events: the probes wake the reader only when the ring fills up, so the
/// reader also looks on this period (bounds the latency of a quiet ring).
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Least progress of the watermark between two releases of the reorder buffer (adds at most
/// this much latency to an event's way to the builder).
const RELEASE_STEP_NS: u64 = 1_000_000;

/// Most events taken from one ring per round, so one busy ring cannot starve the others
/// and the periodic flow work runs.
const BATCH: usize = 4096;

/// BTF tracepoint programs (named after their tracepoint).
const TP_PROGRAMS: &[&str] = &[
    "sys_exit",
    "sched_process_exec",
    "sched_process_fork",
    "sched_process_exit",
    "cgroup_attach_task",
];

impl Collector {
    /// Load the embedded probes, attach them, and read pre-existing processes from /proc.
    /// Takes a [`CollectorConfig`] or just the [`BuilderConfig`] (default ring).
    pub fn start(cfg: impl Into<CollectorConfig>) -> Result<Collector, CollectorError> {
        let cfg: CollectorConfig = cfg.into();
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u32;
        if !cfg.ring_size.is_power_of_two() || cfg.ring_size < page {
            return Err(CollectorError::RingSize(cfg.ring_size, page));
        }
        if cfg.cpus_per_ring == 0 {
            return Err(CollectorError::CpusPerRing);
        }
        if cfg.events & !classes::ALL != 0 {
            return Err(CollectorError::EventClasses(cfg.events));
        }
        let excluded = comm_keys(&cfg.exclude_comms)?;
        let exclude_active = u32::from(!excluded.is_empty());
        let obj = object::probes().ok_or(CollectorError::NoProbes)?;
        let cpus =
            aya::util::nr_cpus().map_err(|(_, e)| CollectorError::Cpus(e.to_string()))? as u32;
        let (per_ring, nrings) = ring_groups(cpus, cfg.cpus_per_ring);
        let raw_btf = std::fs::read("/sys/kernel/btf/vmlinux")
            .map_err(|e| CollectorError::KernelBtf(e.to_string()))?;
        let hierarchy =
            Hierarchy::of_host(&std::fs::read_to_string("/proc/cgroups").unwrap_or_default());
        let offsets = Btf::parse(&raw_btf)?.probe_offsets(hierarchy)?;
        let kbtf = AyaBtf::from_sys_fs().map_err(|e| CollectorError::KernelBtf(e.to_string()))?;
        let me = std::process::id();
        // Commits wake the reader only once an eighth of the ring is waiting; below that the
        // reader finds the events on its next poll timeout (at most POLL_INTERVAL later).
        let wakeup: u64 = cfg.ring_size as u64 / 8;
        let names: Vec<String> = (0..MAX_RINGS).map(|i| format!("EVENTS{i}")).collect();
        let log_level: u8 = if cfg.probe_log {
            aya_log::Level::Debug as u8
        } else {
            0
        };
        let mut loader = EbpfLoader::new();
        loader
            .btf(Some(&kbtf))
            .override_global("OFFSETS", &offsets, true)
            .override_global("SELF_TGID", &me, true)
            .override_global("WAKEUP_BYTES", &wakeup, true)
            .override_global("CPUS_PER_RING", &per_ring, true)
            .override_global("EXCLUDE_ACTIVE", &exclude_active, true)
            .override_global("EVENT_CLASSES", &cfg.events, true)
            // Always written: aya-log-ebpf's default (0xff) enables every log call; with 0 in
            // this frozen global the verifier removes them.
            .override_global(aya_log::LEVEL, &log_level, true);
        if !cfg.probe_log {
            loader.map_max_entries("AYA_LOGS", page);
        }
        for (i, name) in names.iter().enumerate() {
            // Rings no CPU writes to get the smallest size the kernel accepts.
            let size = if (i as u32) < nrings {
                cfg.ring_size
            } else {
                page
            };
            loader.map_max_entries(name, size);
        }
        let mut ebpf = loader.load(obj).map_err(CollectorError::Load)?;
        // Before any program is attached: no event of an excluded name slips through.
        if !excluded.is_empty() {
            let map = ebpf
                .map_mut("EXCLUDE_COMMS")
                .ok_or(CollectorError::Map("EXCLUDE_COMMS"))?;
            let mut comms: BpfHashMap<_, [u8; COMM_LEN], u8> =
                BpfHashMap::try_from(map).map_err(|_| CollectorError::Map("EXCLUDE_COMMS"))?;
            for k in &excluded {
                comms.insert(k, 1, 0).map_err(CollectorError::ExcludeMap)?;
            }
        }
        // Before the attach, so the first records are read.
        let probe_log = if cfg.probe_log {
            Some(EbpfLogger::init(&mut ebpf).map_err(CollectorError::ProbeLog)?)
        } else {
            None
        };
        let mut attached = 0;
        for &name in TP_PROGRAMS {
            if name == "sys_exit" && cfg.events == 0 {
                continue;
            }
            let target = name;
            let Some(prog) = ebpf.program_mut(name) else {
                tracing::warn!(program = name, "probe object lacks this program");
                continue;
            };
            let p: &mut BtfTracePoint = prog
                .try_into()
                .map_err(|e| CollectorError::Program(name.into(), e))?;
            let res = p.load(target, &kbtf).and_then(|_| p.attach().map(|_| ()));
            res.map_err(|e| CollectorError::Program(name.into(), e))?;
            attached += 1;
        }
        let mut rings = Vec::with_capacity(nrings as usize);
        for name in &names[..nrings as usize] {
            let map = ebpf.take_map(name).ok_or(CollectorError::Map("EVENTSn"))?;
            rings.push(RingBuf::try_from(map).map_err(|_| CollectorError::Map("EVENTSn"))?);
        }
        let pollfds = rings
            .iter()
            .map(|r| libc::pollfd {
                fd: r.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let drops =
            PerCpuArray::try_from(ebpf.take_map("DROPS").ok_or(CollectorError::Map("DROPS"))?)
                .map_err(|_| CollectorError::Map("DROPS"))?;
        let filtered = PerCpuArray::try_from(
            ebpf.take_map("FILTERED")
                .ok_or(CollectorError::Map("FILTERED"))?,
        )
        .map_err(|_| CollectorError::Map("FILTERED"))?;
        let mut builder = Builder::new(cfg.builder, Clocks::now(), Names::load());
        builder.scan_proc();
        tracing::info!(
            programs = attached,
            rings = nrings,
            cpus_per_ring = per_ring,
            excluded_comms = excluded.len(),
            events = %super::classes::names(cfg.events),
            cgroups = %hierarchy,
            "eBPF probes attached"
        );
        Ok(Collector {
            _ebpf: ebpf,
            rings,
            pollfds,
            reorder: Reorder::default(),
            released_to: 0,
            drops,
            filtered,
            builder,
            runtimes: Some(cfg.runtimes),
            scratch: Box::default(),
            decode_errors: 0,
            started: Instant::now(),
            last_drops: [0; DROP_CLASSES as usize],
            drops_checked: Instant::now(),
            attached,
            events_by_class: [0; DROP_CLASSES as usize],
            probe_log,
            window_events: 0,
            window_start: Instant::now(),
            peak_rate: 0,
        })
    }

    /// Number of attached programs.
    pub fn attached(&self) -> usize {
        self.attached
    }

    /// Wait up to `timeout` for events, feed every available event to the builder, run the
    /// periodic flow work. Returns the number of events consumed.
    pub fn poll(&mut self, timeout: Duration) -> Result<usize, CollectorError> {
        if let Some(cfg) = self.runtimes.take() {
            self.builder.set_runtimes(Runtimes::start(cfg));
        }
        let timeout = timeout.min(POLL_INTERVAL);
        let mut n = self.drain();
        if n == 0 {
            // SAFETY: `pollfds` is a valid array of its length for the duration of the call.
            let r = unsafe {
                libc::poll(
                    self.pollfds.as_mut_ptr(),
                    self.pollfds.len() as libc::nfds_t,
                    timeout.as_millis().min(i32::MAX as u128) as i32,
                )
            };
            if r < 0 {
                let err = std::io::Error::last_os_error();
                if err.kind() != std::io::ErrorKind::Interrupted {
                    return Err(CollectorError::Poll(err));
                }
            }
            n = self.drain();
        }
        self.builder.tick(Clocks::wall_now());
        if let Some(l) = &mut self.probe_log {
            l.flush();
        }
        // Reading the per-CPU counters is one bpf(2) call per class: once per poll it was
        // most of the reader's CPU when it keeps up and each poll finds a few events.
        if self.drops_checked.elapsed() >= POLL_INTERVAL {
            self.drops_checked = Instant::now();
            self.check_drops();
        }
        Ok(n)
    }

    /// Read what the rings hold: with one ring each event goes straight to the builder;
    /// with several they pass through the reorder buffer, which releases those old enough
    /// that no ring can still hold an earlier one.
    fn drain(&mut self) -> usize {
        let n = if self.rings.len() == 1 {
            self.drain_one()
        } else {
            let now = mono_now();
            let mut unfinished = [0u64; MAX_RINGS as usize];
            let mut k = 0;
            let mut n = 0;
            for ring in &mut self.rings {
                let mut got = 0;
                while let Some(item) = ring.next() {
                    self.reorder.push(&item);
                    got += 1;
                    if got >= BATCH {
                        unfinished[k] = ts_of(&item);
                        k += 1;
                        break;
                    }
                }
                n += got;
            }
            let w = watermark(now, unfinished[..k].iter().copied());
            // A release sorts what is held (about SLACK_NS of events); under load a round
            // finds a few events every few microseconds, so release once per RELEASE_STEP_NS.
            if w >= self.released_to.saturating_add(RELEASE_STEP_NS) {
                self.release(w);
                self.released_to = w;
            }
            n
        };
        self.window_events += n as u64;
        if self.window_start.elapsed() >= Duration::from_secs(1) {
            let rate = self.window_events as f64 / self.window_start.elapsed().as_secs_f64();
            self.peak_rate = self.peak_rate.max(rate as u64);
            self.window_events = 0;
            self.window_start = Instant::now();
        }
        n
    }

    /// One ring: decode in place, no copy.
    fn drain_one(&mut self) -> usize {
        let mut n = 0;
        while let Some(item) = self.rings[0].next() {
            n += 1;
            handle(
                &item,
                &mut self.builder,
                &mut self.events_by_class,
                &mut self.decode_errors,
                &mut self.scratch,
            );
            if n >= BATCH {
                break;
            }
        }
        n
    }

    /// Hand the held events up to `watermark` to the builder, in time order.
    fn release(&mut self, watermark: u64) {
        let (builder, classes, errors, scratch) = (
            &mut self.builder,
            &mut self.events_by_class,
            &mut self.decode_errors,
            &mut self.scratch,
        );
        self.reorder
            .release(watermark, |b| handle(b, builder, classes, errors, scratch));
    }

    /// At shutdown: read every ring to empty and release everything held, in order.
    pub fn finish(&mut self) -> usize {
        let mut n = 0;
        loop {
            let k = self.drain();
            n += k;
            if k == 0 {
                break;
            }
        }
        self.release(u64::MAX);
        self.builder.tick(Clocks::wall_now());
        if let Some(l) = &mut self.probe_log {
            l.flush();
        }
        n
    }

    /// Number of ring buffers read.
    pub fn rings(&self) -> usize {
        self.rings.len()
    }

    /// Lost events per class since start (summed over CPUs).
    pub fn drops(&self) -> [u64; DROP_CLASSES as usize] {
        let mut out = [0; DROP_CLASSES as usize];
        for (i, slot) in out.iter_mut().enumerate() {
            if let Ok(v) = self.drops.get(&(i as u32), 0) {
                *slot = v.iter().sum();
            }
        }
        out
    }

    /// Syscalls the comm filter skipped per class since start (summed over CPUs).
    pub fn filtered(&self) -> [u64; FILTER_CLASSES as usize] {
        let mut out = [0; FILTER_CLASSES as usize];
        for (i, slot) in out.iter_mut().enumerate() {
            if let Ok(v) = self.filtered.get(&(i as u32), 0) {
                *slot = v.iter().sum();
            }
        }
        out
    }

    /// Reads one drop counter (a `BPF_MAP_LOOKUP_ELEM` on the map fd held since the load):
    /// [`super::privs`] uses it to learn whether the kernel still allows it with fewer
    /// capabilities.
    pub fn read_drop_counter(&self) -> Result<u64, aya::maps::MapError> {
        Ok(self.drops.get(&0, 0)?.iter().sum())
    }

    /// Warn about new drops: a drop is never silent.
    fn check_drops(&mut self) {
        let now = self.drops();
        if now != self.last_drops {
            for i in 0..now.len() {
                let d = now[i] - self.last_drops[i].min(now[i]);
                if d > 0 {
                    tracing::warn!(
                        class = DROP_CLASS_NAMES[i],
                        lost = d,
                        "events lost (ring buffer full)"
                    );
                }
            }
            self.last_drops = now;
        }
    }

    /// The record builder (take records with [`Builder::drain`]).
    pub fn builder(&mut self) -> &mut Builder {
        &mut self.builder
    }

    /// Self-observation counters (print with `Display`: one line of `key=value`).
    pub fn summary(&self) -> Summary {
        // `drops()` reads 0 for a counter it cannot read: say so rather than report no loss.
        if let Err(e) = self.read_drop_counter() {
            tracing::warn!(error = %e, "drop counters cannot be read");
        }
        Summary {
            secs: self.started.elapsed().as_secs_f64(),
            peak_rate: self.peak_rate.max(self.window_events),
            events_by_class: self.events_by_class,
            builder: self.builder.stats().clone(),
            decode_errors: self.decode_errors,
            drops: self.drops(),
            filtered: self.filtered(),
            rings: self.rings.len(),
        }
    }
}

/// CPUs per ring and number of rings for `cpus` possible CPUs and the wished group size:
/// the group grows when `MAX_RINGS` groups would not cover every CPU.
pub fn ring_groups(cpus: u32, wished: u32) -> (u32, u32) {
    let cpus = cpus.max(1);
    let per = wished.max(1).max(cpus.div_ceil(MAX_RINGS));
    (per, cpus.div_ceil(per))
}

/// The header's timestamp (first 8 bytes) of a raw event; 0 when it is too short.
fn ts_of(b: &[u8]) -> u64 {
    b.get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_ne_bytes)
        .unwrap_or(0)
}

/// CLOCK_MONOTONIC in ns, the clock of `bpf_ktime_get_ns`.
fn mono_now() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid pointer to a timespec; CLOCK_MONOTONIC is always available on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Decode one raw event and feed it to the builder; undecodable ones are counted.
fn handle(
    b: &[u8],
    builder: &mut Builder,
    classes: &mut [u64],
    errors: &mut u64,
    scratch: &mut Scratch,
) {
    match RawEvent::decode(b, scratch) {
        Ok(ev) => {
            if let Some(op) = Op::from_u16(ev.header().op) {
                classes[op.class() as usize] += 1;
            }
            builder.handle(&ev);
        }
        Err(e) => {
            *errors += 1;
            tracing::warn!(error = %e, "undecodable probe event");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_groups_cover_every_cpu_within_max_rings() {
        assert_eq!(ring_groups(2, 2), (2, 1));
        assert_eq!(ring_groups(2, 1), (1, 2));
        assert_eq!(ring_groups(3, 2), (2, 2));
        assert_eq!(ring_groups(64, 2), (4, 16));
        assert_eq!(ring_groups(65, 2), (5, 13));
        assert_eq!(ring_groups(1, 0), (1, 1));
        for cpus in 1..300 {
            for wished in 1..8 {
                let (per, n) = ring_groups(cpus, wished);
                assert!(
                    n <= MAX_RINGS && per * n >= cpus && per >= wished,
                    "{cpus} {wished}"
                );
            }
        }
    }
}
