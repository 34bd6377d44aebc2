//! The `kafka` driver: SysFlow from Kafka topics — one bare v5 datum per message, what
//! sensors publish with `kafka.encoding: sysflow` — read as one member of a consumer group,
//! so that N central `sensor run` processes share a topic's partitions.
//!
//! - **Streams.** Each (partition, message key) is a stream of its own — a node, or a node's
//!   container — joined with entity tables of its own in the flattener
//!   ([`crate::pipeline::StreamId`]), as the producer's encoder keeps each key's stream
//!   self-contained.
//! - **At least once.** Offsets are committed (every second, at a rebalance and at shutdown)
//!   only up to records the exporters have taken: every batch carries a token its events
//!   hold ([`acks`]). `enable.auto.commit` is forced off.
//! - **Rebalances.** A member losing partitions first hands on what it has read, waits for
//!   the pipeline to take it and commits. A member given a partition it did not just drain
//!   starts at the committed offset, but first reads back `kafka.replay` (by message time;
//!   from the oldest offset when the broker cannot look times up) and forwards only the
//!   headers and entities before the committed offset, so the tables hold what the records
//!   after it refer to; the producers start each stream over every `kafka.epoch`, so that
//!   far back always holds a header of every live stream ([`group`]).
//!
//! Counters: `in` = messages read, `out` = records handed to the pipeline, `filtered` =
//! events read back during a replay and not forwarded again, `decode_errors` = messages
//! that are not a SysFlow datum (logged, skipped, committed).

mod acks;
mod group;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context;
use crossbeam_channel::Receiver;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};

use super::decode;
use crate::config::KafkaSource;
use crate::pipeline::{Closed, Intake, StageStats, StreamId, BATCH};
use acks::{Acks, Tp};

/// How long a poll waits for messages before handing a partial batch on.
const POLL: Duration = Duration::from_millis(100);
/// How often taken offsets are committed.
const COMMIT_EVERY: Duration = Duration::from_secs(1);
/// How long a rebalance or shutdown waits for the pipeline to take what was read.
const DRAIN_DEADLINE: Duration = Duration::from_secs(30);
/// Timeout of the broker requests made during a rebalance.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What the read loop and the rebalance callbacks share (both run on the driver's thread,
/// the callbacks inside `poll`; the locks are never contended).
struct Shared {
    intake: Mutex<Intake>,
    state: Mutex<State>,
    done: Receiver<u64>,
    topics: Vec<String>,
    replay: Duration,
    stats: Arc<StageStats>,
}

struct State {
    acks: Acks,
    /// Stream of each key, per partition.
    streams: HashMap<Tp, HashMap<Vec<u8>, StreamId>>,
    next_stream: StreamId,
    /// Partitions being read back: before this offset only headers and entities go on.
    replay_until: HashMap<Tp, i64>,
    /// Partitions this member drained and committed when they were revoked, and at what
    /// offset: their tables are still good if they come back unchanged.
    drained: HashMap<Tp, i64>,
    /// Last offset committed per partition.
    committed: HashMap<Tp, i64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl State {
    fn new(acks: Acks) -> Self {
        State {
            acks,
            streams: HashMap::new(),
            next_stream: 0,
            replay_until: HashMap::new(),
            drained: HashMap::new(),
            committed: HashMap::new(),
        }
    }

    fn acks(&mut self) -> &mut Acks {
        &mut self.acks
    }

    fn stream(&mut self, tp: Tp, key: &[u8]) -> StreamId {
        let keys = self.streams.entry(tp).or_default();
        if let Some(s) = keys.get(key) {
            return *s;
        }
        // Stream 0 is the single-stream drivers'; ours start at 1.
        self.next_stream = self.next_stream.wrapping_add(1).max(1);
        keys.insert(key.to_vec(), self.next_stream);
        self.next_stream
    }
}

impl Shared {
    fn tp(&self, topic: &str, partition: i32) -> Option<Tp> {
        let i = self.topics.iter().position(|t| t == topic)?;
        Some((i as u16, partition))
    }

    /// Applies the completions reported so far.
    fn settle(&self) {
        let mut st = lock(&self.state);
        for seq in self.done.try_iter() {
            st.acks().done(seq);
        }
    }

    /// Hands the partial batch on.
    fn flush(&self) -> Result<(), Closed> {
        let r = lock(&self.intake).flush();
        lock(&self.state).acks().close();
        r
    }

    /// Hands everything read on and waits (bounded) until the pipeline has taken it.
    fn drain(&self) {
        let _ = self.flush();
        let deadline = Instant::now() + DRAIN_DEADLINE;
        loop {
            self.settle();
            let left = lock(&self.state).acks().in_flight();
            if left == 0 {
                return;
            }
            if Instant::now() >= deadline {
                tracing::warn!(
                    "{}: {left} batches still in the pipeline after {DRAIN_DEADLINE:?}; their offsets stay uncommitted",
                    self.stats.label
                );
                return;
            }
            if let Ok(seq) = self.done.recv_timeout(Duration::from_millis(100)) {
                lock(&self.state).acks().done(seq);
            }
        }
    }

