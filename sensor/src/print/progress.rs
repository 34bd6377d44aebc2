//! Progress bar on stderr while converting to a file (`-w`) from a terminal.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Input progress in bytes over all files; inert unless stderr is a terminal.
pub struct Progress {
    bar: Option<ProgressBar>,
    /// Bytes of the files already finished.
    done: u64,
}

impl Progress {
    /// A bar over `total` input bytes when `enabled` and stderr is a terminal.
    pub fn new(enabled: bool, total: u64) -> Progress {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta}) {msg}",
            ) {
                b.set_style(style);
            }
            b
        });
        Progress { bar, done: 0 }
    }

    /// Starts a file (its name is shown).
    pub fn start_file(&mut self, name: &str) {
        if let Some(b) = &self.bar {
            b.set_message(name.to_string());
        }
    }

    /// Position `offset` bytes into the current file.
    pub fn at(&self, offset: u64) {
        if let Some(b) = &self.bar {
            b.set_position(self.done + offset);
        }
    }

    /// The current file (of `size` bytes) is finished.
    pub fn end_file(&mut self, size: u64) {
        self.done += size;
        self.at(0);
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
