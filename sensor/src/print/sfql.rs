//! sfql: `-f EXPR` queries over sysprint's attribute names (`type`, `opflags`, `proc.exe`,
//! `file.path`, `net.dport`, …), compiled by the policy compiler in a namespace of its own
//! (see docs/analytics.md for the differences from sysprint's `sysflow/sfql.py`).

use std::path::PathBuf;

use sysflow_model::flat::{Attr, Field, FlatRecord, Value};
use sysflow_model::record::SysFlow;

use sysflow_policy::query::{FieldRef, Getter, Namespace, Query, QueryScratch};
use sysflow_policy::PolicyError;

/// What an sfql name reads.
enum Src {
    /// An attribute of the catalogue.
    Attr(Attr),
    /// A value the catalogue lacks, or spells unlike sysprint.
    Get(Getter),
}

/// sfql's attributes (`SfqlMapper._mapper`) plus the other keys of sysprint's field table
/// that have a value. `proc.aname` is the ancestors' exe paths, as in sfql.
const NAMES: &[(&str, Src)] = &[
    ("type", Src::Attr(Attr::Type)),
    ("opflags", Src::Attr(Attr::OpFlags)),
    ("opflags_bitmap", Src::Get(opflags_bitmap)),
    ("ret", Src::Attr(Attr::Ret)),
    ("ts", Src::Attr(Attr::Ts)),
    ("ts_uts", Src::Attr(Attr::Ts)),
    ("endts", Src::Attr(Attr::EndTs)),
    ("endts_uts", Src::Attr(Attr::EndTs)),
    ("proc.pid", Src::Attr(Attr::ProcPid)),
    ("proc.name", Src::Attr(Attr::ProcName)),
    ("proc.cwd", Src::Attr(Attr::ProcCwd)),
    ("proc.exe", Src::Attr(Attr::ProcExe)),
    ("proc.args", Src::Attr(Attr::ProcArgs)),
    ("proc.uid", Src::Attr(Attr::ProcUid)),
    ("proc.user", Src::Attr(Attr::ProcUser)),
    ("proc.tid", Src::Attr(Attr::ProcTid)),
    ("proc.gid", Src::Attr(Attr::ProcGid)),
    ("proc.group", Src::Attr(Attr::ProcGroup)),
    ("proc.createts", Src::Attr(Attr::ProcCreateTs)),
    ("proc.tty", Src::Attr(Attr::ProcTty)),
    ("proc.entry", Src::Attr(Attr::ProcEntry)),
    ("proc.env", Src::Attr(Attr::ProcEnv)),
    ("proc.cmdline", Src::Attr(Attr::ProcCmdline)),
    ("proc.aname", Src::Attr(Attr::ProcAExe)),
    ("proc.apid", Src::Attr(Attr::ProcAPid)),
    ("pproc.pid", Src::Attr(Attr::PProcPid)),
    ("pproc.name", Src::Attr(Attr::PProcName)),
    ("pproc.cwd", Src::Get(pproc_cwd)),
    ("pproc.exe", Src::Attr(Attr::PProcExe)),
    ("pproc.args", Src::Attr(Attr::PProcArgs)),
    ("pproc.uid", Src::Attr(Attr::PProcUid)),
    ("pproc.user", Src::Attr(Attr::PProcUser)),
    ("pproc.gid", Src::Attr(Attr::PProcGid)),
    ("pproc.group", Src::Attr(Attr::PProcGroup)),
    ("pproc.createts", Src::Attr(Attr::PProcCreateTs)),
    ("pproc.tty", Src::Attr(Attr::PProcTty)),
    ("pproc.entry", Src::Attr(Attr::PProcEntry)),
    ("pproc.env", Src::Get(pproc_env)),
    ("pproc.cmdline", Src::Attr(Attr::PProcCmdline)),
    ("file.name", Src::Attr(Attr::FileName)),
    ("file.path", Src::Attr(Attr::FilePath)),
    ("file.newpath", Src::Attr(Attr::FileNewPath)),
    ("file.directory", Src::Attr(Attr::FileDirectory)),
    ("file.type", Src::Attr(Attr::FileType)),
    ("file.is_open_write", Src::Attr(Attr::FileIsOpenWrite)),
    ("file.is_open_read", Src::Attr(Attr::FileIsOpenRead)),
    ("file.fd", Src::Attr(Attr::FileFd)),
    ("file.openflags", Src::Attr(Attr::FileOpenFlags)),
    ("net.proto", Src::Attr(Attr::NetProto)),
    ("net.sport", Src::Attr(Attr::NetSport)),
    ("net.dport", Src::Attr(Attr::NetDport)),
    ("net.port", Src::Attr(Attr::NetPort)),
    ("net.sip", Src::Attr(Attr::NetSip)),
    ("net.dip", Src::Attr(Attr::NetDip)),
    ("net.ip", Src::Attr(Attr::NetIp)),
    ("flow.rbytes", Src::Attr(Attr::FlowRBytes)),
    ("flow.rops", Src::Attr(Attr::FlowROps)),
    ("flow.wbytes", Src::Attr(Attr::FlowWBytes)),
    ("flow.wops", Src::Attr(Attr::FlowWOps)),
    ("container.id", Src::Attr(Attr::ContainerId)),
    ("container.name", Src::Attr(Attr::ContainerName)),
    ("container.imageid", Src::Attr(Attr::ContainerImageId)),
    ("container.image", Src::Attr(Attr::ContainerImage)),
    ("container.type", Src::Get(container_type)),
    (
        "container.privileged",
        Src::Attr(Attr::ContainerPrivilegedBool),
    ),
    ("pf.nthreads", Src::Get(pf_nthreads)),
    ("pf.nexits", Src::Get(pf_nexits)),
    ("pf.nerrors", Src::Get(pf_nerrors)),
    ("node.id", Src::Attr(Attr::NodeId)),
    ("node.ip", Src::Attr(Attr::NodeIp)),
    ("schema", Src::Attr(Attr::MetaSchema)),
    ("filename", Src::Attr(Attr::MetaTraceName)),
    ("pod.id", Src::Attr(Attr::PodId)),
    ("pod.name", Src::Attr(Attr::PodName)),
    ("pod.nname", Src::Attr(Attr::PodNodeName)),
    ("pod.hostip", Src::Attr(Attr::PodHostIpJson)),
    ("pod.internalip", Src::Attr(Attr::PodInternalIpJson)),
    ("pod.ns", Src::Attr(Attr::PodNamespace)),
    ("pod.rstrtcnt", Src::Attr(Attr::PodRestartCnt)),
    ("pod.services", Src::Attr(Attr::PodServicesJson)),
    ("k8s.action", Src::Attr(Attr::KeAction)),
    ("k8s.kind", Src::Attr(Attr::KeKind)),
    ("k8s.msg", Src::Attr(Attr::KeMessage)),
];

