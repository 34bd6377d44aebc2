//! `pipeline.json` loading (raw JSON → plugin maps → env overrides → typed configs → channel
//! tree) on arbitrary text, with and without environment overrides. The `config` module
//! lives in the sensor binary, so it is compiled in here by path.
#![no_main]

use libfuzzer_sys::fuzz_target;

// TODO(lead): sensor::config — replace this include with `use sensor::config;` once public.
#[allow(dead_code, unused_imports)]
#[path = "../../sensor/src/config/mod.rs"]
mod config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = config::load_str(text, std::iter::empty());
    // The same with overrides for the keys every pipeline has.
    let env = [
        ("EXPORTER_EXPORT".to_string(), "file".to_string()),
        ("POLICYENGINE_MODE".to_string(), "enrich".to_string()),
        ("EXPORTER_SYSLOG.PORT".to_string(), "99999".to_string()),
    ];
    let _ = config::load_str(text, env);
});
