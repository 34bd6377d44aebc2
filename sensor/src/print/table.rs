//! `-o str`: sysprint's table, i.e. `python-tabulate` (0.10, `tablefmt='github'`) over cells
//! that sysprint pre-pads and truncates.
//!
//! What is reproduced: sysprint's column widths scaled by the terminal width (fds 0, 1, 2,
//! fallback 80 columns), its `'..'` truncation, tabulate's per-column type detection on the
//! padded strings (a column whose every cell parses as a Python int is right-aligned and keeps
//! its padding, other columns are stripped and left-aligned; float columns are re-rendered with
//! `format(x, 'g')`), multi-line cells, and the chunking into tables of 1001 then 1000 rows
//! (only the first with headers). Not reproduced: ANSI escape sequences inside values are
//! counted as visible characters (tabulate discounts them).

use std::fmt::Write as _;

use super::fields::{self, Column, Sel};
use super::json;
use super::render::{write_int, write_text, Rec, Val};

/// Why a field list cannot be shown as a table.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error(
        "field {0:?} has no column in -o str output (see -l; query-only fields cannot be shown)"
    )]
    NoColumn(String),
    #[error("none of the requested fields has a column in -o str output")]
    NoFields,
}

/// Writes the `-o str` tables of one or more files.
pub struct TableWriter {
    /// Columns in record order (`idx` first).
    cols: Vec<Column>,
    /// Header names (`_header_map`).
    headers: Vec<String>,
    /// Cell width per column after terminal scaling.
    widths: Vec<usize>,
    rows: Vec<Vec<String>>,
    idx: u64,
    first: bool,
    scratch: Vec<u8>,
}

/// Terminal width as sysprint's `_get_terminal_size` finds it: the first of fds 0, 1, 2 that
/// is a terminal, else 80.
pub fn terminal_columns() -> usize {
    for fd in 0..3 {
        // SAFETY: TIOCGWINSZ only writes a `winsize` into the struct we pass.
        unsafe {
            let mut ws: libc::winsize = std::mem::zeroed();
            if libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) == 0 {
                return ws.ws_col as usize;
            }
        }
    }
    80
}

impl TableWriter {
    /// `fields`: the `-c` list, or `None` for the defaults; `width_fields`: the list sysprint
    /// scales widths by (the defaults when `-A` is given); `all`: `-A` (every flat-map key).
    pub fn new(fields: &[String], all: bool, term_cols: usize) -> Result<TableWriter, TableError> {
        let sel: Vec<&fields::FieldInfo> = fields::FIELDS
            .iter()
            .filter(|f| !f.query_only && fields.iter().any(|x| x == f.key))
            .collect();
        if sel.is_empty() {
            return Err(TableError::NoFields);
        }
        let tw: usize = sel.iter().map(|f| f.width).sum();
        let pw = sel.len() * 6 + 10;
        let wf = ((term_cols as f64 - pw as f64) / tw as f64).min(1.25);
        let mut cols = vec![Column::new("idx")];
        let body = if all {
            fields::all_columns()
        } else {
            fields::columns(fields)
        };
        cols.extend(body.into_iter().filter(|c| c.sel != Sel::Idx));
        let mut headers = Vec::with_capacity(cols.len());
        let mut widths = Vec::with_capacity(cols.len());
        for c in &cols {
            let info = fields::info(&c.name)
                .filter(|i| !i.query_only)
                .ok_or_else(|| TableError::NoColumn(c.name.clone()))?;
            headers.push(info.column.to_string());
            let sw = (wf * info.width as f64) as i64;
            widths.push(if sw > 8 { sw as usize } else { info.width });
        }
        Ok(TableWriter {
            cols,
            headers,
            widths,
            rows: Vec::new(),
            idx: 0,
            first: true,
            scratch: Vec::new(),
        })
    }

    /// Adds one record; prints a table every 1000 records as sysprint does.
    pub fn record(&mut self, rec: &Rec, out: &mut Vec<u8>) {
        let mut row = Vec::with_capacity(self.cols.len());
        for i in 0..self.cols.len() {
            let v = match self.cols[i].sel {
                Sel::Idx => Val::Int(self.idx as i64),
                Sel::Key(k) => rec.get(k),
                Sel::Blank => Val::Str(""),
            };
            row.push(self.cell(&v, self.widths[i]));
        }
        self.rows.push(row);
        if self.idx > 0 && self.idx.is_multiple_of(1000) {
            self.flush(out);
        }
        self.idx += 1;
    }

