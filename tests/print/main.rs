//! `sensor print` and our `sysprint` binary: output compared with the real Python sysprint
//! 0.6.1 in every mode, options, legacy traces, bad input, sfql filters, S3 input against a
//! real S3 server (moto), Parquet/Arrow export read back with pyarrow, and the example
//! notebook. One module per topic; helpers in `testkit::print`.
//!
//! Tests that need a missing peer (../shared, sysprint, moto, pyarrow, jupyter) print
//! `SKIPPED: ...` and return.

use std::path::PathBuf;

mod bad_input;
mod compat;
mod entities;
mod legacy;
mod notebook;
mod options;
mod parquet;
mod s3;
mod sfql;

/// Our `sysprint` binary.
fn ours() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sysprint"))
}

/// The sensor binary (`sensor print`).
fn sensor() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sensor"))
}
