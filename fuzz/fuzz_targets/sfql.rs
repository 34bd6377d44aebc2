//! The sfql query compiler (`sensor print -f EXPR --defs FILE`) on arbitrary text: the bytes
//! before the first NUL are the expression, the bytes after it a definitions file of
//! lists and macros. A query that compiles is evaluated on records of every type.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sysflow_policy::query::{Query, QueryScratch};
use sensor::print::sfql::SFQL;
use testkit::flat::records;

/// One definitions file per fuzzing process, rewritten for each input.
fn defs_path() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| std::env::temp_dir().join(format!("sfql-fuzz-{}.yaml", std::process::id())))
}

fuzz_target!(|data: &[u8]| {
    let (expr, defs) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let Ok(expr) = std::str::from_utf8(expr) else {
        return;
    };
    let mut files = Vec::new();
    if let Some(d) = defs {
        if std::fs::write(defs_path(), d).is_err() {
            return;
        }
        files.push(defs_path().clone());
    }
    if let Ok((query, _warnings)) = Query::compile("-f", expr, &files, &SFQL) {
        let mut scratch = QueryScratch::default();
        for r in records() {
            let _ = query.matches(r, &mut scratch);
        }
    }
});
