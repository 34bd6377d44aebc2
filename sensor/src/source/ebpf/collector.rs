//! Loads and attaches the probes, drains the ring buffer into the [`Builder`], and keeps
//! the self-observation counters (events/s, drops per class).

use std::{
    os::fd::AsRawFd,
    time::{Duration, Instant},
};

use aya::{
    maps::{MapData, PerCpuArray, RingBuf},
    programs::BtfTracePoint,
    Btf as AyaBtf, Ebpf, EbpfLoader,
};
use sensor_ebpf_common::{Op, DROP_CLASSES, DROP_CLASS_NAMES, RING_SIZE};

use super::{
    btf::Btf,
    builder::{Builder, BuilderConfig},
    object,
    procfs::{Clocks, Names},
    raw::RawEvent,
    stats::Summary,
};

/// Knobs of the collector (defaults in one place: [`Default`]).
#[derive(Debug, Clone)]
pub struct CollectorConfig {
    /// Record builder settings.
    pub builder: BuilderConfig,
    /// Ring buffer size in bytes: a power of two, at least one page (default 16 MiB).
    pub ring_size: u32,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            builder: BuilderConfig::default(),
            ring_size: RING_SIZE,
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
    #[error("waiting for events: {0}")]
    Poll(#[source] std::io::Error),
}

/// Running probes plus the record builder.
pub struct Collector {
    // Kept alive: dropping it detaches every program.
    _ebpf: Ebpf,
    ring: RingBuf<MapData>,
    drops: PerCpuArray<MapData, u64>,
    builder: Builder,
    decode_errors: u64,
    started: Instant,
    last_drops: [u64; DROP_CLASSES as usize],
    attached: usize,
    events_by_class: [u64; DROP_CLASSES as usize],
    /// Events consumed in the current one-second window, its start, and the best window.
    window_events: u64,
    window_start: Instant,
    peak_rate: u64,
}

/// Longest wait for events: the probes wake the reader only when the ring fills up, so the
/// reader also looks on this period (bounds the latency of a quiet ring).
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// BTF tracepoint programs (named after their tracepoint).
const TP_PROGRAMS: &[&str] = &[
    "sys_exit",
    "sched_process_exec",
    "sched_process_fork",
    "sched_process_exit",
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
        let obj = object::probes().ok_or(CollectorError::NoProbes)?;
        let raw_btf = std::fs::read("/sys/kernel/btf/vmlinux")
            .map_err(|e| CollectorError::KernelBtf(e.to_string()))?;
        let offsets = Btf::parse(&raw_btf)?.kernel_offsets()?;
        let kbtf = AyaBtf::from_sys_fs().map_err(|e| CollectorError::KernelBtf(e.to_string()))?;
        let me = std::process::id();
        // Commits wake the reader only once an eighth of the ring is waiting; below that the
        // reader finds the events on its next poll timeout (at most POLL_INTERVAL later).
        let wakeup: u64 = cfg.ring_size as u64 / 8;
        let mut ebpf = EbpfLoader::new()
            .btf(Some(&kbtf))
            .override_global("OFFSETS", &offsets, true)
            .override_global("SELF_TGID", &me, true)
            .override_global("WAKEUP_BYTES", &wakeup, true)
            .map_max_entries("EVENTS", cfg.ring_size)
            .load(obj)
            .map_err(CollectorError::Load)?;
        let mut attached = 0;
        for &name in TP_PROGRAMS {
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
        let ring = RingBuf::try_from(
            ebpf.take_map("EVENTS")
                .ok_or(CollectorError::Map("EVENTS"))?,
        )
        .map_err(|_| CollectorError::Map("EVENTS"))?;
        let drops =
            PerCpuArray::try_from(ebpf.take_map("DROPS").ok_or(CollectorError::Map("DROPS"))?)
                .map_err(|_| CollectorError::Map("DROPS"))?;
        let mut builder = Builder::new(cfg.builder, Clocks::now(), Names::load());
        builder.scan_proc();
        tracing::info!(programs = attached, "eBPF probes attached");
        Ok(Collector {
            _ebpf: ebpf,
            ring,
            drops,
            builder,
            decode_errors: 0,
            started: Instant::now(),
            last_drops: [0; DROP_CLASSES as usize],
            attached,
            events_by_class: [0; DROP_CLASSES as usize],
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
        let timeout = timeout.min(POLL_INTERVAL);
        let mut n = self.drain();
        if n == 0 {
            let mut pfd = libc::pollfd {
                fd: self.ring.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd for the duration of the call.
            let r = unsafe {
                libc::poll(
                    &mut pfd,
                    1,
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
        self.check_drops();
        Ok(n)
    }

    fn drain(&mut self) -> usize {
        let mut n = 0;
        while let Some(item) = self.ring.next() {
            n += 1;
            match RawEvent::decode(&item) {
                Ok(ev) => {
                    drop(item);
                    if let Some(op) = Op::from_u16(ev.header().op) {
                        self.events_by_class[op.class() as usize] += 1;
                    }
                    self.builder.handle(&ev);
                }
                Err(e) => {
                    self.decode_errors += 1;
                    tracing::warn!(error = %e, "undecodable probe event");
                }
            }
            if n >= 4096 {
                break;
            }
        }
        self.window_events += n as u64;
        if self.window_start.elapsed() >= Duration::from_secs(1) {
            let rate = self.window_events as f64 / self.window_start.elapsed().as_secs_f64();
            self.peak_rate = self.peak_rate.max(rate as u64);
            self.window_events = 0;
            self.window_start = Instant::now();
        }
        n
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
        }
    }
}
