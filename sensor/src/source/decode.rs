//! The decoding the drivers need, from `sysflow_model::avro`.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use anyhow::Context;
use sysflow_model::avro::{datum, Reader};
use sysflow_model::SysFlow;

/// Records of one trace file, decoded with the file's own writer schema.
pub type TraceIter = Box<dyn Iterator<Item = anyhow::Result<SysFlow>> + Send>;

/// Opens an Avro object container file of SysFlow records.
pub fn open_trace(path: &Path) -> anyhow::Result<TraceIter> {
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let r = Reader::new(BufReader::with_capacity(256 * 1024, f))
        .with_context(|| format!("{} is not a SysFlow trace", path.display()))?;
    Ok(Box::new(r.map(|x| x.map_err(anyhow::Error::from))))
}

/// Decodes one bare v5 datum (one socket message); never yields a half-decoded record.
pub fn decode_datum(bytes: &[u8]) -> anyhow::Result<SysFlow> {
    Ok(datum::decode_datum(bytes)?)
}
