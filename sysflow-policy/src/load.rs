//! Reading policy files: directory walking and YAML parsing with positions.
//!
//! Parsing is real YAML (yaml-rust2 events with markers). Real SysFlow rule files are not
//! always valid YAML, though — the original processor used its own grammar in which
//! whitespace is insignificant — so when a file fails to parse we retry once with two
//! repairs and report each as a warning: tabs become spaces, and an item line
//! `  - rule:` indented deeper than the top-level sequence is moved back to it.
//! Columns reported afterwards still refer to the original text.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::error::{DiagKind, Diagnostic, Loc, PolicyError};

/// Where a node starts: index of the file in [`Sources`], 1-based line, 0-based char column
/// in the (repaired) text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub file: u32,
    pub line: u32,
    pub col: u32,
}

/// A YAML node with its position.
#[derive(Debug, Clone)]
pub struct Node {
    pub mark: Mark,
    pub val: Yaml,
}

/// YAML values as far as policies need them.
#[derive(Debug, Clone)]
pub enum Yaml {
    /// Any scalar as text; `quoted` when written with quotes or as a block scalar.
    Scalar {
        text: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.val {
            Yaml::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }
    /// Value of `key` in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.val {
            Yaml::Map(m) => m
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(&self.val, Yaml::Scalar { text, quoted: false } if text.is_empty() || text == "~" || text == "null")
    }
}

/// One loaded file: its path and lines (after repairs), and per-line column shifts that
/// map repaired columns back to the original text.
#[derive(Debug)]
pub struct SourceFile {
    pub path: Arc<Path>,
    pub lines: Vec<String>,
    pub shift: Vec<i32>,
}

/// All files of a policy, in load order.
#[derive(Debug, Default)]
pub struct Sources {
    pub files: Vec<SourceFile>,
}

impl Sources {
    /// The location of a mark (1-based line and column of the original text).
    pub fn loc(&self, m: Mark) -> Loc {
        let f = &self.files[m.file as usize];
        let shift = f.shift.get(m.line as usize - 1).copied().unwrap_or(0);
        Loc {
            file: f.path.clone(),
            line: m.line,
            col: (m.col as i32 + 1 + shift).max(1) as u32,
        }
    }

    /// The original source line of a mark.
    pub fn line_text(&self, m: Mark) -> String {
        let f = &self.files[m.file as usize];
        let i = m.line as usize - 1;
        let shift = f.shift.get(i).copied().unwrap_or(0);
        f.lines
            .get(i)
            .map(|l| {
                if shift >= 0 {
                    format!("{}{}", " ".repeat(shift as usize), l)
                } else {
                    l.chars().skip((-shift) as usize).collect()
                }
            })
            .unwrap_or_default()
    }

    /// A diagnostic at a mark.
    pub fn diag(
        &self,
        kind: DiagKind,
        m: Mark,
        message: String,
        help: Option<String>,
    ) -> Diagnostic {
        Diagnostic {
            kind,
            loc: self.loc(m),
            message,
            source_line: self.line_text(m),
            help,
        }
    }

    /// Position of byte `offset` of a scalar's value within the source. Folding turns line
    /// breaks and indentation into single spaces and quotes are dropped, so non-blank
    /// characters of the value are matched one by one against the source text.
    pub fn locate_in_scalar(&self, node: &Node, offset: usize) -> Mark {
        let Yaml::Scalar { text, .. } = &node.val else {
            return node.mark;
        };
        let f = &self.files[node.mark.file as usize];
        let mut line = node.mark.line as usize - 1;
        let mut col = node.mark.col as usize;
        let mut chars: Vec<char> = f
            .lines
            .get(line)
            .map(|l| l.chars().collect())
            .unwrap_or_default();
        let mut last = (line, col);
        // Advances (line, col) to the next source char equal to `c`; returns false at EOF.
        let seek = |c: char, line: &mut usize, col: &mut usize, chars: &mut Vec<char>| -> bool {
            loop {
                if *col < chars.len() {
                    if chars[*col] == c {
                        return true;
                    }
                    *col += 1;
                } else {
                    *line += 1;
                    *col = 0;
                    match f.lines.get(*line) {
                        Some(l) => *chars = l.chars().collect(),
                        None => return false,
                    }
                }
            }
        };
        for (i, c) in text.char_indices() {
            if c.is_whitespace() {
                if i >= offset {
                    break;
                }
                continue;
            }
            if !seek(c, &mut line, &mut col, &mut chars) {
                break;
            }
            last = (line, col);
            if i >= offset {
                break;
            }
            col += 1;
            last = (line, col);
        }
        Mark {
            file: node.mark.file,
            line: last.0 as u32 + 1,
            col: last.1 as u32,
        }
    }
}