    /// Ends a file: prints what is left and restarts numbering and headers.
    pub fn finish_file(&mut self, out: &mut Vec<u8>) {
        if !self.rows.is_empty() {
            self.flush(out);
        }
        self.idx = 0;
        self.first = true;
    }

    fn flush(&mut self, out: &mut Vec<u8>) {
        let headers = if self.first {
            Some(&self.headers[..])
        } else {
            None
        };
        let s = tabulate_github(&self.rows, headers);
        out.extend_from_slice(s.as_bytes());
        out.push(b'\n');
        self.first = false;
        self.rows.clear();
    }

    /// sysprint's cell: `'{0: <{w}}'.format(v)`, then `(data[w:] and '..') + data[-w:]`.
    fn cell(&mut self, v: &Val, w: usize) -> String {
        let b = &mut self.scratch;
        b.clear();
        match *v {
            Val::Null => {}
            Val::Int(i) => write_int(i, b),
            // format(True, ' <5') formats the int.
            Val::Bool(x) => b.push(if x { b'1' } else { b'0' }),
            Val::IpList(_) | Val::Services(_) | Val::EmptyTuple => {
                let mut tmp = Vec::new();
                json::write_val(v, b, &mut tmp)
            }
            _ => {
                write_text(v, b);
            }
        }
        let s = String::from_utf8_lossy(b);
        let n = s.chars().count();
        if n > w {
            let skip = s.char_indices().nth(n - w).map_or(0, |(i, _)| i);
            format!("..{}", &s[skip..])
        } else {
            let mut o = String::with_capacity(s.len() + w - n);
            o.push_str(&s);
            o.extend(std::iter::repeat_n(' ', w - n));
            o
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum PyType {
    None = 0,
    Bool = 1,
    Int = 2,
    Float = 3,
    Str = 5,
}

fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// Digits with single underscores between them (Python numeric literal rules).
fn digits_part(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('_')
        && !s.ends_with('_')
        && !s.contains("__")
        && s.bytes().all(|b| b.is_ascii_digit() || b == b'_')
}

/// `int(s)` succeeds.
fn py_int(s: &str) -> bool {
    let t = py_strip(s);
    let t = t.strip_prefix(['+', '-']).unwrap_or(t);
    digits_part(t)
}

/// `float(s)` succeeds; returns the value.
fn py_float(s: &str) -> Option<f64> {
    let t = py_strip(s);
    let (neg, u) = match t.strip_prefix('-') {
        Some(u) => (true, u),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let l = u.to_ascii_lowercase();
    let v = if l == "inf" || l == "infinity" {
        f64::INFINITY
    } else if l == "nan" {
        f64::NAN
    } else {
        let (mant, exp) = match l.find('e') {
            Some(i) => (&l[..i], Some(&l[i + 1..])),
            None => (&l[..], None),
        };
        let (ip, fp) = match mant.find('.') {
            Some(i) => (&mant[..i], Some(&mant[i + 1..])),
            None => (mant, None),
        };
        let ok_i = ip.is_empty() || digits_part(ip);
        let ok_f = fp.is_none_or(|f| f.is_empty() || digits_part(f));
        let has_digit = !ip.is_empty() || fp.is_some_and(|f| !f.is_empty());
        if !(ok_i && ok_f && has_digit) {
            return None;
        }
        if let Some(e) = exp {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            if !digits_part(e) {
                return None;
            }
        }
        l.replace('_', "").parse::<f64>().ok()?
    };
    Some(if neg { -v } else { v })
}

/// tabulate's `_float_with_thousands_separators` regex.
fn thousands(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let mut int_part = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let d0 = i;
    while i < b.len() && b[i].is_ascii_digit() && i - d0 < 3 {
        i += 1;
    }
    if i > d0 {
        int_part = true;
        while i + 4 <= b.len() && b[i] == b',' && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            i += 4;
        }
    } else {
        i = 0;
    }
    if i == b.len() {
        return true;
    }
    if b[i] != b'.' {
        return false;
    }
    let frac = &b[i + 1..];
    frac.iter().all(u8::is_ascii_digit) && (int_part || !frac.is_empty())
}

fn py_type(s: &str) -> PyType {
    if s.is_empty() {
        PyType::None
    } else if s == "True" || s == "False" {
        PyType::Bool
    } else if py_int(s) || (thousands(s) && !s.contains('.')) {
        PyType::Int
    } else if py_float(s).is_some_and(|v| {
        !(v.is_infinite() || v.is_nan())
            || ["inf", "-inf", "nan"].contains(&s.to_lowercase().as_str())
    }) || thousands(s)
    {
        PyType::Float
    } else {
        PyType::Str
    }
}

/// Python's `format(x, 'g')`.
fn py_g(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x < 0.0 { "-inf".into() } else { "inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let e = format!("{:.5e}", x);
    let (m, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        let prec = (5 - exp) as usize;
        let f = format!("{:.*}", prec, x);
        strip_zeros(&f).to_string()
    } else {
        let m = strip_zeros(m);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    }
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// tabulate's `_afterpoint`.
fn afterpoint(s: &str) -> i64 {
    let numeric = py_float(s).is_some_and(|v| {
        !(v.is_infinite() || v.is_nan())
            || ["inf", "-inf", "nan"].contains(&s.to_lowercase().as_str())
    }) || thousands(s);
    if !numeric || py_int(s) {
        return -1;
    }
    let pos = s.rfind('.').or_else(|| s.to_lowercase().rfind('e'));
    match pos {
        Some(p) => (s.chars().count() - s[..p].chars().count()) as i64 - 1,
        None => -1,
    }
}

fn is_multiline(s: &str) -> bool {
    s.contains(['\n', '\r'])
}

fn width(s: &str, multiline: bool) -> usize {
    if multiline {
        s.split(['\r', '\n'])
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0)
    } else {
        s.chars().count()
    }
}

/// Python's `str.splitlines()`.
fn splitlines(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if matches!(
            c,
            '\n' | '\r'
                | '\x0b'
                | '\x0c'
                | '\x1c'
                | '\x1d'
                | '\x1e'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        ) {
            out.push(&s[start..i]);
            let mut end = i + c.len_utf8();
            if c == '\r' {
                if let Some(&(_, '\n')) = it.peek() {
                    it.next();
                    end += 1;
                }
            }
            start = end;
        }
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

fn pad_left(s: &str, w: usize) -> String {
    let n = s.chars().count();
    let mut o = String::with_capacity(s.len() + w.saturating_sub(n));
    o.extend(std::iter::repeat_n(' ', w.saturating_sub(n)));
    o.push_str(s);
    o
}

fn pad_right(s: &str, w: usize) -> String {
    let n = s.chars().count();
    let mut o = String::with_capacity(s.len() + w.saturating_sub(n));
    o.push_str(s);
    o.extend(std::iter::repeat_n(' ', w.saturating_sub(n)));
    o
}

/// `tabulate(rows, headers, tablefmt='github')` for string cells (sysprint's usage).
pub fn tabulate_github(rows: &[Vec<String>], headers: Option<&[String]>) -> String {
    let ncols = rows.first().map_or(0, |r| r.len());
    let multiline = rows.iter().flatten().any(|c| is_multiline(c))
        || headers.is_some_and(|h| h.iter().any(|c| is_multiline(c)));
    let mut cols: Vec<Vec<String>> = Vec::with_capacity(ncols);
    let mut numeric = Vec::with_capacity(ncols);
    let mut widths = Vec::with_capacity(ncols);
    for c in 0..ncols {
        let cells: Vec<&str> = rows.iter().map(|r| r[c].as_str()).collect();
        let ty = cells
            .iter()
            .map(|s| py_type(s))
            .fold(PyType::Bool, Ord::max);
        let formatted: Vec<String> = if ty == PyType::Float {
            cells
                .iter()
                .map(|s| {
                    if s.is_empty() {
                        String::new()
                    } else {
                        py_float(&s.replace(',', "")).map_or_else(|| s.to_string(), py_g)
                    }
                })
                .collect()
        } else {
            cells.iter().map(|s| s.to_string()).collect()
        };
        let is_num = matches!(ty, PyType::Int | PyType::Float);
        let minw = headers.map_or(0, |h| width(&h[c], multiline) + 2);
        let aligned: Vec<String> = if is_num {
            let decs: Vec<i64> = formatted.iter().map(|s| afterpoint(s)).collect();
            let maxd = decs.iter().copied().max().unwrap_or(-1);
            formatted
                .iter()
                .zip(&decs)
                .map(|(s, d)| pad_right(s, s.chars().count() + (maxd - d) as usize))
                .collect()
        } else {
            formatted.iter().map(|s| py_strip(s).to_string()).collect()
        };
        let maxw = aligned
            .iter()
            .map(|s| width(s, multiline))
            .max()
            .unwrap_or(0)
            .max(minw);
        let padded: Vec<String> = aligned
            .iter()
            .map(|s| {
                let pad = |x: &str| {
                    if is_num {
                        pad_left(x, maxw)
                    } else {
                        pad_right(x, maxw)
                    }
                };
                if multiline {
                    splitlines(s)
                        .into_iter()
                        .map(pad)
                        .collect::<Vec<_>>()
                        .join("\n")
                } else {
                    pad(s)
                }
            })
            .collect();
        cols.push(padded);
        numeric.push(is_num);
        widths.push(maxw);
    }
    let mut lines: Vec<String> = Vec::new();
    if let Some(h) = headers {
        let hs: Vec<String> = h
            .iter()
            .enumerate()
            .map(|(i, x)| {
                if numeric[i] {
                    pad_left(x, widths[i])
                } else {
                    pad_right(x, widths[i])
                }
            })
            .collect();
        push_row(&mut lines, &hs, &widths, multiline);
        lines.push(rule(&widths));
    } else {
        lines.push(rule(&widths));
    }
    for r in 0..rows.len() {
        let cells: Vec<String> = cols.iter().map(|c| c[r].clone()).collect();
        push_row(&mut lines, &cells, &widths, multiline);
    }
    lines.join("\n")
}

fn rule(widths: &[usize]) -> String {
    let mut s = String::from("|");
    for (i, w) in widths.iter().enumerate() {
        if i > 0 {
            s.push('|');
        }
        s.extend(std::iter::repeat_n('-', w + 2));
    }
    s.push('|');
    s
}

fn push_row(lines: &mut Vec<String>, cells: &[String], widths: &[usize], multiline: bool) {
    if !multiline {
        let mut s = String::from("|");
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                s.push('|');
            }
            let _ = write!(s, " {c} ");
        }
        s.push('|');
        lines.push(s.trim_end_matches(is_py_space).to_string());
        return;
    }
    let split: Vec<Vec<&str>> = cells.iter().map(|c| splitlines(c)).collect();
    let n = split.iter().map(|l| l.len()).max().unwrap_or(0);
    for li in 0..n {
        let mut s = String::from("|");
        for (i, l) in split.iter().enumerate() {
            if i > 0 {
                s.push('|');
            }
            s.push(' ');
            match l.get(li) {
                Some(x) => s.push_str(x),
                None => s.extend(std::iter::repeat_n(' ', widths[i])),
            }
            s.push(' ');
        }
        s.push('|');
        lines.push(s.trim_end_matches(is_py_space).to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_number_parsing() {
        assert!(py_int("57312   ") && py_int("-1") && py_int("1_000") && !py_int("1__0"));
        assert!(!py_int("        ") && !py_int("1.5"));
        assert_eq!(py_float(" 1.5e3 "), Some(1500.0));
        assert!(py_float("inf").is_some() && py_float("abc").is_none() && py_float(".").is_none());
        assert_eq!(py_type("1,000"), PyType::Int);
        assert_eq!(py_type("1.5   "), PyType::Float);
        assert_eq!(py_type("nan   "), PyType::Str);
        assert_eq!(py_type("False"), PyType::Bool);
        assert_eq!(py_g(1500000.0), "1.5e+06");
        assert_eq!(py_g(0.0001), "0.0001");
        assert_eq!(py_g(123.456), "123.456");
        assert_eq!(afterpoint("1.25"), 2);
        assert_eq!(afterpoint("12  "), -1);
    }

    #[test]
    fn github_table_with_int_and_str_columns() {
        let rows = vec![
            vec!["0     ".to_string(), "abc   ".to_string()],
            vec!["1     ".to_string(), "      ".to_string()],
        ];
        let h = vec!["Rec #".to_string(), "T".to_string()];
        let t = tabulate_github(&rows, Some(&h));
        assert_eq!(
            t,
            "|   Rec # | T   |\n|---------|-----|\n|  0      | abc |\n|  1      |     |"
        );
        let t = tabulate_github(&rows, None);
        assert_eq!(t, "|--------|-----|\n| 0      | abc |\n| 1      |     |");
    }
}
