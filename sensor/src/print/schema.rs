//! Which optional fields the writer schema of a trace file declares.
//!
//! sysprint renders a field the writer schema lacks differently from a default value
//! (`hasattr(proc, 'entry')` → `""` instead of `false`; a legacy NetworkFlow without `fd`
//! → `""`), and the decoded records do not say which it was. So we read the schema from
//! the object-container header ourselves.

use std::io::Read;

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
    /// Traits of an object-container file's writer schema; `None` when the header cannot be
    /// read (the reader reports that error with its offset).
    pub fn from_container(r: &mut impl Read) -> Option<SchemaTraits> {
        let mut magic = [0u8; 4];
        r.read_exact(&mut magic).ok()?;
        if &magic != b"Obj\x01" {
            return None;
        }
        loop {
            let mut count = read_long(r)?;
            if count == 0 {
                return None;
            }
            if count < 0 {
                count = count.checked_neg()?;
                read_long(r)?;
            }
            for _ in 0..count {
                let key = read_bytes(r)?;
                let val = read_bytes(r)?;
                if key == b"avro.schema" {
                    let v: serde_json::Value = serde_json::from_slice(&val).ok()?;
                    return Some(Self::from_schema(&v));
                }
            }
        }
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

fn read_long(r: &mut impl Read) -> Option<i64> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let mut b = [0u8];
        r.read_exact(&mut b).ok()?;
        v |= ((b[0] & 0x7f) as u64) << shift;
        if b[0] & 0x80 == 0 {
            return Some((v >> 1) as i64 ^ -((v & 1) as i64));
        }
    }
    None
}

fn read_bytes(r: &mut impl Read) -> Option<Vec<u8>> {
    let n = usize::try_from(read_long(r)?).ok()?;
    // A header larger than this is not a SysFlow trace; don't allocate for it.
    if n > 16 << 20 {
        return None;
    }
    let mut b = vec![0u8; n];
    r.read_exact(&mut b).ok()?;
    Some(b)
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
