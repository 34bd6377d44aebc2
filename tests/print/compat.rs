//! Our sysprint against the real Python sysprint 0.6.1 on every shared trace it can read:
//! json and flatjson compared record by record and key by key, csv cell by cell, and the
//! whole output byte for byte (str included).

use std::ffi::OsStr;
use std::path::Path;

use testkit::print::*;
use testkit::{sysprint_or_skip, traces_dir};

use super::ours;

fn args<'a>(v: &'a [&'a str], extra: &'a [&'a Path]) -> Vec<&'a OsStr> {
    v.iter()
        .map(OsStr::new)
        .chain(extra.iter().map(|p| p.as_os_str()))
        .collect()
}

fn compare_json(trace: &Path, real: &Path, mode: &str) {
    let a = run(real, &args(&["-o", mode], &[trace]));
    let b = run(&ours(), &args(&["-o", mode], &[trace]));
    assert!(
        b.status.success(),
        "{}: {}",
        trace.display(),
        String::from_utf8_lossy(&b.stderr)
    );
    let (ra, rb) = (json_lines(&a.stdout), json_lines(&b.stdout));
    assert_eq!(
        ra.len(),
        rb.len(),
        "{} -o {mode}: record count",
        trace.display()
    );
    for (i, (x, y)) in ra.iter().zip(&rb).enumerate() {
        let (ox, oy) = (
            x.as_object().expect("object"),
            y.as_object().expect("object"),
        );
        let kx: Vec<_> = ox.keys().collect();
        let ky: Vec<_> = oy.keys().collect();
        assert_eq!(kx, ky, "{} -o {mode} record {i}: keys", trace.display());
        for k in ox.keys() {
            assert_eq!(
                ox[k],
                oy[k],
                "{} -o {mode} record {i} key {k}",
                trace.display()
            );
        }
    }
    assert!(
        a.stdout == b.stdout,
        "{} -o {mode}: bytes differ",
        trace.display()
    );
}

#[test]
fn json_and_flatjson_equal_sysprint() {
    let (Some(dir), Some(real)) = (traces_dir(), sysprint_or_skip()) else {
        return;
    };
    for t in traces(&dir).iter().filter(|t| sysprint_reads(t)) {
        compare_json(t, &real, "json");
        compare_json(t, &real, "flatjson");
    }
}

#[test]
fn csv_equals_sysprint_cell_by_cell() {
    let (Some(dir), Some(real)) = (traces_dir(), sysprint_or_skip()) else {
        return;
    };
    let tmp = temp_dir("csv");
    for t in traces(&dir).iter().filter(|t| sysprint_reads(t)) {
        let (fa, fb) = (tmp.join("a.csv"), tmp.join("b.csv"));
        run(&real, &args(&["-o", "csv", "-w"], &[&fa, t]));
        let b = run(&ours(), &args(&["-o", "csv", "-w"], &[&fb, t]));
        assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
        let (a, b) = (
            std::fs::read(&fa).expect("a.csv"),
            std::fs::read(&fb).expect("b.csv"),
        );
        let rows = |x: &[u8]| -> Vec<Vec<String>> {
            // Cells of the excel dialect; quoted cells may hold commas, quotes and newlines.
            let s = String::from_utf8_lossy(x).into_owned();
            let (mut rows, mut row, mut cell) = (Vec::new(), Vec::new(), String::new());
            let (mut q, mut it) = (false, s.chars().peekable());
            while let Some(c) = it.next() {
                match (q, c) {
                    (true, '"') if it.peek() == Some(&'"') => {
                        it.next();
                        cell.push('"');
                    }
                    (true, '"') => q = false,
                    (true, c) => cell.push(c),
                    (false, '"') => q = true,
                    (false, ',') => row.push(std::mem::take(&mut cell)),
                    (false, '\r') => {}
                    (false, '\n') => {
                        row.push(std::mem::take(&mut cell));
                        rows.push(std::mem::take(&mut row));
                    }
                    (false, c) => cell.push(c),
                }
            }
            rows
        };
        let (ra, rb) = (rows(&a), rows(&b));
        assert_eq!(ra.len(), rb.len(), "{}: csv rows", t.display());
        for (i, (x, y)) in ra.iter().zip(&rb).enumerate() {
            assert_eq!(x, y, "{}: csv row {i}", t.display());
        }
        assert!(a == b, "{}: csv bytes differ", t.display());
    }
}

#[test]
fn str_tables_equal_sysprint() {
    let (Some(dir), Some(real)) = (traces_dir(), sysprint_or_skip()) else {
        return;
    };
    for t in traces(&dir).iter().filter(|t| sysprint_reads(t)) {
        let a = run(&real, &args(&[], &[t]));
        let b = run(&ours(), &args(&[], &[t]));
        assert!(b.status.success());
        assert!(
            a.stdout == b.stdout,
            "{}: -o str differs\n--- sysprint\n{}\n--- ours\n{}",
            t.display(),
            String::from_utf8_lossy(&a.stdout[..a.stdout.len().min(2000)]),
            String::from_utf8_lossy(&b.stdout[..b.stdout.len().min(2000)])
        );
    }
}
