//! Live-stream datum decoder (one v5 datum per socket message) + flattener.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysflow_model::avro::datum::{decode_datum, encode_datum, peek_header_version};
use sysflow_model::{Flattener, TableConfig};

fuzz_target!(|data: &[u8]| {
    let _ = peek_header_version(data);
    match decode_datum(data) {
        Ok(rec) => {
            // A datum that decodes re-encodes to a datum that decodes to the same record.
            let mut again = Vec::new();
            encode_datum(&rec, &mut again);
            assert_eq!(decode_datum(&again).as_ref(), Ok(&rec));
            let mut flat = Flattener::new(TableConfig::default());
            let _ = flat.push(rec);
        }
        Err(e) => assert!(e.pos() <= data.len(), "position past the message: {e}"),
    }
});
