//! Time: kernel (monotonic) timestamps to epoch nanoseconds, the periodic tick that writes
//! long-running flows and expires idle ones, and the flush that ends every open flow.

use sysflow_model::OpFlags;

use super::{Builder, FlowKey};

impl Builder {
    pub(super) fn epoch_ns(&self, ktime: u64) -> i64 {
        ktime as i64 + self.clocks.mono_to_epoch
    }

    /// Periodic work (call on every poll with the wall clock): write the containers whose
    /// metadata arrived; once a second, write long-running flows every export interval and
    /// expire idle ones.
    pub fn tick(&mut self, now: i64) {
        self.refresh_containers(now);
        if now - self.last_tick < 1_000_000_000 {
            return;
        }
        self.last_tick = now;
        let (exp, idle) = (self.cfg.export_interval_ns, self.cfg.expire_interval_ns);
        let due: Vec<FlowKey> = self
            .flows
            .iter()
            .filter(|(_, f)| now - f.last_export >= exp || now - f.last_activity >= idle)
            .map(|(k, _)| *k)
            .collect();
        for k in due {
            let Some(f) = self.flows.get(&k) else {
                continue;
            };
            if now - f.last_activity >= idle {
                self.stats.expired_flows += 1;
                if let Some(v) = self.by_fd.get_mut(&(k.tgid, k.fd)) {
                    v.retain(|x| *x != k);
                }
                self.flows.remove(&k);
                continue;
            }
            let Some(mut f) = self.flows.remove(&k) else {
                continue;
            };
            self.write_flow(k, &f, now);
            f.ts = now;
            f.last_export = now;
            f.op_flags = 0;
            (f.rops, f.wops, f.rbytes, f.wbytes) = (0, 0, 0, 0);
            self.flows.insert(k, f);
        }
    }

    /// Write every open flow with TRUNCATE (sensor shutdown or end of a file epoch).
    pub fn flush(&mut self, now: i64) {
        let keys: Vec<FlowKey> = self.flows.keys().copied().collect();
        for k in keys {
            self.finish_flow(k, now, OpFlags::TRUNCATE);
        }
    }
}
