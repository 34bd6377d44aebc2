//! Consumer-group membership: what the driver does when partitions are revoked or assigned,
//! and librdkafka's logs and errors into ours.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{Offset, TopicPartitionList};

use super::{lock, Shared, REQUEST_TIMEOUT};
use crate::config::kafka::librdkafka_log;

/// The consumer's context.
pub struct Group {
    shared: Arc<Shared>,
    /// The brokers are known to be unreachable (logged once per outage).
    down: AtomicBool,
}

impl Group {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Group {
            shared,
            down: AtomicBool::new(false),
        }
    }

    /// Partitions leave this member: hand on what was read, wait until the pipeline has
    /// taken it, commit it (unless the assignment is already lost to a session timeout).
    fn revoke(&self, c: &BaseConsumer<Group>, tpl: &TopicPartitionList) {
        let sh = &self.shared;
        sh.drain();
        let lost = c.assignment_lost();
        if !lost {
            sh.commit(c, CommitMode::Sync);
        }
        let mut st = lock(&sh.state);
        for e in tpl.elements() {
            let Some(tp) = sh.tp(e.topic(), e.partition()) else {
                continue;
            };
            st.acks().drop_partition(tp);
            st.replay_until.remove(&tp);
            match st.committed.get(&tp) {
                Some(&o) if !lost => {
                    st.drained.insert(tp, o);
                }
                _ => sh.forget(&mut st, tp),
            }
        }
        tracing::info!(
            "{}: {} partitions revoked{}",
            sh.stats.label,
            tpl.count(),
            if lost { " (assignment lost)" } else { "" }
        );
    }

    /// Partitions come to this member: each starts at its committed offset, read back from
    /// `kafka.replay` earlier unless this member drained it at that very offset (its tables
    /// are then still good).
    fn assign(&self, c: &BaseConsumer<Group>, tpl: &mut TopicPartitionList) {
        let sh = &self.shared;
        let committed = c.committed_offsets(tpl.clone(), REQUEST_TIMEOUT);
        let committed = match committed {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(
                    "{}: cannot read committed offsets ({e}); starting per auto.offset.reset",
                    sh.stats.label
                );
                TopicPartitionList::new()
            }
        };
        let since = SystemTime::now()
            .checked_sub(sh.replay)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as i64);
        let mut st = lock(&sh.state);
        let mut replays = Vec::new();
        let mut mine = Vec::new();
        for e in tpl.elements() {
            let Some(tp) = sh.tp(e.topic(), e.partition()) else {
                continue;
            };
            mine.push(tp);
            let at = committed
                .find_partition(e.topic(), e.partition())
                .and_then(|x| x.offset().to_raw())
                .filter(|o| *o >= 0);
            let kept = at.is_some() && st.drained.remove(&tp) == at;
            if kept {
                continue;
            }
            sh.forget(&mut st, tp);
            if let Some(at) = at {
                replays.push((e.topic().to_string(), e.partition(), tp, at));
            }
        }
        // Tables of partitions drained earlier that went to another member.
        let gone: Vec<_> = st
            .drained
            .keys()
            .copied()
            .filter(|t| !mine.contains(t))
            .collect();
        for tp in gone {
            st.drained.remove(&tp);
            sh.forget(&mut st, tp);
        }
        drop(st);
        for (topic, partition, tp, at) in replays {
            let from = replay_start(c, &topic, partition, since).min(at);
            if from < at {
                let _ = tpl.set_partition_offset(&topic, partition, Offset::Offset(from));
                lock(&sh.state).replay_until.insert(tp, at);
                tracing::info!(
                    "{}: {topic}/{partition}: reading back from offset {from} to rebuild entity tables; records resume at {at}",
                    sh.stats.label
                );
            }
        }
        let _ = sh.flush();
        tracing::info!("{}: {} partitions assigned", sh.stats.label, tpl.count());
    }
}

/// The first offset of `topic/partition` written at or after `since` (ms); the oldest
/// offset when the broker cannot look times up.
fn replay_start(c: &BaseConsumer<Group>, topic: &str, partition: i32, since: i64) -> i64 {
    let mut q = TopicPartitionList::new();
    let _ = q.add_partition_offset(topic, partition, Offset::Offset(since));
    let by_time = c
        .offsets_for_times(q, REQUEST_TIMEOUT)
        .ok()
        .and_then(|r| r.find_partition(topic, partition).map(|e| e.offset()));
    match by_time {
        Some(Offset::Offset(o)) if o >= 0 => o,
        // Nothing written since: nothing to read back.
        Some(Offset::End) => i64::MAX,
        _ => c
            .fetch_watermarks(topic, partition, REQUEST_TIMEOUT)
            .map_or(0, |(low, _)| low),
    }
}

impl ClientContext for Group {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, msg: &str) {
        librdkafka_log(&self.shared.stats.label, level, fac, msg);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let label = &self.shared.stats.label;
        if error.rdkafka_error_code() != Some(RDKafkaErrorCode::AllBrokersDown) {
            tracing::warn!("{label}: Kafka: {error}: {reason}");
        } else if !self.down.swap(true, Relaxed) {
            tracing::warn!("{label}: Kafka brokers unreachable ({reason}); reconnecting");
        }
    }
}

impl ConsumerContext for Group {
    fn rebalance(&self, c: &BaseConsumer<Self>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        self.down.store(false, Relaxed);
        let cooperative = matches!(c.rebalance_protocol(), RebalanceProtocol::Cooperative);
        let res = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                self.assign(c, tpl);
                if cooperative {
                    c.incremental_assign(tpl)
                } else {
                    c.assign(tpl)
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                self.revoke(c, tpl);
                if cooperative {
                    c.incremental_unassign(tpl)
                } else {
                    c.unassign()
                }
            }
            other => {
                tracing::error!(
                    "{}: rebalance failed: {:?}",
                    self.shared.stats.label,
                    RDKafkaErrorCode::from(other)
                );
                c.unassign()
            }
        };
        if let Err(e) = res {
            tracing::error!(
                "{}: cannot apply the assignment: {e}",
                self.shared.stats.label
            );
        }
    }
}
