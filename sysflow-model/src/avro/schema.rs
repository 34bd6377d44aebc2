//! The SysFlow v5 schema this crate writes, and a small parser for the writer schemas
//! embedded in container files (enough of Avro to compile a decode program from them).

use serde_json::{Map, Value};

/// The SysFlow v5 schema (`sysflow.SysFlow`, a record whose only field `rec` is the union of the
/// 12 record types). Written from the spec; its Parsing Canonical Form equals the official
/// `SysFlow.avsc`. Embedded in every file [`super::Writer`] produces.
pub const SYSFLOW_V5_SCHEMA: &str = r#"{"type":"record","name":"SysFlow","namespace":"sysflow","fields":[
{"name":"rec","type":[
 {"type":"record","name":"SFHeader","namespace":"sysflow.entity","fields":[
  {"name":"version","type":"long","default":5},
  {"name":"exporter","type":"string"},
  {"name":"ip","type":"string","default":"NA"},
  {"name":"filename","type":"string"}]},
 {"type":"record","name":"Container","namespace":"sysflow.entity","fields":[
  {"name":"id","type":"string"},
  {"name":"name","type":"string"},
  {"name":"image","type":"string"},
  {"name":"imageid","type":"string"},
  {"name":"type","type":{"type":"enum","name":"ContainerType","namespace":"sysflow.type","symbols":
   ["CT_DOCKER","CT_LXC","CT_LIBVIRT_LXC","CT_MESOS","CT_RKT","CT_CUSTOM","CT_CRI","CT_CONTAINERD","CT_CRIO","CT_BPM"]}},
  {"name":"privileged","type":"boolean"},
  {"name":"podId","type":["null","string"]}]},
 {"type":"record","name":"Process","namespace":"sysflow.entity","fields":[
  {"name":"state","type":{"type":"enum","name":"SFObjectState","namespace":"sysflow.type","symbols":["CREATED","MODIFIED","REUP"]}},
  {"name":"oid","type":{"type":"record","name":"OID","namespace":"sysflow.type","fields":[
   {"name":"createTS","type":"long"},
   {"name":"hpid","type":"long"}]}},
  {"name":"poid","type":["null","sysflow.type.OID"]},
  {"name":"ts","type":"long"},
  {"name":"exe","type":"string"},
  {"name":"exeArgs","type":"string"},
  {"name":"uid","type":"int"},
  {"name":"userName","type":"string"},
  {"name":"gid","type":"int"},
  {"name":"groupName","type":"string"},
  {"name":"tty","type":"boolean"},
  {"name":"containerId","type":["null","string"]},
  {"name":"entry","type":"boolean","default":false},
  {"name":"cwd","type":"string"},
  {"name":"env","type":{"type":"array","items":"string"}}]},
 {"type":"record","name":"File","namespace":"sysflow.entity","fields":[
  {"name":"state","type":"sysflow.type.SFObjectState"},
  {"name":"oid","type":{"type":"fixed","name":"FOID","namespace":"sysflow.type","size":20}},
  {"name":"ts","type":"long"},
  {"name":"restype","type":"int"},
  {"name":"path","type":"string"},
  {"name":"containerId","type":["null","string"]}]},
 {"type":"record","name":"ProcessEvent","namespace":"sysflow.event","fields":[
  {"name":"procOID","type":"sysflow.type.OID"},
  {"name":"ts","type":"long"},
  {"name":"tid","type":"long"},
  {"name":"opFlags","type":"int"},
  {"name":"args","type":{"type":"array","items":"string"}},
  {"name":"ret","type":"int"}]},
 {"type":"record","name":"NetworkFlow","namespace":"sysflow.flow","fields":[
  {"name":"procOID","type":"sysflow.type.OID"},
  {"name":"ts","type":"long"},
  {"name":"tid","type":"long"},
  {"name":"opFlags","type":"int"},
  {"name":"endTs","type":"long"},
  {"name":"sip","type":"int"},
  {"name":"sport","type":"int"},
  {"name":"dip","type":"int"},
  {"name":"dport","type":"int"},
  {"name":"proto","type":"int"},
  {"name":"fd","type":"int"},
  {"name":"numRRecvOps","type":"long"},
  {"name":"numWSendOps","type":"long"},
  {"name":"numRRecvBytes","type":"long"},
  {"name":"numWSendBytes","type":"long"}]},
 {"type":"record","name":"FileFlow","namespace":"sysflow.flow","fields":[
  {"name":"procOID","type":"sysflow.type.OID"},
  {"name":"ts","type":"long"},
  {"name":"tid","type":"long"},
  {"name":"opFlags","type":"int"},
  {"name":"openFlags","type":"int"},
  {"name":"endTs","type":"long"},
  {"name":"fileOID","type":"sysflow.type.FOID"},
  {"name":"fd","type":"int"},
  {"name":"numRRecvOps","type":"long"},
  {"name":"numWSendOps","type":"long"},
  {"name":"numRRecvBytes","type":"long"},
  {"name":"numWSendBytes","type":"long"}]},
 {"type":"record","name":"FileEvent","namespace":"sysflow.event","fields":[
  {"name":"procOID","type":"sysflow.type.OID"},
  {"name":"ts","type":"long"},
  {"name":"tid","type":"long"},
  {"name":"opFlags","type":"int"},
  {"name":"fileOID","type":"sysflow.type.FOID"},
  {"name":"ret","type":"int"},
  {"name":"newFileOID","type":["null","sysflow.type.FOID"]}]},
 {"type":"record","name":"NetworkEvent","namespace":"sysflow.event","fields":[
  {"name":"procOID","type":"sysflow.type.OID"},
  {"name":"ts","type":"long"},
  {"name":"tid","type":"long"},
  {"name":"opFlags","type":"int"},
  {"name":"sip","type":"int"},
  {"name":"sport","type":"int"},
  {"name":"dip","type":"int"},
  {"name":"dport","type":"int"},
  {"name":"proto","type":"int"},
  {"name":"ret","type":"int"}]},
 {"type":"record","name":"ProcessFlow","namespace":"sysflow.flow","fields":[
  {"name":"procOID","type":"sysflow.type.OID"},
  {"name":"ts","type":"long"},
  {"name":"numThreadsCloned","type":"long"},
  {"name":"opFlags","type":"int"},
  {"name":"endTs","type":"long"},
  {"name":"numThreadsExited","type":"long"},
  {"name":"numCloneErrors","type":"long"}]},
 {"type":"record","name":"Pod","namespace":"sysflow.entity","fields":[
  {"name":"ts","type":"long"},
  {"name":"id","type":"string"},
  {"name":"name","type":"string"},
  {"name":"nodeName","type":"string"},
  {"name":"hostIP","type":{"type":"array","items":"long","logicalType":"ipaddr"}},
  {"name":"internalIP","type":{"type":"array","items":"long","logicalType":"ipaddr"}},
  {"name":"namespace","type":"string"},
  {"name":"restartCount","type":"long"},
  {"name":"labels","type":{"type":"map","values":"string"}},
  {"name":"selectors","type":{"type":"map","values":"string"}},
  {"name":"services","type":{"type":"array","items":{"type":"record","name":"Service","fields":[
   {"name":"name","type":"string"},
   {"name":"id","type":"string"},
   {"name":"namespace","type":"string"},
   {"name":"portList","type":{"type":"array","items":{"type":"record","name":"Port","fields":[
    {"name":"port","type":"int"},
    {"name":"targetPort","type":"int"},
    {"name":"nodePort","type":"int"},
    {"name":"proto","type":"string"}]}}},
   {"name":"clusterIP","type":{"type":"array","items":"long","logicalType":"ipaddr"}}]}}}]},
 {"type":"record","name":"K8sEvent","namespace":"sysflow.event","fields":[
  {"name":"kind","type":{"type":"enum","name":"K8sComponent","namespace":"sysflow.type","symbols":
   ["K8S_NODES","K8S_NAMESPACES","K8S_PODS","K8S_REPLICATIONCONTROLLERS","K8S_SERVICES","K8S_EVENTS",
    "K8S_REPLICASETS","K8S_DAEMONSETS","K8S_DEPLOYMENTS","K8S_UNKNOWN"]}},
  {"name":"action","type":{"type":"enum","name":"K8sAction","namespace":"sysflow.type","symbols":
   ["K8S_COMPONENT_ADDED","K8S_COMPONENT_MODIFIED","K8S_COMPONENT_DELETED","K8S_COMPONENT_ERROR",
    "K8S_COMPONENT_NONEXISTENT","K8S_COMPONENT_UNKNOWN"]}},
  {"name":"ts","type":"long"},
  {"name":"message","type":"string"}]}
]}]}"#;

