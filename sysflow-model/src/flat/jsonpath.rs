//! A small gjson-like path evaluator for `attr[path]` suffixes (reference §5.3).
//!
//! Supported: dot-separated object keys (`\.` escapes a dot, `*`/`?` wildcards match the first
//! key), numeric array indices, `#` (array length when last, else the path applied to every
//! element, collected into a JSON array). Result stringified like gjson's `Result.String()`:
//! strings unquoted, numbers and booleans as text, null and no match as "", objects and
//! arrays as compact JSON. Not a hot path (K8s events and pods are rare): it parses with
//! serde_json and may allocate.

use serde_json::Value as J;

/// Applies `path` to the JSON text `json` and writes the stringified result into `out`
/// (cleared first). Invalid JSON or no match leaves `out` empty.
pub(crate) fn eval_into(json: &str, path: &str, out: &mut String) {
    let parsed: Option<J> = serde_json::from_str(json).ok();
    out.clear();
    let Some(root) = parsed else { return };
    let comps = split_path(path);
    if let Some(v) = walk(&root, &comps) {
        stringify(&v, out);
    }
}

fn split_path(path: &str) -> Vec<String> {
    let mut comps = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '.' => comps.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    comps.push(cur);
    comps
}

fn walk(v: &J, comps: &[String]) -> Option<J> {
    let Some((c, rest)) = comps.split_first() else {
        return Some(v.clone());
    };
    match v {
        J::Array(a) => {
            if c == "#" {
                if rest.is_empty() {
                    Some(J::from(a.len()))
                } else {
                    Some(J::Array(a.iter().filter_map(|e| walk(e, rest)).collect()))
                }
            } else {
                let i: usize = c.parse().ok()?;
                walk(a.get(i)?, rest)
            }
        }
        J::Object(m) => {
            let child = if c.contains(['*', '?']) {
                m.iter().find(|(k, _)| glob(c, k)).map(|(_, v)| v)
            } else {
                m.get(c.as_str())
            };
            walk(child?, rest)
        }
        _ => None,
    }
}

/// `*` matches any run, `?` one character.
fn glob(pat: &str, s: &str) -> bool {
    let p: Vec<char> = pat.chars().collect();
    let t: Vec<char> = s.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn stringify(v: &J, out: &mut String) {
    match v {
        J::Null => {}
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Number(n) => out.push_str(&n.to_string()),
        J::String(s) => out.push_str(s),
        J::Array(_) | J::Object(_) => out.push_str(&v.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(json: &str, path: &str) -> String {
        let mut s = String::from("garbage");
        eval_into(json, path, &mut s);
        s
    }

    #[test]
    fn keys_indices_counts_and_wildcards() {
        let j = r#"{"items":[{"namespace":"default","name":"web","n":3,"ok":true,"x":null},
                   {"namespace":"kube","name":"dns"}],"a.b":{"c":1}}"#;
        assert_eq!(ev(j, "items.0.namespace"), "default");
        assert_eq!(ev(j, "items.1.name"), "dns");
        assert_eq!(ev(j, "items.0.n"), "3");
        assert_eq!(ev(j, "items.0.ok"), "true");
        assert_eq!(ev(j, "items.0.x"), "");
        assert_eq!(ev(j, "items.#"), "2");
        assert_eq!(ev(j, "items.#.name"), r#"["web","dns"]"#);
        assert_eq!(ev(j, "items.2.name"), "");
        assert_eq!(ev(j, "it*.0.name"), "web");
        assert_eq!(ev(j, r"a\.b.c"), "1");
        assert_eq!(ev(j, "items.1"), r#"{"name":"dns","namespace":"kube"}"#);
        assert_eq!(ev("[1,2,3]", "1"), "2");
        assert_eq!(ev("not json", "a"), "");
        assert_eq!(ev("", "a"), "");
    }
}
