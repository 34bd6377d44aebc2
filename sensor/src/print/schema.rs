//! Which optional fields the writer schema of a trace file declares.
//!
//! sysprint renders a field the writer schema lacks differently from a default value
//! (`hasattr(proc, 'entry')` → `""` instead of `false`; a legacy NetworkFlow without `fd`
//! → `""`), and the decoded records do not say which it was. So we read the schema from
//! the writer schema of the file ourselves.

/// Presence of the fields whose absence sysprint renders as `""`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaTraits {
    pub process_has_entry: bool,
    pub process_has_cwd: bool,
    pub process_has_env: bool,
    pub header_has_ip: bool,
    pub header_has_filename: bool,
    pub nf_has_fd: bool,
}

impl Default for SchemaTraits {
    /// The v5 schema: every field present.
    fn default() -> Self {
        SchemaTraits {
            process_has_entry: true,
            process_has_cwd: true,
            process_has_env: true,
            header_has_ip: true,
            header_has_filename: true,
            nf_has_fd: true,
        }
    }
}

impl SchemaTraits {
    /// Traits of a writer schema given as JSON text; the v5 defaults when it does not parse
    /// (the reader has accepted it, so that does not happen in practice).
    pub fn from_schema_text(text: &str) -> SchemaTraits {
        serde_json::from_str::<serde_json::Value>(text)
            .map(|v| Self::from_schema(&v))
            .unwrap_or_default()
    }

    /// Traits of a parsed schema.
    pub fn from_schema(v: &serde_json::Value) -> SchemaTraits {
        let mut t = SchemaTraits {
            process_has_entry: false,
            process_has_cwd: false,
            process_has_env: false,
            header_has_ip: false,
            header_has_filename: false,
            nf_has_fd: false,
        };
        visit(v, &mut t);
        t
    }
}

fn visit(v: &serde_json::Value, t: &mut SchemaTraits) {
    match v {
        serde_json::Value::Array(a) => a.iter().for_each(|x| visit(x, t)),
        serde_json::Value::Object(o) => {
            if o.get("type").and_then(|x| x.as_str()) == Some("record") {
                let name = o.get("name").and_then(|x| x.as_str()).unwrap_or("");
                let short = name.rsplit('.').next().unwrap_or(name);
                let has = |f: &str| {
                    o.get("fields")
                        .and_then(|x| x.as_array())
                        .is_some_and(|fs| fs.iter().any(|x| x.get("name") == Some(&f.into())))
                };
                match short {
                    "Process" => {
                        t.process_has_entry |= has("entry");
                        t.process_has_cwd |= has("cwd");
                        t.process_has_env |= has("env");
                    }
                    "SFHeader" => {
                        t.header_has_ip |= has("ip");
                        t.header_has_filename |= has("filename");
                    }
                    "NetworkFlow" => t.nf_has_fd |= has("fd"),
                    _ => {}
                }
            }
            o.values().for_each(|x| visit(x, t));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_and_v5_schemas() {
        let legacy = serde_json::json!({"type":"record","name":"SysFlow","fields":[{"name":"rec","type":[
            {"type":"record","name":"SFHeader","namespace":"sysflow.entity","fields":[{"name":"version","type":"long"}]},
            {"type":"record","name":"Process","fields":[{"name":"tty","type":"boolean"}]},
            {"type":"record","name":"NetworkFlow","fields":[{"name":"sip","type":"int"}]}]}]});
        let t = SchemaTraits::from_schema(&legacy);
        assert!(!t.process_has_entry && !t.header_has_ip && !t.nf_has_fd);
        let v5 = serde_json::json!([{"type":"record","name":"sysflow.entity.Process","fields":[{"name":"entry"},{"name":"cwd"},{"name":"env"}]},
            {"type":"record","name":"NetworkFlow","fields":[{"name":"fd"}]},
            {"type":"record","name":"SFHeader","fields":[{"name":"ip"},{"name":"filename"}]}]);
        assert_eq!(SchemaTraits::from_schema(&v5), SchemaTraits::default());
    }
}
