//! JSON printing on several cores: the reading thread decodes, flattens and filters, and
//! hands batches of flat records to encoding threads (`export::encode::parallel`), then
//! writes the encoded batches in input order, each in one large write.

use std::io::{self, Write};

use sysflow_model::flat::FlatRecord;

use super::json::{Fragments, Layout};
use super::render::Rec;
use super::schema::SchemaTraits;
use crate::export::encode::parallel::{self, Ordered, WorkerGone};

/// Records per batch handed to an encoding thread (~2 MB of JSON).
pub const BATCH: usize = 1024;
/// Batches in flight per encoding thread.
const PER_THREAD: usize = 2;

/// A batch of records and the buffer their JSON goes into.
#[derive(Default)]
pub struct Batch {
    recs: Vec<FlatRecord>,
    /// Records printed before this batch (the `-w` array separator goes before all others).
    first: u64,
    out: Vec<u8>,
}

/// Encodes a batch: one object per record, each followed by a newline, or with `array`
/// separated by ", " (the `[` and `]` are the printer's). The records are dropped here, on
/// the encoding thread.
fn encode(
    layout: &Layout,
    traits: &SchemaTraits,
    array: bool,
    frags: &mut Fragments,
    scratch: &mut Vec<u8>,
    b: &mut Batch,
) {
    b.out.clear();
    for (i, fr) in b.recs.iter().enumerate() {
        if array && b.first + i as u64 > 0 {
            b.out.extend_from_slice(b", ");
        }
        let rec = Rec { flat: fr, traits };
        layout.write_cached(&rec, &mut b.out, scratch, frags);
        if !array {
            b.out.push(b'\n');
        }
    }
    b.recs.clear();
}

fn gone(e: WorkerGone) -> io::Error {
    io::Error::other(e)
}

/// The reading thread's side: collects records into batches, hands them out, writes what
/// comes back.
pub struct Batcher<'w, W: Write> {
    pool: Ordered<Batch>,
    cur: Batch,
    spare: Vec<Batch>,
    /// Records printed so far (over all files).
    records: &'w mut u64,
    out: &'w mut W,
}

impl<W: Write> Batcher<'_, W> {
    /// Takes one record to print.
    pub fn push(&mut self, fr: FlatRecord) -> io::Result<()> {
        self.cur.recs.push(fr);
        if self.cur.recs.len() >= BATCH {
            self.submit()?;
        }
        Ok(())
    }

    fn submit(&mut self) -> io::Result<()> {
        let next = self.spare.pop().unwrap_or_default();
        let mut b = std::mem::replace(&mut self.cur, next);
        b.first = *self.records;
        *self.records += b.recs.len() as u64;
        if let Some(done) = self.pool.submit(b).map_err(gone)? {
            self.write(done)?;
        }
        while let Some(done) = self.pool.poll_oldest().map_err(gone)? {
            self.write(done)?;
        }
        Ok(())
    }

    fn write(&mut self, b: Batch) -> io::Result<()> {
        let res = self.out.write_all(&b.out);
        self.spare.push(b);
        res
    }

    /// Hands out the last partial batch and writes every batch still in flight.
    fn finish(&mut self) -> io::Result<()> {
        if !self.cur.recs.is_empty() {
            self.submit()?;
        }
        while let Some(done) = self.pool.wait_oldest().map_err(gone)? {
            self.write(done)?;
        }
        Ok(())
    }
}

/// Runs `body` with a [`Batcher`] whose batches `threads` threads encode with `layout`; every
/// record `body` pushed is written to `out` before this returns (unless writing failed).
pub fn with_threads<W: Write, T>(
    layout: &Layout,
    traits: &SchemaTraits,
    threads: usize,
    array: bool,
    records: &mut u64,
    out: &mut W,
    body: impl FnOnce(&mut Batcher<'_, W>) -> io::Result<T>,
) -> io::Result<T> {
    let (pool, workers) = parallel::ordered::<Batch>(threads, PER_THREAD);
    std::thread::scope(|s| {
        for w in workers {
            s.spawn(move || {
                let mut frags = Fragments::new(layout);
                let mut scratch = Vec::with_capacity(1 << 10);
                w.run(|b| encode(layout, traits, array, &mut frags, &mut scratch, b));
            });
        }
        let mut b = Batcher {
            pool,
            cur: Batch::default(),
            spare: Vec::new(),
            records,
            out,
        };
        let res = body(&mut b).and_then(|t| b.finish().map(|()| t));
        // Dropping the dispatcher ends the workers, which the scope then joins.
        drop(b);
        res
    })
}