/// Lists the policy files of `path`: the file itself, or every `.yaml`/`.yml` file below the
/// directory, recursively, in lexical order of their paths.
pub fn policy_files(path: &Path) -> Result<Vec<PathBuf>, PolicyError> {
    let io = |e| PolicyError::Io {
        path: path.display().to_string(),
        source: e,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    walk(path, &mut out)?;
    out.sort();
    if out.is_empty() {
        return Err(PolicyError::Empty(path.display().to_string()));
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), PolicyError> {
    let rd = std::fs::read_dir(dir).map_err(|e| PolicyError::Io {
        path: dir.display().to_string(),
        source: e,
    })?;
    for ent in rd {
        let ent = ent.map_err(|e| PolicyError::Io {
            path: dir.display().to_string(),
            source: e,
        })?;
        let p = ent.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            out.push(p);
        }
    }
    Ok(())
}

/// Parses one file's text into its top-level node (None for an empty document). Adds the
/// file to `sources`; repairs and YAML errors are reported as diagnostics.
pub fn parse_text(
    sources: &mut Sources,
    path: Arc<Path>,
    text: &str,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Option<Node>, Diagnostic> {
    let file = sources.files.len() as u32;
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    let n = lines.len();
    sources.files.push(SourceFile {
        path: path.clone(),
        lines,
        shift: vec![0; n],
    });
    let first = match parse_events(text, file) {
        Ok(n) => return Ok(n),
        Err(e) => e,
    };
    let (fixed, shift, notes) = repair(text);
    if notes.is_empty() {
        return Err(yaml_diag(sources, file, &first));
    }
    let res = parse_events(&fixed, file);
    let sf = &mut sources.files[file as usize];
    sf.lines = fixed.lines().map(str::to_string).collect();
    sf.shift = shift;
    match res {
        Ok(node) => {
            for (line, col, msg) in notes.into_iter().filter(|n| !n.2.is_empty()) {
                let m = Mark { file, line, col };
                warnings.push(sources.diag(DiagKind::Tolerated, m, msg, Some("accepted as the original SysFlow processor does; Falco would reject this file".into())));
            }
            Ok(node)
        }
        // The repairs got past the first error: report the next one (columns map back).
        Err(e) => Err(yaml_diag(sources, file, &e)),
    }
}

fn yaml_diag(sources: &Sources, file: u32, e: &yaml_rust2::ScanError) -> Diagnostic {
    let m = e.marker();
    let mark = Mark {
        file,
        line: m.line().max(1) as u32,
        col: m.col() as u32,
    };
    let info = e.info();
    sources.diag(DiagKind::Yaml, mark, format!("invalid YAML: {info}"), None)
}

/// Tabs to spaces; item lines (`- rule:` …) indented deeper than the first item moved back.
/// Returns the text, per-line column shifts and (line, col, note) of each repair.
fn repair(text: &str) -> (String, Vec<i32>, Vec<(u32, u32, String)>) {
    let mut out = String::with_capacity(text.len());
    let mut shifts = Vec::new();
    let mut notes = Vec::new();
    let mut top: Option<usize> = None;
    let mut moved: Option<(usize, usize)> = None;
    for (i, line) in text.lines().enumerate() {
        let mut l = line.to_string();
        if let Some(p) = l.find('\t') {
            notes.push((
                i as u32 + 1,
                p as u32,
                "tab character treated as a space".to_string(),
            ));
            l = l.replace('\t', " ");
        }
        let indent = l.len() - l.trim_start_matches(' ').len();
        let rest = l[indent..].to_string();
        let is_item = rest.starts_with("- ")
            && [
                "rule",
                "macro",
                "list",
                "filter",
                "drop",
                "required_engine_version",
            ]
            .iter()
            .any(|k| {
                rest[2..]
                    .trim_start()
                    .strip_prefix(k)
                    .is_some_and(|r| r.trim_start().starts_with(':'))
            });
        let mut shift = 0i32;
        // A continuation line of a multi-line value written at column 0 or 1.
        let keyish = rest.split_once(':').is_some_and(|(k, _)| {
            !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
        if top == Some(0)
            && indent < 2
            && !rest.is_empty()
            && !rest.starts_with('-')
            && !rest.starts_with('#')
            && !keyish
        {
            let pad = 4 - indent;
            l = format!("{}{l}", " ".repeat(pad));
            shift -= pad as i32;
            notes.push((
                i as u32 + 1,
                0,
                "continuation line less indented than its key".to_string(),
            ));
        }
        // `- rule: Name: with colon` — a plain scalar may not contain ": "; quote it.
        for key in ["- rule:", "desc:", "output:"] {
            if let Some(v) = rest.strip_prefix(key) {
                let v = v.trim();
                if v.contains(": ") && !v.starts_with('\'') && !v.starts_with('"') {
                    let at = l.rfind(v).unwrap_or(l.len() - v.len());
                    let quoted = format!("'{}'", v.replace('\'', "''"));
                    notes.push((
                        i as u32 + 1,
                        at as u32,
                        "value contains ': ' and is not quoted".to_string(),
                    ));
                    l = format!("{}{quoted}", &l[..at]);
                }
            }
        }
        // Closing brackets of flow lists written at the key's indentation: YAML
        // parsers disagree on these (PyYAML and Falco accept them), so indent them.
        if rest.starts_with(']') || rest.starts_with('}') {
            l = format!("  {l}");
            shift = -2;
            notes.push((i as u32 + 1, 0, String::new()));
        }
        if is_item {
            moved = None;
            match top {
                None => top = Some(indent),
                Some(t) if indent > t && indent < t + 2 => {
                    notes.push((
                        i as u32 + 1,
                        0,
                        format!(
                            "item indented by {} column(s) more than the items before it",
                            indent - t
                        ),
                    ));
                    shift = (indent - t) as i32;
                    l = l[indent - t..].to_string();
                    moved = Some((indent, indent - t));
                }
                _ => {}
            }
        } else if let Some((item_indent, d)) = moved {
            // The item's keys move with it when they were indented relative to it.
            if !rest.is_empty() && indent >= item_indent + 2 {
                shift += d as i32;
                l = l[d..].to_string();
            }
        }
        shifts.push(shift);
        out.push_str(&l);
        out.push('\n');
    }
    (out, shifts, notes)
}

/// Builds the node tree from parser events.
struct Builder {
    file: u32,
    stack: Vec<(Mark, Frame)>,
    anchors: Vec<Option<Node>>,
    /// Top-level nodes, one per document.
    docs: Vec<Node>,
    err: Option<String>,
}

enum Frame {
    Seq(Vec<Node>, usize),
    Map(Vec<(Node, Node)>, Option<Node>, usize),
}

impl Builder {
    fn mark(&self, m: Marker) -> Mark {
        Mark {
            file: self.file,
            line: m.line().max(1) as u32,
            col: m.col() as u32,
        }
    }
    fn push_node(&mut self, n: Node, anchor: usize) {
        if anchor > 0 {
            if self.anchors.len() <= anchor {
                self.anchors.resize(anchor + 1, None);
            }
            self.anchors[anchor] = Some(n.clone());
        }
        match self.stack.last_mut() {
            None => self.docs.push(n),
            Some((_, Frame::Seq(v, _))) => v.push(n),
            Some((_, Frame::Map(v, key, _))) => match key.take() {
                None => *key = Some(n),
                Some(k) => v.push((k, n)),
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, m: Marker) {
        let mark = self.mark(m);
        match ev {
            Event::Scalar(text, style, anchor, _) => {
                let quoted = !matches!(style, TScalarStyle::Plain);
                self.push_node(
                    Node {
                        mark,
                        val: Yaml::Scalar { text, quoted },
                    },
                    anchor,
                );
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push((mark, Frame::Seq(Vec::new(), anchor)))
            }
            Event::MappingStart(anchor, _) => self
                .stack
                .push((mark, Frame::Map(Vec::new(), None, anchor))),
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((mk, fr)) = self.stack.pop() {
                    let (val, anchor) = match fr {
                        Frame::Seq(v, a) => (Yaml::Seq(v), a),
                        Frame::Map(v, _, a) => (Yaml::Map(v), a),
                    };
                    // A mapping's marker points past its first key; use the first key's.
                    let mark = match &val {
                        Yaml::Map(v) => v.first().map(|(k, _)| k.mark).unwrap_or(mk),
                        _ => mk,
                    };
                    self.push_node(Node { mark, val }, anchor);
                }
            }
            Event::Alias(id) => match self.anchors.get(id).cloned().flatten() {
                Some(n) => self.push_node(n, 0),
                None => self.err = Some("unknown alias".into()),
            },
            _ => {}
        }
    }
}

fn parse_events(text: &str, file: u32) -> Result<Option<Node>, yaml_rust2::ScanError> {
    Ok(parse_all(text, file, false)?.into_iter().next())
}

/// The top-level node of the first document, or of every document when `multi`.
fn parse_all(text: &str, file: u32, multi: bool) -> Result<Vec<Node>, yaml_rust2::ScanError> {
    let mut b = Builder {
        file,
        stack: Vec::new(),
        anchors: Vec::new(),
        docs: Vec::new(),
        err: None,
    };
    let mut p = Parser::new_from_str(text);
    p.load(&mut b, multi)?;
    Ok(b.docs)
}

/// Every document of a file already in `sources` (Sigma files may hold several, separated
/// by `---`), parsed again from its stored text.
pub fn parse_documents(sources: &Sources, file: u32) -> Result<Vec<Node>, Diagnostic> {
    let f = &sources.files[file as usize];
    let mut text = f.lines.join("\n");
    text.push('\n');
    parse_all(&text, file, true).map_err(|e| yaml_diag(sources, file, &e))
}

/// Reads and parses one file.
pub fn load_file(
    sources: &mut Sources,
    path: &Path,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Result<Option<Node>, Diagnostic>, PolicyError> {
    let text = std::fs::read_to_string(path).map_err(|e| PolicyError::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    Ok(parse_text(sources, Arc::from(path), &text, warnings))
}
