//! The backlog in process: limits and drop policies, the disk buffer's order and recovery,
//! retries, and damaged segments. The expected records are numbered by the tests themselves
//! (`rec-<n>`), so order and losses are checked against what was pushed.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

use super::*;

fn cfg(max: u64, when_full: WhenFull, disk: Option<&Path>) -> BacklogConfig {
    BacklogConfig {
        max_bytes: max,
        when_full,
        path: disk.map(Path::to_path_buf),
        disk_max_bytes: 8 << 20,
    }
}

fn open(c: &BacklogConfig) -> (Buffer, Outbox, Arc<StageStats>) {
    let stats = Arc::new(StageStats::default());
    let (b, o) = Buffer::open(
        c,
        Records::SyslogLines,
        stats.clone(),
        Arc::new(AtomicBool::new(false)),
    )
    .unwrap();
    (b, o, stats)
}

/// Records `rec-<from>` … `rec-<to - 1>`, each padded to 100 bytes.
fn batch(from: usize, to: usize) -> Frames {
    let mut f = Frames::default();
    for i in from..to {
        f.push(format!("rec-{i:<96}").as_bytes());
    }
    f
}

fn numbers(f: &Frames) -> Vec<usize> {
    f.iter()
        .map(|r| {
            let s = std::str::from_utf8(r).unwrap();
            s[4..].trim().parse().unwrap()
        })
        .collect()
}

/// Takes and confirms everything there is (the backlog must be closed first).
fn drain(o: &mut Outbox) -> Vec<usize> {
    let mut got = Vec::new();
    let mut chunk = Frames::default();
    while o.take(&mut chunk) == Take::Records {
        got.extend(numbers(&chunk));
        o.confirm(chunk.len());
    }
    got
}

#[test]
fn memory_drop_oldest_keeps_the_newest_that_fit() {
    let (mut b, mut o, stats) = open(&cfg(64 << 10, WhenFull::DropOldest, None));
    // 100-byte records, 655 fit in 64 KiB; 1000 pushed with nothing delivered.
    b.push(&batch(0, 1000));
    assert_eq!(stats.backlog.dropped_full.load(Relaxed), 345);
    assert_eq!(stats.dropped.load(Relaxed), 345);
    assert_eq!(stats.backlog.records.load(Relaxed), 655);
    assert_eq!(stats.backlog.bytes.load(Relaxed), 65_500);
    b.close();
    assert_eq!(drain(&mut o), (345..1000).collect::<Vec<_>>());
}

#[test]
fn memory_drop_newest_keeps_the_oldest_and_spares_records_in_flight() {
    let (mut b, mut o, stats) = open(&cfg(64 << 10, WhenFull::DropNewest, None));
    b.push(&batch(0, 10));
    let mut chunk = Frames::default();
    assert_eq!(o.take(&mut chunk), Take::Records);
    assert_eq!(numbers(&chunk), (0..10).collect::<Vec<_>>());
    // In flight, still counted against the limit: 645 more fit.
    b.push(&batch(10, 1000));
    assert_eq!(stats.backlog.dropped_full.load(Relaxed), 345);
    // The connection is lost: the ten go again, first.
    o.retry();
    b.close();
    assert_eq!(drain(&mut o), (0..655).collect::<Vec<_>>());
}

#[test]
fn memory_drop_oldest_also_drops_records_sent_once_and_taken_back() {
    let (mut b, mut o, stats) = open(&cfg(64 << 10, WhenFull::DropOldest, None));
    b.push(&batch(0, 10));
    let mut chunk = Frames::default();
    assert_eq!(o.take(&mut chunk), Take::Records);
    // The connection broke before the write: the ten are no longer in flight.
    o.retry();
    b.push(&batch(10, 1000));
    assert_eq!(stats.backlog.dropped_full.load(Relaxed), 345);
    b.close();
    assert_eq!(drain(&mut o), (345..1000).collect::<Vec<_>>());
}

#[test]
fn shutdown_counts_what_memory_could_not_deliver() {
    let (mut b, o, stats) = open(&cfg(1 << 20, WhenFull::Block, None));
    b.push(&batch(0, 50));
    b.close();
    o.finish("nowhere");
    assert_eq!(stats.backlog.dropped_shutdown.load(Relaxed), 50);
    assert_eq!(stats.dropped.load(Relaxed), 50);
    assert_eq!(stats.backlog.records.load(Relaxed), 0);
}

