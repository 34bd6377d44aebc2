//! Encoding on several cores with the output order kept.
//!
//! Jobs (a batch of records and the buffer its documents go into) are handed to the workers
//! in turn, one lane per worker, and taken back in the same turn: the k-th job taken back is
//! the k-th handed out, whatever order the workers finish in. At most `window` jobs are in
//! flight; handing out one more first waits for the oldest. A job comes back whole, so its
//! buffers are reused for the next one (no allocation per batch).
//!
//! Used by `sensor print` (JSON) and by the exporter stage (`export::Exporter`). Workers run
//! wherever the caller spawns them (scoped threads for print, stage threads for the
//! exporter): see [`Worker::run`].

use crossbeam_channel::{unbounded, Receiver, Sender, TryRecvError};

/// A worker stopped before returning a job (it panicked).
#[derive(Debug, thiserror::Error)]
#[error("an encoding worker stopped")]
pub struct WorkerGone;

struct Lane<J> {
    tx: Sender<J>,
    rx: Receiver<J>,
}

/// The dispatching side: hands jobs out and takes them back in order.
pub struct Ordered<J> {
    lanes: Vec<Lane<J>>,
    /// Lane of the next job handed out.
    next_in: usize,
    /// Lane of the oldest job in flight.
    next_out: usize,
    in_flight: usize,
    window: usize,
}

/// The working side of one lane.
pub struct Worker<J> {
    rx: Receiver<J>,
    tx: Sender<J>,
}

/// A dispatcher with `workers` lanes (at least one) and at most `per_worker` jobs in flight
/// per lane, and the workers to run.
pub fn ordered<J: Send>(workers: usize, per_worker: usize) -> (Ordered<J>, Vec<Worker<J>>) {
    let n = workers.max(1);
    let mut lanes = Vec::with_capacity(n);
    let mut ws = Vec::with_capacity(n);
    for _ in 0..n {
        // Unbounded, but never holding more than the window: submit waits before it is full.
        let (job_tx, job_rx) = unbounded();
        let (done_tx, done_rx) = unbounded();
        lanes.push(Lane {
            tx: job_tx,
            rx: done_rx,
        });
        ws.push(Worker {
            rx: job_rx,
            tx: done_tx,
        });
    }
    let window = n * per_worker.max(1);
    (
        Ordered {
            lanes,
            next_in: 0,
            next_out: 0,
            in_flight: 0,
            window,
        },
        ws,
    )
}

impl<J> Ordered<J> {
    /// Hands `job` to the next worker. When the window is full, first waits for the oldest
    /// job and returns it (the caller writes it out before anything newer).
    pub fn submit(&mut self, job: J) -> Result<Option<J>, WorkerGone> {
        let oldest = if self.in_flight >= self.window {
            self.wait_oldest()?
        } else {
            None
        };
        self.lanes[self.next_in]
            .tx
            .send(job)
            .map_err(|_| WorkerGone)?;
        self.next_in = (self.next_in + 1) % self.lanes.len();
        self.in_flight += 1;
        Ok(oldest)
    }

    /// The oldest job if it is done, without waiting.
    pub fn poll_oldest(&mut self) -> Result<Option<J>, WorkerGone> {
        if self.in_flight == 0 {
            return Ok(None);
        }
        match self.lanes[self.next_out].rx.try_recv() {
            Ok(j) => Ok(Some(self.took(j))),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(WorkerGone),
        }
    }

    /// The oldest job, waiting for it; `None` when no job is in flight.
    pub fn wait_oldest(&mut self) -> Result<Option<J>, WorkerGone> {
        if self.in_flight == 0 {
            return Ok(None);
        }
        let j = self.lanes[self.next_out]
            .rx
            .recv()
            .map_err(|_| WorkerGone)?;
        Ok(Some(self.took(j)))
    }

    /// Where the oldest job in flight comes back, to wait for it among other things (a
    /// `select!`); pass what it yields to [`Ordered::took`]. `None` when no job is in flight.
    pub fn oldest(&self) -> Option<Receiver<J>> {
        (self.in_flight > 0).then(|| self.lanes[self.next_out].rx.clone())
    }

    /// Records that the oldest job was received from [`Ordered::oldest`]; returns it.
    pub fn took(&mut self, j: J) -> J {
        self.next_out = (self.next_out + 1) % self.lanes.len();
        self.in_flight -= 1;
        j
    }

    /// Jobs handed out and not yet taken back.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }
}

impl<J> Worker<J> {
    /// Runs `f` on each job of this lane and returns it, until the dispatcher is dropped.
    pub fn run(self, mut f: impl FnMut(&mut J)) {
        while let Ok(mut j) = self.rx.recv() {
            f(&mut j);
            if self.tx.send(j).is_err() {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Jobs that take longer on one worker than on the other still come back in order.
    #[test]
    fn results_come_back_in_submission_order() {
        let (mut pool, workers) = ordered::<(u64, u64)>(3, 2);
        std::thread::scope(|s| {
            for (w, worker) in workers.into_iter().enumerate() {
                s.spawn(move || {
                    worker.run(|j| {
                        if w == 0 {
                            std::thread::sleep(std::time::Duration::from_millis(2));
                        }
                        j.1 = j.0 * j.0;
                    })
                });
            }
            let mut got = Vec::new();
            for i in 0..100u64 {
                if let Some(j) = pool.submit((i, 0)).unwrap() {
                    got.push(j);
                }
                assert!(pool.in_flight() <= 6);
                while let Some(j) = pool.poll_oldest().unwrap() {
                    got.push(j);
                }
            }
            while let Some(j) = pool.wait_oldest().unwrap() {
                got.push(j);
            }
            let want: Vec<(u64, u64)> = (0..100).map(|i| (i, i * i)).collect();
            assert_eq!(got, want);
            drop(pool);
        });
    }

    #[test]
    fn a_dead_worker_is_an_error_not_a_hang() {
        let (mut pool, workers) = ordered::<u32>(1, 1);
        drop(workers);
        assert!(pool.submit(1).is_err());
    }
}