/// An Avro type of a parsed writer schema. Named types live in [`Parsed::named`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ty {
    Null,
    Bool,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    Str,
    /// Index into [`Parsed::named`].
    Named(usize),
    Array(Box<Ty>),
    Map(Box<Ty>),
    Union(Vec<Ty>),
}

/// A named type definition.
#[derive(Debug, Clone)]
pub(crate) enum Named {
    Record {
        full_name: String,
        fields: Vec<(String, Ty)>,
    },
    Enum {
        symbols: Vec<String>,
    },
    Fixed {
        size: usize,
    },
}

/// A parsed schema: the root type and the table of named types it defines.
#[derive(Debug, Clone)]
pub(crate) struct Parsed {
    pub root: Ty,
    pub named: Vec<Named>,
    names: Vec<String>,
}

impl Parsed {
    /// Parse Avro schema JSON. Errors are human-readable descriptions.
    pub fn parse(json: &str) -> Result<Parsed, String> {
        let v: Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
        let mut p = Parsed {
            root: Ty::Null,
            named: Vec::new(),
            names: Vec::new(),
        };
        p.root = p.ty(&v, "")?;
        Ok(p)
    }

    fn lookup(&self, name: &str, ns: &str) -> Option<usize> {
        let find = |n: &str| self.names.iter().position(|x| x == n);
        if name.contains('.') || ns.is_empty() {
            find(name)
        } else {
            find(&format!("{ns}.{name}")).or_else(|| find(name))
        }
    }