fn opflags_bitmap<'r>(r: &'r FlatRecord, _: &'r mut String) -> Value<'r> {
    match &r.rec {
        SysFlow::ProcessEvent(e) => Value::Int(e.op_flags.0 as i64),
        SysFlow::NetworkFlow(e) => Value::Int(e.op_flags.0 as i64),
        SysFlow::FileFlow(e) => Value::Int(e.op_flags.0 as i64),
        SysFlow::FileEvent(e) => Value::Int(e.op_flags.0 as i64),
        SysFlow::NetworkEvent(e) => Value::Int(e.op_flags.0 as i64),
        SysFlow::ProcessFlow(e) => Value::Int(e.op_flags.0 as i64),
        _ => Value::Missing,
    }
}

fn pproc_cwd<'r>(r: &'r FlatRecord, _: &'r mut String) -> Value<'r> {
    r.pproc
        .as_deref()
        .map_or(Value::Missing, |p| Value::Str(p.cwd.trim()))
}

fn pproc_env<'r>(r: &'r FlatRecord, _: &'r mut String) -> Value<'r> {
    r.pproc
        .as_deref()
        .map_or(Value::Missing, |p| Value::StrList(&p.env))
}

/// sysprint's spelling (`CT_DOCKER`), not the catalogue's (`DOCKER`, `host`).
fn container_type<'r>(r: &'r FlatRecord, _: &'r mut String) -> Value<'r> {
    r.container
        .as_deref()
        .map_or(Value::Missing, |c| Value::Str(c.r#type.symbol()))
}

fn pf(r: &FlatRecord, which: u8) -> Value<'_> {
    match &r.rec {
        SysFlow::ProcessFlow(p) => Value::Int(match which {
            0 => p.num_threads_cloned,
            1 => p.num_threads_exited,
            _ => p.num_clone_errors,
        }),
        _ => Value::Missing,
    }
}

fn pf_nthreads<'r>(r: &'r FlatRecord, _: &'r mut String) -> Value<'r> {
    pf(r, 0)
}

fn pf_nexits<'r>(r: &'r FlatRecord, _: &'r mut String) -> Value<'r> {
    pf(r, 1)
}

fn pf_nerrors<'r>(r: &'r FlatRecord, _: &'r mut String) -> Value<'r> {
    pf(r, 2)
}

/// The field of an sfql name; `sf.` in front is ignored, as sfql does.
fn resolve(name: &str) -> Option<FieldRef> {
    let base = name.strip_prefix("sf.").unwrap_or(name);
    let (key, src) = NAMES.iter().find(|(n, _)| *n == base)?;
    Some(match src {
        Src::Attr(a) => FieldRef::new(Field {
            attr: *a,
            index: None,
            json_path: None,
            name: a.sf_name(),
        }),
        Src::Get(g) => FieldRef::custom(key, *g),
    })
}

fn names() -> Vec<&'static str> {
    NAMES.iter().map(|(n, _)| *n).collect()
}

/// sysprint's attribute names.
pub static SFQL: Namespace = Namespace {
    resolve,
    names,
    expected: "expected a sysprint attribute (see `sysprint -l`), e.g. type, opflags, proc.exe, file.path, net.dport",
    falco: false,
    opflags_any_direction: true,
};

/// A compiled `-f` filter and its scratch state.
#[derive(Debug)]
pub struct Filter {
    query: Query,
    scratch: QueryScratch,
}

impl Filter {
    /// Compiles `-f EXPR` with the `--defs` files; warnings are printed to stderr.
    pub fn new(expr: &str, defs: &[PathBuf]) -> anyhow::Result<Filter> {
        let (query, warnings) = match Query::compile("-f", expr, defs, &SFQL) {
            Ok(x) => x,
            Err(PolicyError::Invalid(d)) => {
                let text: Vec<String> = d.iter().map(|d| d.to_string()).collect();
                anyhow::bail!("{}", text.join("\n"));
            }
            Err(e) => return Err(e.into()),
        };
        for w in warnings {
            eprintln!("warning: {w}");
        }
        Ok(Filter {
            query,
            scratch: QueryScratch::default(),
        })
    }

    /// Whether the record passes.
    #[inline]
    pub fn matches(&mut self, r: &FlatRecord) -> bool {
        self.query.matches(r, &mut self.scratch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_a_sysprint_field() {
        for (n, _) in NAMES {
            assert!(super::super::fields::info(n).is_some(), "{n}");
        }
        assert!(resolve("sf.proc.exe").is_some());
        assert!(resolve("fd.name").is_none());
    }
}
