//! The `ebpf` driver of `sensor run`: records built by the native eBPF collector go straight
//! into the pipeline.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;

use super::{privs, Collector, CollectorConfig};
use crate::config::{DriverConfig, EventsSetting};
use crate::pipeline::{Intake, Registry, StageStats};

/// Collector settings from the pipeline's `ebpf` driver entry (defaults without one).
pub fn options(driver: Option<&DriverConfig>) -> CollectorConfig {
    let mut cfg = CollectorConfig::default();
    if let Some(d) = driver {
        if let Some(m) = d.file_read_mode {
            cfg.builder.file_read_mode = m;
        }
        if let Some(n) = d.ring_size {
            cfg.ring_size = n;
        }
        if let Some(n) = d.cpus_per_ring {
            cfg.cpus_per_ring = n;
        }
        cfg.exclude_comms.clone_from(&d.exclude_comms);
        // `auto` starts from everything; `run` narrows it to what the rules can use.
        if let Some(EventsSetting::Classes(e)) = d.events {
            cfg.events = e;
        }
    }
    cfg
}

/// Loads and attaches the probes; errors say why (privileges, BTF, probe object). Then drops
/// the capabilities the collector no longer needs unless `keep_caps` (see [`privs`]); call it
/// before any other thread is spawned.
pub fn start(cfg: &CollectorConfig, keep_caps: bool) -> anyhow::Result<Collector> {
    let c = Collector::start(cfg.clone())
        .context("--input ebpf: cannot start the eBPF collector (run as root or with CAP_BPF/CAP_PERFMON, with /sys/kernel/btf/vmlinux)")?;
    privs::drop_after_attach(keep_caps, &|| c.read_drop_counter().is_ok());
    Ok(c)
}

fn wall_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// How often the collector's own counters are published for the metrics endpoint.
const PUBLISH_EVERY: Duration = Duration::from_secs(1);

/// Runs the probes until `stop` is set, then writes the open flows and returns. The
/// collector's counters are published to `registry` every [`PUBLISH_EVERY`] (they can only
/// be read on this thread).
pub fn run(
    mut c: Collector,
    intake: &mut Intake,
    stop: &AtomicBool,
    registry: &Registry,
) -> anyhow::Result<()> {
    let mut reports = registry.reports();
    let mut published = Instant::now();
    registry.publish_source(c.summary().samples());
    while !stop.load(Relaxed) {
        c.poll(Duration::from_millis(200))
            .context("eBPF collector")?;
        // SIGUSR1: the collector's own counters (events and drops per class) join the stages'.
        let asked = registry.reports();
        if asked != reports {
            reports = asked;
            tracing::info!("counters (SIGUSR1) {}", c.summary());
        }
        if published.elapsed() >= PUBLISH_EVERY {
            published = Instant::now();
            registry.publish_source(c.summary().samples());
        }
        let mut n = 0u64;
        for rec in c.builder().drain() {
            n += 1;
            if intake.push(rec).is_err() {
                return Ok(());
            }
        }
        StageStats::add(&intake.stats.input, n);
        if intake.flush().is_err() {
            return Ok(());
        }
    }
    // Whatever the rings still hold, in order, then the open flows end (TRUNCATE).
    c.finish();
    c.builder().flush(wall_ns());
    let recs: Vec<_> = c.builder().drain().collect();
    StageStats::add(&intake.stats.input, recs.len() as u64);
    for rec in recs {
        if intake.push(rec).is_err() {
            break;
        }
    }
    let _ = intake.flush();
    let summary = c.summary();
    registry.publish_source(summary.samples());
    tracing::info!("{summary}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DriverKind;
    use sensor_ebpf_common::classes::{ALL, FILE, NET};

    fn entry() -> DriverConfig {
        DriverConfig {
            driver: DriverKind::Ebpf,
            path: None,
            owner: None,
            mode: None,
            file_read_mode: None,
            ring_size: None,
            cpus_per_ring: None,
            exclude_comms: Vec::new(),
            events: None,
            kafka: None,
        }
    }

    #[test]
    fn options_carry_the_driver_entry_into_the_collector_config() {
        let d = DriverConfig {
            file_read_mode: Some(0),
            ring_size: Some(1 << 20),
            cpus_per_ring: Some(1),
            exclude_comms: vec!["nginx".into()],
            events: Some(EventsSetting::Classes(FILE | NET)),
            ..entry()
        };
        let c = options(Some(&d));
        assert_eq!(
            (c.builder.file_read_mode, c.ring_size, c.cpus_per_ring),
            (0, 1 << 20, 1)
        );
        assert_eq!(
            (c.exclude_comms, c.events),
            (vec!["nginx".into()], FILE | NET)
        );
        // `auto` starts from everything (`run` narrows it); no entry: the defaults.
        let auto = DriverConfig {
            events: Some(EventsSetting::Auto),
            ..entry()
        };
        assert_eq!(options(Some(&auto)).events, ALL);
        let c = options(None);
        assert_eq!(
            (c.events, c.exclude_comms.len(), c.builder.file_read_mode),
            (ALL, 0, 2)
        );
    }
}