#[test]
fn disk_keeps_order_across_an_outage_with_records_in_flight_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let c = cfg(64 << 10, WhenFull::Block, Some(dir.path()));
    let (mut b, mut o, stats) = open(&c);
    b.push(&batch(0, 300));
    let mut chunk = Frames::default();
    assert_eq!(o.take(&mut chunk), Take::Records);
    assert_eq!(numbers(&chunk), (0..256).collect::<Vec<_>>());
    // The server goes away with 256 records in flight: all 300 go to disk, then the rest.
    o.set_reachable(false);
    b.push(&batch(300, 2000));
    assert_eq!(stats.backlog.persisted.load(Relaxed), 2000);
    assert_eq!(stats.backlog.records.load(Relaxed), 2000);
    // The first 100 of the chunk were confirmed before the connection broke.
    o.confirm(100);
    o.retry();
    o.set_reachable(true);
    assert_eq!(o.take(&mut chunk), Take::Records);
    assert_eq!(numbers(&chunk), (100..356).collect::<Vec<_>>());
    o.confirm(chunk.len());
    // A restart (no shutdown: as after kill -9) brings back what was not confirmed.
    drop((b, o));
    let (mut b, mut o, stats) = open(&c);
    assert_eq!(stats.backlog.records.load(Relaxed), 2000 - 356);
    b.push(&batch(2000, 2100));
    b.close();
    assert_eq!(drain(&mut o), (356..2100).collect::<Vec<_>>());
    o.finish("test");
    assert_eq!(stats.backlog.records.load(Relaxed), 0);
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".seg"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_damaged_ledger_means_delivering_again_from_the_oldest_record() {
    let dir = tempfile::tempdir().unwrap();
    let c = cfg(64 << 10, WhenFull::Block, Some(dir.path()));
    {
        let (mut b, mut o, _) = open(&c);
        o.set_reachable(false);
        b.push(&batch(0, 300));
        o.set_reachable(true);
        let mut chunk = Frames::default();
        assert_eq!(o.take(&mut chunk), Take::Records);
        o.confirm(100);
    }
    std::fs::write(dir.path().join("ledger"), b"garbage").unwrap();
    let (b, mut o, stats) = open(&c);
    assert_eq!(stats.backlog.records.load(Relaxed), 300);
    b.close();
    assert_eq!(drain(&mut o), (0..300).collect::<Vec<_>>());
}

#[test]
fn a_second_backlog_on_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let c = cfg(64 << 10, WhenFull::Block, Some(dir.path()));
    let _first = open(&c);
    let stats = Arc::new(StageStats::default());
    let e = Buffer::open(
        &c,
        Records::SyslogLines,
        stats,
        Arc::new(AtomicBool::new(false)),
    )
    .err()
    .unwrap();
    assert!(format!("{e:#}").contains("in use"), "{e:#}");
}

#[test]
fn a_directory_of_the_other_record_kind_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let c = cfg(64 << 10, WhenFull::Block, Some(dir.path()));
    let stop = || Arc::new(AtomicBool::new(false));
    let open_as = |r: Records| Buffer::open(&c, r, Arc::new(StageStats::default()), stop());
    // A syslog backlog leaves a record on disk (the server is down).
    {
        let (mut b, mut o) = open_as(Records::SyslogLines).unwrap();
        o.set_reachable(false);
        b.push(&batch(0, 1));
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("format")).unwrap(),
        "syslog-lines 1\n"
    );
    let e = format!("{:#}", open_as(Records::KafkaMessages).err().unwrap());
    assert!(
        e.contains("another kind")
            && e.contains("syslog-lines 1")
            && e.contains("kafka-messages 1"),
        "{e}"
    );
    // Segments from before the format file: a syslog exporter's.
    std::fs::remove_file(dir.path().join("format")).unwrap();
    assert!(open_as(Records::KafkaMessages).is_err());
    let (_b, mut o) = open_as(Records::SyslogLines).unwrap();
    let mut f = Frames::default();
    assert_eq!(o.take(&mut f), Take::Records);
    assert_eq!(numbers(&f), [0]);
}

