//! Object container reader + flattener on arbitrary bytes: never panics, never allocates
//! more than the block cap, and stops at the first fault.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysflow_model::avro::Reader;
use sysflow_model::{Flattener, TableConfig};

fuzz_target!(|data: &[u8]| {
    let Ok(reader) = Reader::new(data) else {
        return;
    };
    let mut flat = Flattener::new(TableConfig::default());
    let mut faults = 0;
    for rec in reader {
        match rec {
            Ok(r) => {
                let _ = flat.push(r);
            }
            Err(e) => {
                // Every error names an offset inside (or at the end of) the input.
                assert!(
                    e.offset() <= data.len() as u64,
                    "offset past the input: {e}"
                );
                faults += 1;
            }
        }
    }
    assert!(
        faults <= 1,
        "the reader yields at most one error, then ends"
    );
});
