//! Avro encoding of SysFlow: object container files ([`Reader`], [`Writer`]) and bare
//! datums of the live stream ([`datum`]).
//!
//! Reading compiles the writer schema embedded in each file into a small decode program
//! (per union branch, matched by full record name) that fills the record structs directly,
//! so every SysFlow version, legacy layouts included, reads into the same types.

mod cursor;
pub mod datum;
mod decode;
mod encode;
mod error;
mod ocf;
mod schema;

pub use error::{DatumError, ReadError, WriteError};
pub use ocf::{Codec, Reader, Writer, MAX_BLOCK_BYTES};
pub use schema::SYSFLOW_V5_SCHEMA;