#[test]
fn disk_full_drops_newest_or_oldest_segment_exactly() {
    for policy in [WhenFull::DropNewest, WhenFull::DropOldest] {
        let dir = tempfile::tempdir().unwrap();
        let mut c = cfg(64 << 10, policy, Some(dir.path()));
        c.disk_max_bytes = 1 << 20;
        let (mut b, mut o, stats) = open(&c);
        o.set_reachable(false);
        // 116 bytes a frame: 1 MiB holds about 9,000 records.
        b.push(&batch(0, 20_000));
        let dropped = stats.backlog.dropped_full.load(Relaxed) as usize;
        let kept = stats.backlog.records.load(Relaxed) as usize;
        assert_eq!(kept + dropped, 20_000, "{policy:?}");
        assert!(stats.backlog.disk_bytes.load(Relaxed) <= 1 << 20);
        o.set_reachable(true);
        b.close();
        let got = drain(&mut o);
        let expect: Vec<usize> = match policy {
            WhenFull::DropNewest => (0..kept).collect(),
            _ => (dropped..20_000).collect(),
        };
        assert_eq!(got, expect, "{policy:?}");
    }
}

#[test]
fn damaged_segments_are_reported_and_the_rest_is_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(64 << 10, WhenFull::Block, Some(dir.path()));
    c.disk_max_bytes = 4 << 20; // 512 KiB segments: about 4,500 records each
    {
        let (mut b, mut o, stats) = open(&c);
        o.set_reachable(false);
        b.push(&batch(0, 20_000));
        assert_eq!(stats.backlog.persisted.load(Relaxed), 20_000);
    }
    let mut segs: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".seg"))
        .collect();
    segs.sort();
    assert!(segs.len() >= 4, "{segs:?}");
    let first = |n: &str| n[..20].parse::<usize>().unwrap();
    let frame = FRAME_HEADER + 100;
    // Segment 1: one byte flipped in the payload of its 11th record.
    let p1 = dir.path().join(&segs[1]);
    let mut d = std::fs::read(&p1).unwrap();
    d[8 + 10 * frame + FRAME_HEADER + 5] ^= 0x20;
    std::fs::write(&p1, d).unwrap();
    let lost1 = first(&segs[1]) + 10;
    // Segment 2: cut in the middle of its 101st record.
    let p2 = dir.path().join(&segs[2]);
    let f = std::fs::OpenOptions::new().write(true).open(&p2).unwrap();
    f.set_len((8 + 100 * frame + 50) as u64).unwrap();
    let lost2 = first(&segs[2]) + 100..first(&segs[3]);
    // Segment 3: a flipped length field in its first record, and a bad header.
    let p3 = dir.path().join(&segs[3]);
    let mut d = std::fs::read(&p3).unwrap();
    d[0] = b'X';
    d[8 + 1] ^= 0x40;
    std::fs::write(&p3, d).unwrap();
    let lost3 = first(&segs[3]);

    let (b, mut o, stats) = open(&c);
    b.close();
    let got = drain(&mut o);
    let want: Vec<usize> = (0..20_000)
        .filter(|&i| i != lost1 && !lost2.contains(&i) && i != lost3)
        .collect();
    assert_eq!(got, want);
    let lost = 2 + lost2.len() as u64;
    assert_eq!(stats.backlog.dropped_corrupt.load(Relaxed), lost);
    assert_eq!(stats.dropped.load(Relaxed), lost);
}

#[test]
fn a_segment_left_without_its_header_is_started_again() {
    let dir = tempfile::tempdir().unwrap();
    let c = cfg(64 << 10, WhenFull::Block, Some(dir.path()));
    // As if the sensor had stopped right after creating the file.
    std::fs::write(dir.path().join("00000000000000000000.seg"), b"SFB").unwrap();
    let (mut b, mut o, stats) = open(&c);
    o.set_reachable(false);
    b.push(&batch(0, 10));
    o.set_reachable(true);
    b.close();
    assert_eq!(drain(&mut o), (0..10).collect::<Vec<_>>());
    assert_eq!(stats.backlog.dropped_corrupt.load(Relaxed), 0);
}
