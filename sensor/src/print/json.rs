//! JSON output exactly as Python's `json.dumps` writes it (`ensure_ascii=True`, separators
//! `", "` and `": "`), into a reused buffer.

use std::ops::Range;

use sysflow_model::record::Service;

use super::fields::{Column, Sel};
use super::render::{source, write_int, write_ip, write_text, Rec, Source, Val};
use super::schema::SchemaTraits;
use crate::export::encode::fragment::{CacheStats, Caches, Entity};
use crate::export::encode::jsonw::{has_below, has_byte, has_high, next_dirty, short_escape};

/// Appends `s` as a JSON string the way `json.dumps` escapes it with `ensure_ascii=True`:
/// everything outside printable ASCII becomes `\uXXXX` (lower-case hex, surrogate pairs).
pub fn write_str(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    loop {
        // Clean words (printable ASCII except '"' and '\\') are skipped 8 bytes at a time.
        i = next_dirty(bytes, i, word_needs_escape, |b| ESCAPE[b as usize]);
        if i >= bytes.len() {
            break;
        }
        let b = bytes[i];
        out.extend_from_slice(&bytes[start..i]);
        if let Some(e) = short_escape(b) {
            out.extend_from_slice(e);
        } else if b < 0x80 {
            push_u(b as u32, out);
        } else {
            // `i` is a char boundary: continuation bytes are consumed with their lead.
            let c = s[i..].chars().next().unwrap_or('\u{fffd}');
            let u = c as u32;
            if u >= 0x10000 {
                let v = u - 0x10000;
                push_u(0xd800 | (v >> 10), out);
                push_u(0xdc00 | (v & 0x3ff), out);
            } else {
                push_u(u, out);
            }
            i += c.len_utf8();
            start = i;
            continue;
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Whether any of the 8 bytes of `x` is one [`ESCAPE`] marks (exact).
#[inline]
fn word_needs_escape(x: u64) -> bool {
    (has_below(x, 0x20) | has_high(x) | has_byte(x, 0x7f) | has_byte(x, b'"') | has_byte(x, b'\\'))
        != 0
}

/// Bytes `json.dumps` (ensure_ascii) does not copy verbatim.
const ESCAPE: [bool; 256] = {
    let mut t = [true; 256];
    let mut b = 0x20;
    while b < 0x7f {
        t[b] = false;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

fn push_u(c: u32, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"\\u");
    for sh in [12, 8, 4, 0] {
        out.push(HEX[((c >> sh) & 0xf) as usize]);
    }
}

/// Appends a value as `json.dumps` renders the Python object sysprint holds.
pub fn write_val(v: &Val, out: &mut Vec<u8>, scratch: &mut Vec<u8>) {
    match *v {
        Val::Null => out.extend_from_slice(b"null"),
        Val::Int(i) => write_int(i, out),
        Val::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        Val::Str(s) => write_str(s, out),
        Val::IpList(ips) => write_ip_list(ips, out),
        Val::Services(s) => write_services(s, out),
        Val::EmptyTuple => out.extend_from_slice(b"[]"),
        // Renderings made of ASCII digits, letters, spaces and punctuation other than '"' and
        // '\\': nothing to escape.
        Val::Time(_) | Val::OpFlags(_) | Val::Ip(_) | Val::NetRes { .. } => {
            out.push(b'"');
            write_text(v, out);
            out.push(b'"');
        }
        _ => {
            scratch.clear();
            write_text(v, scratch);
            // Text renderings are built from valid UTF-8 pieces.
            write_str(std::str::from_utf8(scratch).unwrap_or(""), out);
        }
    }
}

fn write_ip_list(ips: &[i64], out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, ip) in ips.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.push(b'"');
        write_ip(*ip, out);
        out.push(b'"');
    }
    out.push(b']');
}

fn write_services(svcs: &[Service], out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, s) in svcs.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(b"{\"name\": ");
        write_str(&s.name, out);
        out.extend_from_slice(b", \"id\": ");
        write_str(&s.id, out);
        out.extend_from_slice(b", \"namespace\": ");
        write_str(&s.namespace, out);
        out.extend_from_slice(b", \"portList\": [");
        for (j, p) in s.port_list.iter().enumerate() {
            if j > 0 {
                out.extend_from_slice(b", ");
            }
            out.extend_from_slice(b"{\"port\": ");
            write_int(p.port as i64, out);
            out.extend_from_slice(b", \"targetPort\": ");
            write_int(p.target_port as i64, out);
            out.extend_from_slice(b", \"nodePort\": ");
            write_int(p.node_port as i64, out);
            out.extend_from_slice(b", \"proto\": ");
            write_str(&p.proto, out);
            out.push(b'}');
        }
        out.extend_from_slice(b"], \"clusterIP\": ");
        write_ip_list(&s.cluster_ip, out);
        out.push(b'}');
    }
    out.push(b']');
}

