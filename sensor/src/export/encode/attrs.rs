//! The exported attributes in the original's JSON order (reference §6.2: sorted by number of
//! dot-parts, then full name), with the section and key each one is written under and how a
//! value is rendered. Names are resolved to [`Field`]s once, when an encoder is built.

use sysflow_model::flat::{Attr, Field};

use super::fragment::Entity;

/// How an attribute renders in JSON (and what a missing value renders as).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Int,
    Bool,
    /// Array of strings.
    List,
    /// Array of numbers.
    IntList,
    /// Pod IP arrays and services, rendered from the pod entity.
    PodHostIp,
    PodInternalIp,
    PodServices,
}

/// JSON sections; `Top` is the document's top level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Top,
    Container,
    File,
    Flow,
    K8s,
    Meta,
    Net,
    Node,
    Pod,
    Pproc,
    Proc,
}

impl Section {
    pub fn key(self) -> &'static str {
        match self {
            Section::Top => "",
            Section::Container => "container",
            Section::File => "file",
            Section::Flow => "flow",
            Section::K8s => "k8s",
            Section::Meta => "meta",
            Section::Net => "net",
            Section::Node => "node",
            Section::Pod => "pod",
            Section::Pproc => "pproc",
            Section::Proc => "proc",
        }
    }
}

use Kind::*;
use Section::*;

/// (full name, section, key in section, kind), in output order.
pub const EXPORTED: &[(&str, Section, &str, Kind)] = &[
    ("sf.endts", Top, "endts", Int),
    ("sf.opflags", Top, "opflags", List),
    ("sf.ret", Top, "ret", Int),
    ("sf.ts", Top, "ts", Int),
    ("sf.type", Top, "type", Str),
    ("sf.container.id", Container, "id", Str),
    ("sf.container.image", Container, "image", Str),
    ("sf.container.imageid", Container, "imageid", Str),
    ("sf.container.name", Container, "name", Str),
    ("sf.container.privileged", Container, "privileged", Int),
    ("sf.container.type", Container, "type", Str),
    ("sf.file.directory", File, "directory", Str),
    ("sf.file.fd", File, "fd", Int),
    ("sf.file.is_open_read", File, "is_open_read", Bool),
    ("sf.file.is_open_write", File, "is_open_write", Bool),
    ("sf.file.name", File, "name", Str),
    ("sf.file.newdirectory", File, "newdirectory", Str),
    ("sf.file.newname", File, "newname", Str),
    ("sf.file.newoid", File, "newoid", Str),
    ("sf.file.newpath", File, "newpath", Str),
    ("sf.file.newsymlink", File, "newsymlink", Str),
    ("sf.file.oid", File, "oid", Str),
    ("sf.file.openflags", File, "openflags", List),
    ("sf.file.path", File, "path", Str),
    ("sf.file.symlink", File, "symlink", Str),
    ("sf.file.type", File, "type", Str),
    ("sf.flow.rbytes", Flow, "rbytes", Int),
    ("sf.flow.rops", Flow, "rops", Int),
    ("sf.flow.wbytes", Flow, "wbytes", Int),
    ("sf.flow.wops", Flow, "wops", Int),
    ("sf.ke.action", K8s, "action", Str),
    ("sf.ke.kind", K8s, "kind", Str),
    ("sf.ke.message", K8s, "message", Str),
    ("sf.meta.schema", Meta, "schema", Int),
    ("sf.meta.tracename", Meta, "tracename", Str),
    ("sf.net.dip", Net, "dip", Str),
    ("sf.net.dport", Net, "dport", Int),
    ("sf.net.ip", Net, "ip", List),
    ("sf.net.port", Net, "port", IntList),
    ("sf.net.proto", Net, "proto", Int),
    ("sf.net.sip", Net, "sip", Str),
    ("sf.net.sport", Net, "sport", Int),
    ("sf.node.id", Node, "id", Str),
    ("sf.node.ip", Node, "ip", Str),
    ("sf.pod.hostip+", Pod, "hostip", PodHostIp),
    ("sf.pod.id", Pod, "id", Str),
    ("sf.pod.internalip+", Pod, "internalip", PodInternalIp),
    ("sf.pod.name", Pod, "name", Str),
    ("sf.pod.namespace", Pod, "namespace", Str),
    ("sf.pod.nodename", Pod, "nodename", Str),
    ("sf.pod.restartcnt", Pod, "restartcnt", Int),
    ("sf.pod.services+", Pod, "services", PodServices),
    ("sf.pod.ts", Pod, "ts", Int),
    ("sf.pproc.args", Pproc, "args", Str),
    ("sf.pproc.cmdline", Pproc, "cmdline", Str),
    ("sf.pproc.createts", Pproc, "createts", Int),
    ("sf.pproc.entry", Pproc, "entry", Bool),
    ("sf.pproc.exe", Pproc, "exe", Str),
    ("sf.pproc.gid", Pproc, "gid", Int),
    ("sf.pproc.group", Pproc, "group", Str),
    ("sf.pproc.name", Pproc, "name", Str),
    ("sf.pproc.oid", Pproc, "oid", Str),
    ("sf.pproc.pid", Pproc, "pid", Int),
    ("sf.pproc.tty", Pproc, "tty", Bool),
    ("sf.pproc.uid", Pproc, "uid", Int),
    ("sf.pproc.user", Pproc, "user", Str),
    ("sf.proc.acmdline", Proc, "acmdline", List),
    ("sf.proc.aexe", Proc, "aexe", List),
    ("sf.proc.aname", Proc, "aname", List),
    ("sf.proc.apid", Proc, "apid", IntList),
    ("sf.proc.args", Proc, "args", Str),
    ("sf.proc.cmdline", Proc, "cmdline", Str),
    ("sf.proc.createts", Proc, "createts", Int),
    ("sf.proc.entry", Proc, "entry", Bool),
    ("sf.proc.exe", Proc, "exe", Str),
    ("sf.proc.gid", Proc, "gid", Int),
    ("sf.proc.group", Proc, "group", Str),
    ("sf.proc.name", Proc, "name", Str),
    ("sf.proc.oid", Proc, "oid", Str),
    ("sf.proc.pid", Proc, "pid", Int),
    ("sf.proc.tid", Proc, "tid", Int),
    ("sf.proc.tty", Proc, "tty", Bool),
    ("sf.proc.uid", Proc, "uid", Int),
    ("sf.proc.user", Proc, "user", Str),
];

