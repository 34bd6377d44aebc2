//! The SysFlow data model.
//!
//! Records and enums of the SysFlow spec ([`record`], [`flags`]), Avro object-container
//! files and the live-stream datum format ([`avro`]), the entity tables a reader keeps
//! ([`tables`]) and the flat record with every `sf.*` attribute ([`flat`]).
//!
//! This crate knows nothing of the CLI: it never prints and never exits; errors are values.

pub mod avro;
pub mod flags;
pub mod flat;
pub mod record;
mod record_type;
pub mod tables;

#[cfg(test)]
mod testutil;

pub use flags::{OpFlags, OpenFlags};
pub use record::*;
pub use tables::{Flattener, FlattenerStats, TableConfig};
