//! Self-observation of the collector: events (total, per class, per second), records, drops
//! per class. Printed by `sensor record` at exit as one line of `key=value` tokens.

use std::fmt;

use sensor_ebpf_common::{DROP_CLASSES, DROP_CLASS_NAMES, FILTER_CLASSES};

use super::BuilderStats;
use crate::pipeline::SourceSample;

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

impl Summary {
    /// Every counter of the summary line as metrics samples (`sensor run --metrics`): the
    /// per-class ones labelled `class`, the rates and ring count as gauges. Kept beside
    /// `Display` so that a counter added to one is added to the other.
    pub fn samples(&self) -> Vec<SourceSample> {
        let one = |name, help, value, gauge| SourceSample {
            name,
            help,
            label: None,
            value,
            gauge,
        };
        let s = &self.builder;
        let mut v = vec![
            one(
                "ebpf_events",
                "Events the probes delivered.",
                s.events,
                false,
            ),
            one(
                "ebpf_events_peak_rate",
                "Most events consumed in one second since start.",
                self.peak_rate,
                true,
            ),
            one("ebpf_records", "SysFlow records built.", s.records, false),
            one(
                "ebpf_ipv6_flows",
                "IPv6 flows (not representable in v5 files).",
                s.ipv6_flows,
                false,
            ),
            one(
                "ebpf_unresolved_fds",
                "I/O on descriptors whose target could not be found.",
                s.unresolved_fds,
                false,
            ),
            one(
                "ebpf_suppressed_read_flows",
                "Read-only file flows not written (filereadmode).",
                s.suppressed_flows,
                false,
            ),
            one(
                "ebpf_expired_flows",
                "Flows ended after being idle.",
                s.expired_flows,
                false,
            ),
            one(
                "ebpf_decode_errors",
                "Ring records that could not be decoded.",
                self.decode_errors,
                false,
            ),
            one(
                "ebpf_rings",
                "Ring buffers read (one per group of CPUs).",
                self.rings as u64,
                true,
            ),
        ];
        let class = |name, help, i: usize, value| SourceSample {
            name,
            help,
            label: Some(("class", DROP_CLASS_NAMES[i])),
            value,
            gauge: false,
        };
        // read_fault is not an event class, only a drop reason (as in the line).
        for (i, n) in self.events_by_class.iter().enumerate().take(6) {
            v.push(class(
                "ebpf_class_events",
                "Events the user space consumed, per class.",
                i,
                *n,
            ));
        }
        for (i, n) in self.drops.iter().enumerate() {
            v.push(class(
                "ebpf_drops",
                "Events lost in the kernel (ring full or unreadable memory), per class.",
                i,
                *n,
            ));
        }
        for (i, n) in self.filtered.iter().enumerate() {
            v.push(class(
                "ebpf_filtered",
                "Syscalls the in-kernel process-name filter skipped, per class.",
                i,
                *n,
            ));
        }
        v
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

    #[test]
    fn samples_carry_every_counter_of_the_line() {
        let mut s = Summary {
            rings: 2,
            ..Default::default()
        };
        s.builder.events = 10;
        s.events_by_class[2] = 9;
        s.drops[6] = 2;
        s.filtered[3] = 1;
        let v = s.samples();
        let get = |name: &str, class: Option<&str>| {
            v.iter()
                .find(|x| x.name == name && x.label.map(|l| l.1) == class)
                .map(|x| (x.value, x.gauge))
        };
        assert_eq!(get("ebpf_events", None), Some((10, false)));
        assert_eq!(get("ebpf_rings", None), Some((2, true)));
        assert_eq!(get("ebpf_class_events", Some("io")), Some((9, false)));
        assert_eq!(get("ebpf_class_events", Some("read_fault")), None);
        assert_eq!(get("ebpf_drops", Some("read_fault")), Some((2, false)));
        assert_eq!(get("ebpf_filtered", Some("close")), Some((1, false)));
        // Every class of every per-class family: 6 event classes, 7 drop and filter classes.
        let n = |name: &str| v.iter().filter(|x| x.name == name).count();
        assert_eq!(
            (n("ebpf_class_events"), n("ebpf_drops"), n("ebpf_filtered")),
            (6, 7, 7)
        );
    }
}