    fn ty(&mut self, v: &Value, ns: &str) -> Result<Ty, String> {
        match v {
            Value::String(s) => self.named_or_primitive(s, ns),
            Value::Array(branches) => {
                let mut out = Vec::with_capacity(branches.len());
                for b in branches {
                    out.push(self.ty(b, ns)?);
                }
                Ok(Ty::Union(out))
            }
            Value::Object(o) => self.complex(o, ns),
            other => Err(format!("unexpected schema element {other}")),
        }
    }

    fn named_or_primitive(&self, s: &str, ns: &str) -> Result<Ty, String> {
        Ok(match s {
            "null" => Ty::Null,
            "boolean" => Ty::Bool,
            "int" => Ty::Int,
            "long" => Ty::Long,
            "float" => Ty::Float,
            "double" => Ty::Double,
            "bytes" => Ty::Bytes,
            "string" => Ty::Str,
            _ => Ty::Named(
                self.lookup(s, ns)
                    .ok_or_else(|| format!("unknown type name {s:?}"))?,
            ),
        })
    }

    /// Full name and namespace for a named type definition.
    fn full_name(o: &Map<String, Value>, ns: &str) -> Result<(String, String), String> {
        let name = o
            .get("name")
            .and_then(Value::as_str)
            .ok_or("named type without a \"name\"")?;
        if let Some(dot) = name.rfind('.') {
            return Ok((name.to_owned(), name[..dot].to_owned()));
        }
        let ns = match o.get("namespace") {
            Some(Value::String(n)) => n.as_str(),
            _ => ns,
        };
        if ns.is_empty() {
            Ok((name.to_owned(), String::new()))
        } else {
            Ok((format!("{ns}.{name}"), ns.to_owned()))
        }
    }

