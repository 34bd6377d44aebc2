//! Integration tests of sysflow-model's Avro encoding, one binary with a module per topic:
//!
//! - `apache`: our schema and datums agree with the apache-avro crate and the official schema;
//! - `ocf`: container files (round trips, interoperability, every error with its offset, a
//!   corruption fuzz);
//! - `traces`: every real trace in `../shared/traces` reads completely, with the reference's
//!   counts and field values.
//!
//! `common` holds what they share: where the reference folder is and one sample of each
//! record type.

mod common;

mod apache;
mod ocf;
mod traces;
