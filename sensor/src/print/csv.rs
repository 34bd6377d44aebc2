//! CSV output as Python's `csv.DictWriter` (excel dialect) writes sysprint's flat map: cells
//! are Python `str()` of the values, quoted only when needed, rows end with `\r\n`.

use std::fmt::Write as _;

use sysflow_model::record::Service;

use super::fields::{Column, Sel};
use super::render::{write_int, write_ip, write_text, Rec, Val};

/// Appends Python's `str(v)`.
pub fn write_py_str(v: &Val, out: &mut Vec<u8>) {
    match *v {
        Val::Null => {}
        Val::Int(i) => write_int(i, out),
        Val::Bool(b) => out.extend_from_slice(if b { b"True" } else { b"False" }),
        Val::IpList(ips) => write_ip_list_repr(ips, out),
        Val::Services(s) => write_services_repr(s, out),
        Val::EmptyTuple => out.extend_from_slice(b"()"),
        _ => {
            write_text(v, out);
        }
    }
}

fn write_ip_list_repr(ips: &[i64], out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, ip) in ips.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.push(b'\'');
        write_ip(*ip, out);
        out.push(b'\'');
    }
    out.push(b']');
}

fn write_services_repr(svcs: &[Service], out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, s) in svcs.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(b"{'name': ");
        write_py_repr(&s.name, out);
        out.extend_from_slice(b", 'id': ");
        write_py_repr(&s.id, out);
        out.extend_from_slice(b", 'namespace': ");
        write_py_repr(&s.namespace, out);
        out.extend_from_slice(b", 'portList': [");
        for (j, p) in s.port_list.iter().enumerate() {
            if j > 0 {
                out.extend_from_slice(b", ");
            }
            out.extend_from_slice(b"{'port': ");
            write_int(p.port as i64, out);
            out.extend_from_slice(b", 'targetPort': ");
            write_int(p.target_port as i64, out);
            out.extend_from_slice(b", 'nodePort': ");
            write_int(p.node_port as i64, out);
            out.extend_from_slice(b", 'proto': ");
            write_py_repr(&p.proto, out);
            out.push(b'}');
        }
        out.extend_from_slice(b"], 'clusterIP': ");
        write_ip_list_repr(&s.cluster_ip, out);
        out.push(b'}');
    }
    out.push(b']');
}

/// Appends Python's `repr(s)` of a string.
pub fn write_py_repr(s: &str, out: &mut Vec<u8>) {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut buf = String::with_capacity(s.len() + 2);
    buf.push(q);
    for c in s.chars() {
        match c {
            '\\' => buf.push_str("\\\\"),
            '\n' => buf.push_str("\\n"),
            '\r' => buf.push_str("\\r"),
            '\t' => buf.push_str("\\t"),
            c if c == q => {
                buf.push('\\');
                buf.push(c);
            }
            c if is_printable(c) => buf.push(c),
            c if (c as u32) < 0x100 => {
                let _ = write!(buf, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(buf, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(buf, "\\U{:08x}", c as u32);
            }
        }
    }
    buf.push(q);
    out.extend_from_slice(buf.as_bytes());
}

/// Approximates Python's `str.isprintable` (exact for ASCII and Latin-1).
fn is_printable(c: char) -> bool {
    let u = c as u32;
    match u {
        0x20..=0x7e => true,
        0..=0x1f | 0x7f..=0xa0 | 0xad => false,
        0x1680 | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x2064 | 0x3000 | 0xfeff => false,
        0xd800..=0xf8ff => false,
        _ => true,
    }
}

/// Appends one CSV cell (excel dialect, QUOTE_MINIMAL).
pub fn write_cell(cell: &[u8], out: &mut Vec<u8>) {
    if cell
        .iter()
        .any(|&b| b == b',' || b == b'"' || b == b'\r' || b == b'\n')
    {
        out.push(b'"');
        for &b in cell {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(cell);
    }
}

/// Writes sysprint CSV rows.
pub struct CsvWriter {
    cols: Vec<Column>,
    cell: Vec<u8>,
}

impl CsvWriter {
    pub fn new(cols: Vec<Column>) -> CsvWriter {
        CsvWriter {
            cols,
            cell: Vec::with_capacity(256),
        }
    }

    /// Appends the header row (the column keys).
    pub fn header(&self, out: &mut Vec<u8>) {
        self.row(out, |i, cell| {
            cell.extend_from_slice(self.cols[i].name.as_bytes())
        });
    }

    /// Appends the row of one record.
    pub fn record(&mut self, rec: &Rec, out: &mut Vec<u8>) {
        let mut cell = std::mem::take(&mut self.cell);
        let cols = &self.cols;
        let n = cols.len();
        for (i, c) in cols.iter().enumerate() {
            cell.clear();
            if let Sel::Key(k) = c.sel {
                write_py_str(&rec.get(k), &mut cell);
            }
            if n == 1 && cell.is_empty() {
                // The csv module quotes a lone empty field so the row is not blank.
                out.extend_from_slice(b"\"\"");
            } else {
                write_cell(&cell, out);
            }
            out.push(if i + 1 == n { b'\r' } else { b',' });
        }
        if n > 0 {
            out.push(b'\n');
        } else {
            out.extend_from_slice(b"\r\n");
        }
        self.cell = cell;
    }

    fn row(&self, out: &mut Vec<u8>, mut f: impl FnMut(usize, &mut Vec<u8>)) {
        let n = self.cols.len();
        let mut cell = Vec::new();
        for i in 0..n {
            cell.clear();
            f(i, &mut cell);
            if i > 0 {
                out.push(b',');
            }
            if n == 1 && cell.is_empty() {
                out.extend_from_slice(b"\"\"");
            } else {
                write_cell(&cell, out);
            }
        }
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repr(s: &str) -> String {
        let mut v = Vec::new();
        write_py_repr(s, &mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn python_repr() {
        assert_eq!(repr("abc"), "'abc'");
        assert_eq!(repr("it's"), "\"it's\"");
        assert_eq!(repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(repr("x\n\u{1}\u{e9}\\"), "'x\\n\\x01\u{e9}\\\\'");
    }

    #[test]
    fn cells_quote_minimal() {
        let mut v = Vec::new();
        write_cell(b"a,b", &mut v);
        write_cell(b"q\"q", &mut v);
        write_cell(b"plain", &mut v);
        assert_eq!(v, b"\"a,b\"\"q\"\"q\"plain");
    }
}