    fn define(&mut self, full: String, def: Named) -> Result<usize, String> {
        if self.names.contains(&full) {
            return Err(format!("type {full} defined twice"));
        }
        self.names.push(full);
        self.named.push(def);
        Ok(self.named.len() - 1)
    }

    fn complex(&mut self, o: &Map<String, Value>, ns: &str) -> Result<Ty, String> {
        let t = match o.get("type") {
            Some(Value::String(t)) => t.as_str(),
            // {"type": {...}} or {"type": [...]}: a wrapped type.
            Some(inner) => return self.ty(inner, ns),
            None => return Err("schema object without \"type\"".into()),
        };
        match t {
            "record" | "error" => {
                let (full, rec_ns) = Self::full_name(o, ns)?;
                // Registered before the fields so that recursive references resolve.
                let idx = self.define(
                    full.clone(),
                    Named::Record {
                        full_name: full,
                        fields: Vec::new(),
                    },
                )?;
                let fields = o
                    .get("fields")
                    .and_then(Value::as_array)
                    .ok_or("record without a \"fields\" array")?;
                let mut out = Vec::with_capacity(fields.len());
                for f in fields {
                    let name = f
                        .get("name")
                        .and_then(Value::as_str)
                        .ok_or("record field without a \"name\"")?;
                    let ft = f.get("type").ok_or("record field without a \"type\"")?;
                    out.push((name.to_owned(), self.ty(ft, &rec_ns)?));
                }
                if let Named::Record { fields, .. } = &mut self.named[idx] {
                    *fields = out;
                }
                Ok(Ty::Named(idx))
            }
            "enum" => {
                let (full, _) = Self::full_name(o, ns)?;
                let symbols = o
                    .get("symbols")
                    .and_then(Value::as_array)
                    .ok_or("enum without a \"symbols\" array")?
                    .iter()
                    .map(|s| {
                        s.as_str()
                            .map(str::to_owned)
                            .ok_or("enum symbol is not a string")
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Ty::Named(self.define(full, Named::Enum { symbols })?))
            }
            "fixed" => {
                let (full, _) = Self::full_name(o, ns)?;
                let size = o
                    .get("size")
                    .and_then(Value::as_u64)
                    .ok_or("fixed without a numeric \"size\"")?;
                let size = usize::try_from(size)
                    .ok()
                    .filter(|s| *s <= 1 << 20)
                    .ok_or("fixed size too large")?;
                Ok(Ty::Named(self.define(full, Named::Fixed { size })?))
            }
            "array" => Ok(Ty::Array(Box::new(
                self.ty(o.get("items").ok_or("array without \"items\"")?, ns)?,
            ))),
            "map" => Ok(Ty::Map(Box::new(
                self.ty(o.get("values").ok_or("map without \"values\"")?, ns)?,
            ))),
            // A primitive with attributes, e.g. {"type":"long","logicalType":"timestamp-millis"}.
            prim => self.named_or_primitive(prim, ns),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v5_schema_parses_with_12_branches() {
        let p = Parsed::parse(SYSFLOW_V5_SCHEMA).unwrap();
        let Ty::Named(root) = p.root else { panic!() };
        let Named::Record { full_name, fields } = &p.named[root] else {
            panic!()
        };
        assert_eq!(full_name, "sysflow.SysFlow");
        let Ty::Union(b) = &fields[0].1 else { panic!() };
        assert_eq!(b.len(), 12);
    }

    #[test]
    fn unknown_reference_is_an_error() {
        let e =
            Parsed::parse(r#"{"type":"record","name":"a","fields":[{"name":"x","type":"nope"}]}"#)
                .unwrap_err();
        assert!(e.contains("nope"), "{e}");
    }
}