/// One step of a precomputed JSON object layout.
#[derive(Debug, Clone)]
enum Step {
    /// Literal bytes (separators, keys, braces).
    Lit(Vec<u8>),
    /// The value of a column.
    Val(Sel),
}

/// Why a field list cannot be laid out as nested JSON.
#[derive(Debug, thiserror::Error)]
#[error("field {0:?} conflicts with field {1:?} in nested JSON output")]
pub struct LayoutError(String, String);

/// A run of steps whose values read one entity (`None`: the record).
#[derive(Debug, Clone)]
struct Part {
    entity: Option<Entity>,
    steps: Range<usize>,
}

/// A JSON object layout for a column list, computed once: nested (dotted keys become nested
/// objects, as sysprint's `dotty` does) or flat (dotted keys kept). The steps are grouped
/// into parts that read one entity each, which [`Layout::write_cached`] copies from a
/// fragment cache while the entity is unchanged.
#[derive(Debug, Clone)]
pub struct Layout {
    steps: Vec<Step>,
    parts: Vec<Part>,
}

/// The fragment caches of one writer of a [`Layout`] (one per thread). Fragments depend on
/// the schema traits of the file too: a change of traits empties the caches.
#[derive(Debug)]
pub struct Fragments {
    caches: Caches,
    traits: Option<SchemaTraits>,
}

impl Fragments {
    pub fn new(layout: &Layout) -> Self {
        Fragments {
            caches: Caches::new(layout.parts.len()),
            traits: None,
        }
    }

    /// Drops every fragment (a new file starts).
    pub fn clear(&mut self) {
        self.caches.clear();
        self.traits = None;
    }

    pub fn stats(&self) -> CacheStats {
        self.caches.stats()
    }
}

enum Node {
    Leaf(String, Sel),
    Obj(String, Vec<Node>),
}

impl Layout {
    /// Flat object: one key per column, dotted names kept.
    pub fn flat(cols: &[Column]) -> Layout {
        let nodes = cols
            .iter()
            .map(|c| Node::Leaf(c.name.clone(), c.sel))
            .collect::<Vec<_>>();
        Layout::from_nodes(&nodes)
    }

    /// Nested object: `proc.pid` becomes `{"proc": {"pid": …}}`, objects placed where their
    /// first key appears.
    pub fn nested(cols: &[Column]) -> Result<Layout, LayoutError> {
        let mut root: Vec<Node> = Vec::new();
        for c in cols {
            let parts: Vec<&str> = c.name.split('.').collect();
            let mut level = &mut root;
            for (i, p) in parts.iter().enumerate() {
                let last = i + 1 == parts.len();
                let pos = level.iter().position(|n| match n {
                    Node::Leaf(k, _) | Node::Obj(k, _) => k == p,
                });
                if last {
                    if pos.is_some() {
                        return Err(LayoutError(c.name.clone(), parts[..=i].join(".")));
                    }
                    level.push(Node::Leaf(p.to_string(), c.sel));
                    break;
                }
                let idx = match pos {
                    Some(idx) => idx,
                    None => {
                        level.push(Node::Obj(p.to_string(), Vec::new()));
                        level.len() - 1
                    }
                };
                level = match &mut level[idx] {
                    Node::Obj(_, children) => children,
                    Node::Leaf(..) => {
                        return Err(LayoutError(c.name.clone(), parts[..=i].join(".")))
                    }
                };
            }
        }
        Ok(Layout::from_nodes(&root))
    }

    fn from_nodes(nodes: &[Node]) -> Layout {
        let mut steps = Vec::new();
        let mut lit = Vec::new();
        emit(nodes, &mut steps, &mut lit);
        if !lit.is_empty() {
            steps.push(Step::Lit(lit));
        }
        let parts = parts_of(&steps);
        Layout { steps, parts }
    }

    /// Appends the JSON object of one record, every value rendered.
    pub fn write(&self, rec: &Rec, out: &mut Vec<u8>, scratch: &mut Vec<u8>) {
        self.write_steps(0..self.steps.len(), rec, out, scratch);
    }

    /// Appends the JSON object of one record, the parts that read an unchanged entity copied
    /// from `frags` (the same bytes as [`Layout::write`]).
    pub fn write_cached(
        &self,
        rec: &Rec,
        out: &mut Vec<u8>,
        scratch: &mut Vec<u8>,
        frags: &mut Fragments,
    ) {
        if frags.traits.as_ref() != Some(rec.traits) {
            frags.caches.clear();
            frags.traits = Some(*rec.traits);
        }
        for (i, p) in self.parts.iter().enumerate() {
            match p.entity.and_then(|e| e.key(rec.flat)) {
                Some(k) => frags.caches.get(i).write(k, out, |o| {
                    self.write_steps(p.steps.clone(), rec, o, scratch)
                }),
                None => self.write_steps(p.steps.clone(), rec, out, scratch),
            }
        }
    }

