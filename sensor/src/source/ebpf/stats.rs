//! Self-observation of the collector: events (total, per class, per second), records, drops
//! per class. Printed by `sensor record` at exit as one line of `key=value` tokens.

use std::fmt;

use sensor_ebpf_common::{DROP_CLASSES, DROP_CLASS_NAMES, FILTER_CLASSES};

use super::BuilderStats;

/// Counters at one point in time (see [`super::Collector::summary`]).
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Seconds since the collector started.
    pub secs: f64,
    /// Highest number of events consumed in one second-long window.
    pub peak_rate: u64,
    /// Events the user space consumed, per class (index = `DropClass`; `read_fault` stays 0).
    pub events_by_class: [u64; DROP_CLASSES as usize],
    /// Record builder counters.
    pub builder: BuilderStats,
    /// Ring records that could not be decoded.
    pub decode_errors: u64,
    /// Events lost in the kernel because the ring was full, per class.
    pub drops: [u64; DROP_CLASSES as usize],
    /// Syscalls the in-kernel comm filter skipped, per class (not drops: nothing was lost).
    pub filtered: [u64; FILTER_CLASSES as usize],
    /// Ring buffers read (one per group of CPUs).
    pub rings: usize,
}

impl Summary {
    /// Events lost, all classes.
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }

    /// Syscalls skipped by the comm filter, all classes.
    pub fn total_filtered(&self) -> u64 {
        self.filtered.iter().sum()
    }

    /// Average events per second since start.
    pub fn rate(&self) -> f64 {
        self.builder.events as f64 / self.secs.max(1e-3)
    }
}

impl fmt::Display for Summary {
    /// `events=N rate=R/s peak=P/s events.<class>=N… records=N ipv6_flows=N unresolved_fds=N
    /// suppressed_read_flows=N expired_flows=N decode_errors=N drops=N drops.<class>=N…
    /// filtered=N rings=N`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.builder;
        write!(
            f,
            "events={} rate={:.0}/s peak={}/s",
            s.events,
            self.rate(),
            self.peak_rate
        )?;
        // read_fault is not an event class, only a drop reason.
        for (i, n) in self.events_by_class.iter().enumerate().take(6) {
            write!(f, " events.{}={}", DROP_CLASS_NAMES[i], n)?;
        }
        write!(
            f,
            " records={} ipv6_flows={} unresolved_fds={} suppressed_read_flows={} expired_flows={} decode_errors={} drops={}",
            s.records,
            s.ipv6_flows,
            s.unresolved_fds,
            s.suppressed_flows,
            s.expired_flows,
            self.decode_errors,
            self.total_drops()
        )?;
        for (i, n) in self.drops.iter().enumerate() {
            write!(f, " drops.{}={}", DROP_CLASS_NAMES[i], n)?;
        }
        write!(
            f,
            " filtered={} rings={}",
            self.total_filtered(),
            self.rings
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_line_has_every_counter_as_key_value() {
        let mut s = Summary {
            secs: 2.0,
            peak_rate: 7,
            decode_errors: 1,
            rings: 2,
            ..Default::default()
        };
        s.builder.events = 10;
        s.builder.records = 4;
        s.events_by_class[2] = 9;
        s.drops[1] = 3;
        s.drops[6] = 2;
        s.filtered[2] = 4;
        s.filtered[3] = 1;
        assert_eq!(
            s.to_string(),
            "events=10 rate=5/s peak=7/s events.proc=0 events.open=0 events.io=9 events.close=0 \
             events.dir=0 events.net=0 records=4 ipv6_flows=0 unresolved_fds=0 \
             suppressed_read_flows=0 expired_flows=0 decode_errors=1 drops=5 drops.proc=0 \
             drops.open=3 drops.io=0 drops.close=0 drops.dir=0 drops.net=0 drops.read_fault=2 \
             filtered=5 rings=2"
        );
    }
}