    /// Commits what the pipeline has taken since the last commit.
    fn commit(&self, c: &BaseConsumer<group::Group>, mode: CommitMode) {
        let mut tpl = TopicPartitionList::new();
        let mut st = lock(&self.state);
        let fresh: Vec<(Tp, i64)> = st
            .acks()
            .committable()
            .collect::<Vec<_>>()
            .into_iter()
            .filter(|(tp, o)| st.committed.get(tp).is_none_or(|c| o > c))
            .collect();
        if fresh.is_empty() {
            return;
        }
        for ((t, p), o) in &fresh {
            let _ = tpl.add_partition_offset(&self.topics[*t as usize], *p, Offset::Offset(*o));
        }
        match c.commit(&tpl, mode) {
            Ok(()) => st.committed.extend(fresh),
            Err(e) => tracing::warn!("{}: offset commit failed: {e}", self.stats.label),
        }
    }

    /// Forgets the streams of a partition: the flattener drops their tables.
    fn forget(&self, st: &mut State, tp: Tp) {
        if let Some(keys) = st.streams.remove(&tp) {
            let mut intake = lock(&self.intake);
            for s in keys.into_values() {
                intake.forget(s);
            }
        }
    }

    /// One message: decoded, and forwarded unless it is an event read back in a replay.
    fn handle(&self, m: &BorrowedMessage<'_>) -> Result<(), Closed> {
        StageStats::add(&self.stats.input, 1);
        let Some(tp) = self.tp(m.topic(), m.partition()) else {
            return Ok(());
        };
        let offset = m.offset();
        let rec = match decode::decode_datum(m.payload().unwrap_or_default()) {
            Ok(r) => Some(r),
            Err(e) => {
                let n = self.stats.decode_errors.fetch_add(1, Relaxed) + 1;
                if n <= 10 || n.is_multiple_of(1000) {
                    tracing::warn!(
                        "{}: skipping message {}/{}@{offset}: not a SysFlow datum: {e:#} ({n} so far)",
                        self.stats.label,
                        m.topic(),
                        m.partition()
                    );
                }
                None
            }
        };
        let (token, forward) = {
            let mut st = lock(&self.state);
            let token = st.acks().open();
            st.acks().note(tp, offset);
            let replaying = match st.replay_until.get(&tp) {
                Some(&until) if offset < until => true,
                Some(_) => {
                    st.replay_until.remove(&tp);
                    false
                }
                None => false,
            };
            let forward = rec.map(|r| {
                if replaying && r.record_type().is_event_or_flow() {
                    StageStats::add(&self.stats.filtered, 1);
                    None
                } else {
                    Some((st.stream(tp, m.key().unwrap_or_default()), r))
                }
            });
            (token, forward.flatten())
        };
        let pending = {
            let mut intake = lock(&self.intake);
            if let Some(t) = token {
                intake.set_ack(t);
            }
            if let Some((stream, rec)) = forward {
                intake.push_to(stream, rec)?;
            }
            intake.pending()
        };
        if pending == 0 {
            lock(&self.state).acks().close();
        }
        Ok(())
    }
}

/// Reads the topics into the pipeline until `stop` is set or the pipeline goes away; then
/// drains, commits and leaves the group.
pub fn run(src: &KafkaSource, intake: Intake, stop: &AtomicBool) -> anyhow::Result<()> {
    let (done_tx, done_rx) = crossbeam_channel::unbounded();
    let stats = intake.stats.clone();
    let shared = Arc::new(Shared {
        intake: Mutex::new(intake),
        state: Mutex::new(State::new(Acks::new(done_tx))),
        done: done_rx,
        topics: src.topics.clone(),
        replay: src.replay,
        stats: stats.clone(),
    });
    let consumer: BaseConsumer<group::Group> = src
        .props
        .client_config()
        .create_with_context(group::Group::new(shared.clone()))
        .context("cannot create the Kafka consumer")?;
    let topics: Vec<&str> = src.topics.iter().map(String::as_str).collect();
    consumer
        .subscribe(&topics)
        .with_context(|| format!("cannot subscribe to {}", src.topics.join(",")))?;
    tracing::info!(
        "consuming {} from {} as a member of group {}",
        src.topics.join(","),
        src.props.get("bootstrap.servers").unwrap_or_default(),
        src.props.get("group.id").unwrap_or_default()
    );
    let mut last_commit = Instant::now();
    'read: while !stop.load(Relaxed) {
        shared.settle();
        if last_commit.elapsed() >= COMMIT_EVERY {
            shared.commit(&consumer, CommitMode::Async);
            last_commit = Instant::now();
        }
        let mut timeout = POLL;
        for _ in 0..BATCH {
            match consumer.poll(timeout) {
                None => break,
                Some(Ok(m)) => {
                    if shared.handle(&m).is_err() {
                        break 'read;
                    }
                }
                Some(Err(e)) => {
                    tracing::warn!("{}: Kafka: {e}", stats.label);
                    break;
                }
            }
            timeout = Duration::ZERO;
            if stop.load(Relaxed) {
                break;
            }
        }
        if shared.flush().is_err() {
            break;
        }
    }
    shared.drain();
    shared.commit(&consumer, CommitMode::Sync);
    // Leaving the group revokes the partitions (already drained and committed).
    drop(consumer);
    Ok(())
}
