//! Decode throughput of the container reader (plain timing, `cargo bench --bench decode`).
//! Input: an in-memory file of flows and events (FileFlow, NetworkFlow, ProcessEvent) like a
//! collector trace, in both codecs.

use std::time::Instant;

use sysflow_model::avro::{Codec, Reader, Writer};
use sysflow_model::*;

fn records(n: usize) -> Vec<SysFlow> {
    (0..n)
        .map(|i| {
            let oid = Oid {
                create_ts: 1_700_000_000_000_000_000 + i as i64 % 97,
                hpid: 1000 + i as i64 % 89,
            };
            let ts = 1_700_000_000_000_000_000 + i as i64 * 1000;
            match i % 4 {
                0 | 1 => SysFlow::FileFlow(FileFlow {
                    proc_oid: oid,
                    ts,
                    tid: oid.hpid,
                    op_flags: OpFlags(OpFlags::OPEN | OpFlags::READ | OpFlags::CLOSE),
                    open_flags: OpenFlags(OpenFlags::RDONLY),
                    end_ts: ts + 5000,
                    file_oid: Foid([i as u8; 20]),
                    fd: 3,
                    num_r_recv_ops: 2,
                    num_w_send_ops: 0,
                    num_r_recv_bytes: 8192,
                    num_w_send_bytes: 0,
                }),
                2 => SysFlow::NetworkFlow(NetworkFlow {
                    proc_oid: oid,
                    ts,
                    tid: oid.hpid,
                    op_flags: OpFlags(OpFlags::CONNECT | OpFlags::WRITE),
                    end_ts: ts + 9000,
                    sip: 16777343,
                    sport: 40000 + (i % 20000) as i32,
                    dip: 16777343,
                    dport: 443,
                    proto: 6,
                    fd: 5,
                    num_r_recv_ops: 1,
                    num_w_send_ops: 1,
                    num_r_recv_bytes: 300,
                    num_w_send_bytes: 120,
                }),
                _ => SysFlow::ProcessEvent(ProcessEvent {
                    proc_oid: oid,
                    ts,
                    tid: oid.hpid,
                    op_flags: OpFlags(OpFlags::EXEC),
                    args: vec![],
                    ret: 0,
                }),
            }
        })
        .collect()
}

fn main() {
    let n = 2_000_000;
    let recs = records(n);
    for codec in [Codec::Null, Codec::Deflate] {
        let mut w = Writer::new(Vec::new(), codec).expect("writer");
        let t = Instant::now();
        for r in &recs {
            w.write(r).expect("write");
        }
        let bytes = w.finish().expect("finish");
        let wt = t.elapsed();
        let mut best = f64::MAX;
        for _ in 0..3 {
            let t = Instant::now();
            let mut count = 0usize;
            for r in Reader::new(&bytes[..]).expect("reader") {
                std::hint::black_box(r.expect("record"));
                count += 1;
            }
            assert_eq!(count, n);
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!(
            "{codec:?}: {} bytes; write {:.2} M rec/s; read {:.2} M rec/s ({:.0} MB/s of file)",
            bytes.len(),
            n as f64 / wt.as_secs_f64() / 1e6,
            n as f64 / best / 1e6,
            bytes.len() as f64 / best / 1e6
        );
    }
}
