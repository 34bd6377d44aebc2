//! `sensor record`: run the eBPF collector and write SysFlow v5 trace files.
//!
//! Each file (each rotation) is self-contained: it starts with its own SFHeader and every
//! entity a record needs is written again (REUP) in that file.

use std::{
    fs::File,
    io::BufWriter,
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use sysflow_model::{
    avro::{Codec, Writer},
    SfHeader, SysFlow,
};

use crate::source::ebpf::{
    collector::PROBE_LOG_TARGET, filter::comm_key, privs, procfs::Clocks, BuilderConfig, Collector,
    CollectorConfig,
};

/// Arguments of `sensor record`.
#[derive(clap::Args, Debug)]
pub struct RecordArgs {
    /// Output file. With --rotate, files are named `FILE.<epoch>` (or `DIR/<epoch>` when FILE
    /// ends in '/'), as the collector's `-w` with `-G` does.
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: PathBuf,
    /// Start a new self-contained file every SECS seconds.
    #[arg(short = 'G', long = "rotate", value_name = "SECS")]
    pub rotate: Option<u64>,
    /// Stop after SECS seconds (default: until SIGINT/SIGTERM).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Exporter id written in the header (default: host name).
    #[arg(short = 'e', long)]
    pub exporter: Option<String>,
    /// Read-only file flow suppression: 2 = system dirs (default), 1 = all, 0 = none.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub file_read_mode: u8,
    /// Size of each ring buffer in bytes (power of two, at least a page); default 16 MiB.
    #[arg(long, value_name = "BYTES")]
    pub ring_size: Option<u32>,
    /// CPUs sharing one ring buffer (default 2; 1 = a ring per CPU). Events of several
    /// rings are merged back into time order.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub cpus_per_ring: Option<u32>,
    /// Skip the file and network I/O (opens, reads/writes, sends/receives, closes, dups,
    /// mkdir/unlink/rename, ...) of threads named NAME (`comm`, at most 15 bytes) in the
    /// kernel; process events are kept. Repeatable, at most 64 names.
    #[arg(long = "exclude-comm", value_name = "NAME", value_parser = parse_comm)]
    pub exclude_comm: Vec<String>,
    /// Syscall events to report besides process life cycle (exec, clone, exit, always on): a
    /// comma-separated list of setuid, file, net, or all (default) / none. With none the
    /// syscall-exit probe is not attached, so other syscalls cost nothing extra.
    #[arg(long, value_name = "LIST", default_value = "all", value_parser = crate::source::ebpf::classes::parse)]
    pub events: u32,
    /// Keep every capability after the probes are attached (for debugging; by default all but
    /// what the collector still needs are dropped).
    #[arg(long)]
    pub keep_caps: bool,
    /// Print the probes' debug logs (events lost to a full ring, failed syscalls the probes
    /// skip, descriptors they cannot resolve) on stderr; off by default, when they cost nothing.
    #[arg(long)]
    pub probe_log: bool,
}

/// A name `--exclude-comm` can match (checked here so the error names the value).
fn parse_comm(s: &str) -> Result<String, String> {
    comm_key(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn install_signal_handlers() {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "sensor".into())
}

/// File name of an epoch: the path as given without rotation, else `path.<epoch>`/`dir/<epoch>`.
pub fn epoch_path(base: &Path, rotate: bool, epoch_secs: i64) -> PathBuf {
    let s = base.to_string_lossy();
    if s.ends_with('/') {
        base.join(epoch_secs.to_string())
    } else if rotate {
        PathBuf::from(format!("{s}.{epoch_secs}"))
    } else {
        base.to_path_buf()
    }
}

struct Output {
    writer: Writer<BufWriter<File>>,
    path: PathBuf,
    records: u64,
}

fn open_output(args: &RecordArgs, exporter: &str) -> Result<Output> {
    let epoch = Clocks::wall_now() / 1_000_000_000;
    let path = epoch_path(&args.write, args.rotate.is_some(), epoch);
    let f = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let mut writer = Writer::new(BufWriter::new(f), Codec::Deflate)
        .with_context(|| format!("writing header of {}", path.display()))?;
    let header = SysFlow::Header(SfHeader {
        version: 5,
        exporter: exporter.to_string(),
        ip: std::env::var("NODE_IP").unwrap_or_default(),
        filename: path.to_string_lossy().into_owned(),
    });
    writer
        .write(&header)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(Output {
        writer,
        path,
        records: 0,
    })
}

fn close_output(o: Output) -> Result<()> {
    let path = o.path.clone();
    o.writer
        .finish()
        .with_context(|| format!("finishing {}", path.display()))?;
    tracing::info!(file = %path.display(), records = o.records, "trace file closed");
    Ok(())
}

fn write_all(col: &mut Collector, out: &mut Output) -> Result<()> {
    let b = col.builder();
    for r in b.drain() {
        out.writer
            .write(&r)
            .with_context(|| format!("writing {}", out.path.display()))?;
        out.records += 1;
    }
    // IPv6 flows cannot be written to v5 files; they are counted (see docs/ipv6.md).
    b.drain_ipv6().for_each(drop);
    Ok(())
}

/// Entry point of `sensor record`; returns the process exit code.
pub fn main(args: RecordArgs) -> Result<u8> {
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    if args.probe_log {
        filter = filter.add_directive(format!("{PROBE_LOG_TARGET}=debug").parse()?);
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let mut cfg = CollectorConfig {
        builder: BuilderConfig {
            file_read_mode: args.file_read_mode,
            ..Default::default()
        },
        exclude_comms: args.exclude_comm.clone(),
        events: args.events,
        probe_log: args.probe_log,
        ..Default::default()
    };
    if let Some(r) = args.ring_size {
        cfg.ring_size = r;
    }
    if let Some(n) = args.cpus_per_ring {
        cfg.cpus_per_ring = n;
    }
    let mut col = Collector::start(cfg).context("starting the eBPF collector")?;
    // Single-threaded: the whole process keeps only what reading the probes still needs.
    privs::drop_after_attach(args.keep_caps, &|| col.read_drop_counter().is_ok());
    install_signal_handlers();
    let exporter = args.exporter.clone().unwrap_or_else(hostname);
    let mut out = open_output(&args, &exporter)?;
    eprintln!(
        "sensor: recording to {} ({} probes attached, {} ring buffers)",
        out.path.display(),
        col.attached(),
        col.rings()
    );
    let started = Instant::now();
    let deadline = args
        .duration
        .map(|d| started + Duration::from_secs_f64(d.max(0.0)));
    let rotate = args.rotate.map(|s| Duration::from_secs(s.max(1)));
    let mut epoch_start = Instant::now();
    let mut last_flush = Instant::now();
    while !STOP.load(Ordering::SeqCst) && deadline.is_none_or(|d| Instant::now() < d) {
        col.poll(Duration::from_millis(100))
            .context("reading probe events")?;
        write_all(&mut col, &mut out)?;
        if rotate.is_some_and(|r| epoch_start.elapsed() >= r) {
            close_output(out)?;
            col.builder().reset_epoch();
            out = open_output(&args, &exporter)?;
            epoch_start = Instant::now();
        }
        if last_flush.elapsed() >= Duration::from_secs(1) {
            out.writer
                .flush()
                .with_context(|| format!("flushing {}", out.path.display()))?;
            last_flush = Instant::now();
        }
    }
    // Drain what is still in the ring, then end the open flows (TRUNCATE) as the collector
    // does at shutdown.
    col.finish();
    write_all(&mut col, &mut out)?;
    col.builder().flush(Clocks::wall_now());
    write_all(&mut col, &mut out)?;
    close_output(out)?;
    let summary = col.summary();
    tracing::info!("{summary}");
    eprintln!("sensor: {summary}");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_paths_follow_collector_naming() {
        assert_eq!(
            epoch_path(Path::new("/t/x.sf"), false, 5),
            PathBuf::from("/t/x.sf")
        );
        assert_eq!(
            epoch_path(Path::new("/t/x.sf"), true, 5),
            PathBuf::from("/t/x.sf.5")
        );
        assert_eq!(epoch_path(Path::new("/t/"), true, 5), PathBuf::from("/t/5"));
    }
}