    fn write_steps(&self, r: Range<usize>, rec: &Rec, out: &mut Vec<u8>, scratch: &mut Vec<u8>) {
        for s in &self.steps[r] {
            match s {
                Step::Lit(b) => out.extend_from_slice(b),
                Step::Val(Sel::Key(k)) => write_val(&rec.get(*k), out, scratch),
                // `idx` exists only in `-o str`; elsewhere sysprint prints "" for it.
                Step::Val(Sel::Idx | Sel::Blank) => out.extend_from_slice(b"\"\""),
            }
        }
    }
}

/// Groups steps into runs whose values share a [`Source`]; literals and constants join the
/// run they are in.
fn parts_of(steps: &[Step]) -> Vec<Part> {
    let mut parts: Vec<Part> = Vec::new();
    // The source of the last part; `None` while it holds only literals and constants.
    let mut cur: Option<Source> = None;
    for (i, s) in steps.iter().enumerate() {
        let src = match s {
            Step::Lit(_) | Step::Val(Sel::Idx | Sel::Blank) => Source::Const,
            Step::Val(Sel::Key(k)) => source(*k),
        };
        match parts.last_mut() {
            Some(p) if src == Source::Const || cur.is_none_or(|c| c == src) => {
                p.steps.end = i + 1;
                if src != Source::Const {
                    cur = Some(src);
                }
            }
            _ => {
                parts.push(Part {
                    entity: None,
                    steps: i..i + 1,
                });
                cur = (src != Source::Const).then_some(src);
            }
        }
        if let (Some(p), Some(Source::Entity(e))) = (parts.last_mut(), cur) {
            p.entity = Some(e);
        }
    }
    parts
}

fn emit(nodes: &[Node], steps: &mut Vec<Step>, lit: &mut Vec<u8>) {
    lit.push(b'{');
    for (i, n) in nodes.iter().enumerate() {
        if i > 0 {
            lit.extend_from_slice(b", ");
        }
        match n {
            Node::Leaf(k, sel) => {
                write_str(k, lit);
                lit.extend_from_slice(b": ");
                steps.push(Step::Lit(std::mem::take(lit)));
                steps.push(Step::Val(*sel));
            }
            Node::Obj(k, children) => {
                write_str(k, lit);
                lit.extend_from_slice(b": ");
                emit(children, steps, lit);
            }
        }
    }
    lit.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::print::fields::columns;

    fn js(s: &str) -> String {
        let mut v = Vec::new();
        write_str(s, &mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn escapes_like_python_ensure_ascii() {
        assert_eq!(js("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(
            js("\n\r\t\u{8}\u{c}\u{0}\u{1f}\u{7f}"),
            r#""\n\r\t\b\f\u0000\u001f\u007f""#
        );
        assert_eq!(js("é€"), r#""\u00e9\u20ac""#);
        assert_eq!(js("x😀y"), r#""x\ud83d\ude00y""#);
    }

    /// The word-at-a-time scan agrees with a char-by-char rendering of `json.dumps` on every
    /// code point class at every position of a word.
    #[test]
    fn fast_scan_matches_reference() {
        fn reference(s: &str) -> String {
            let mut o = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => o.push_str("\\\""),
                    '\\' => o.push_str("\\\\"),
                    '\n' => o.push_str("\\n"),
                    '\r' => o.push_str("\\r"),
                    '\t' => o.push_str("\\t"),
                    '\u{8}' => o.push_str("\\b"),
                    '\u{c}' => o.push_str("\\f"),
                    ' '..='~' => o.push(c),
                    c => {
                        let mut b = [0u16; 2];
                        for u in c.encode_utf16(&mut b) {
                            o.push_str(&format!("\\u{u:04x}"));
                        }
                    }
                }
            }
            o.push('"');
            o
        }
        for sp in [
            "\"", "\\", "\n", "\u{0}", "\u{1f}", "\u{7f}", "\u{80}", "é", "€", "😀", " ", "~",
        ] {
            for pos in 0..18 {
                for tail in [0, 1, 9] {
                    let s = format!("{}{sp}{}", "x".repeat(pos), "y".repeat(tail));
                    assert_eq!(js(&s), reference(&s), "{s:?}");
                }
            }
        }
    }

    #[test]
    fn nested_layout_groups_by_first_appearance() {
        let cols = columns(&["proc.pid", "type", "proc.exe", "idx"]);
        let l = Layout::nested(&cols).unwrap();
        let lits: Vec<String> = l
            .steps
            .iter()
            .map(|s| match s {
                Step::Lit(b) => String::from_utf8(b.clone()).unwrap(),
                Step::Val(_) => "V".into(),
            })
            .collect();
        assert_eq!(
            lits.concat(),
            r#"{"proc": {"pid": V, "exe": V}, "type": V, "idx": V}"#
        );
        assert!(Layout::nested(&columns(&["proc", "proc.pid"])).is_err());
    }
}
