//! The policy loader (YAML, items, append/override, macros, compile) on arbitrary text; a
//! policy that loads is then evaluated against records of every type.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysflow_policy::{LoadOptions, Matches, Mode, PolicyEngine};
use testkit::flat::records;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for mode in [Mode::Alert, Mode::Enrich] {
        let opts = LoadOptions {
            mode,
            strict: data.first().is_some_and(|b| b & 1 == 1),
        };
        if let Ok((engine, _warnings)) = PolicyEngine::from_str("fuzz.yaml", text, opts) {
            let mut m = Matches::new();
            for r in records() {
                let _ = engine.process(r, &mut m);
            }
        }
    }
});
