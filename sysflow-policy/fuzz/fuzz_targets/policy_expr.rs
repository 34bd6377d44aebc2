//! The condition parser (lexer + recursive descent) on arbitrary text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysflow_policy::parse_condition;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = parse_condition(src) {
        // Diagnostics point inside the text (or at its end).
        assert!(
            e.at <= src.len(),
            "error offset {} past {}",
            e.at,
            src.len()
        );
    }
});