/// One exported attribute, resolved.
#[derive(Debug, Clone)]
pub struct Exported {
    /// Full name without a `+` suffix (flat JSON key).
    pub name: &'static str,
    pub section: Section,
    pub key: &'static str,
    pub kind: Kind,
    /// `None` when the attribute catalogue does not know the name (it then renders empty).
    pub field: Option<Field>,
}

/// Resolves [`EXPORTED`]; names the catalogue does not know are logged once.
pub fn resolve_all() -> Vec<Exported> {
    EXPORTED
        .iter()
        .map(|&(full, section, key, kind)| {
            let name = full.trim_end_matches('+');
            let field = match kind {
                PodHostIp | PodInternalIp | PodServices => None,
                _ => {
                    let f = Field::resolve(name);
                    if f.is_none() {
                        tracing::debug!("attribute {name} is not in the catalogue; exported empty");
                    }
                    f
                }
            };
            Exported {
                name,
                section,
                key,
                kind,
                field,
            }
        })
        .collect()
}

/// The entity an exported attribute is read from, for the fragment cache
/// (`super::fragment`); `None` for attributes of the record itself.
///
/// This follows the readers in `sysflow_model::flat` (`read.rs`): `sf.proc.pid`, `oid` and
/// `createts` come from the record's process OID, `sf.pproc.pid`, `oid` and `createts` from
/// the process's parent OID, which [`Entity::key`] checks are the entity's own. An attribute
/// not listed here is simply encoded per record: the file attributes too, cheaper so than
/// cached (`super::fragment`).
pub fn entity_of(a: &Exported) -> Option<Entity> {
    if matches!(a.kind, PodHostIp | PodInternalIp | PodServices) {
        return Some(Entity::Pod);
    }
    let f = a.field.as_ref()?;
    if f.index.is_some() || f.json_path.is_some() {
        return None;
    }
    Some(match f.attr {
        Attr::ProcAName | Attr::ProcAExe | Attr::ProcACmdline | Attr::ProcAPid => Entity::Ancestry,
        Attr::ProcOid
        | Attr::ProcPid
        | Attr::ProcCreateTs
        | Attr::ProcExe
        | Attr::ProcName
        | Attr::ProcArgs
        | Attr::ProcCmdline
        | Attr::ProcUid
        | Attr::ProcGid
        | Attr::ProcUser
        | Attr::ProcGroup
        | Attr::ProcTty
        | Attr::ProcEntry
        | Attr::ProcCwd
        | Attr::ProcEnv => Entity::Proc,
        Attr::PProcOid
        | Attr::PProcPid
        | Attr::PProcCreateTs
        | Attr::PProcExe
        | Attr::PProcName
        | Attr::PProcArgs
        | Attr::PProcCmdline
        | Attr::PProcUid
        | Attr::PProcGid
        | Attr::PProcUser
        | Attr::PProcGroup
        | Attr::PProcTty
        | Attr::PProcEntry => Entity::PProc,
        Attr::ContainerId
        | Attr::ContainerName
        | Attr::ContainerImage
        | Attr::ContainerImageId
        | Attr::ContainerType
        | Attr::ContainerPrivileged
        | Attr::ContainerPrivilegedBool => Entity::Container,
        Attr::PodId
        | Attr::PodName
        | Attr::PodNodeName
        | Attr::PodNamespace
        | Attr::PodTs
        | Attr::PodRestartCnt => Entity::Pod,
        Attr::NodeId | Attr::NodeIp | Attr::MetaSchema | Attr::MetaTraceName => Entity::Header,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::encode::json::write_value;
    use crate::pipeline::Event;
    use testkit::entities::{distinct_rename, sharing, Shared};

    fn render(a: &Exported, r: &sysflow_model::flat::FlatRecord) -> String {
        let mut out = Vec::new();
        write_value(&mut out, a, &Event::new(r.clone()));
        String::from_utf8(out).unwrap()
    }

    /// An attribute given an entity reads nothing else once [`Entity::key`] accepts the
    /// record: two records that share only that entity render it the same.
    #[test]
    fn entity_attributes_read_only_their_entity() {
        // FileEvents (RENAME): every entity is there, and the most attributes.
        let (a, b) = (distinct_rename(1), distinct_rename(2));
        let attrs = resolve_all();
        for (e, shared) in [
            (Entity::Proc, Shared::Proc),
            (Entity::Ancestry, Shared::Ancestry),
            (Entity::PProc, Shared::PProc),
            (Entity::Container, Shared::Container),
            (Entity::Pod, Shared::Pod),
            (Entity::Header, Shared::Header),
        ] {
            let b = sharing(&a, &b, shared);
            assert!(e.key(&a).is_some() && e.key(&b).is_some(), "{e:?}");
            let mine: Vec<&Exported> = attrs.iter().filter(|x| entity_of(x) == Some(e)).collect();
            assert!(!mine.is_empty(), "{e:?}");
            for x in mine {
                assert_eq!(render(x, &a), render(x, &b), "{}", x.name);
            }
        }
        // Without sharing, every entity attribute differs (so the comparisons can fail).
        for x in attrs.iter().filter(|x| entity_of(x).is_some()) {
            assert_ne!(render(x, &a), render(x, &b), "{}", x.name);
        }
    }
}
