//! Signals: SIGINT/SIGTERM stop intake (a second one exits at once), SIGHUP reloads rules,
//! SIGUSR1 logs the counters.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

use crossbeam_channel::Sender;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use signal_hook::iterator::Signals;

use crate::pipeline::Registry;

/// Starts the signal thread.
pub fn spawn(stop: Arc<AtomicBool>, hup: Sender<()>, registry: Registry) -> anyhow::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP, SIGUSR1])?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                match sig {
                    SIGINT | SIGTERM => {
                        if stop.swap(true, Relaxed) {
                            tracing::warn!("second stop signal: exiting without draining");
                            registry.log("abort");
                            std::process::exit(130);
                        }
                        tracing::info!("stop signal: no more input; draining and flushing");
                    }
                    SIGHUP => {
                        let _ = hup.try_send(());
                    }
                    SIGUSR1 => registry.report("SIGUSR1"),
                    _ => {}
                }
            }
        })?;
    Ok(())
}
