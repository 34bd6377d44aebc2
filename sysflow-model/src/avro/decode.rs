//! Decode programs: a writer schema compiled, once per file, into per-union-branch lists of
//! steps that write straight into the record structs.
//!
//! Writer fields are matched to record fields by name; writer fields the reader does not know
//! are skipped, record fields the writer lacks keep their defaults (see `docs/compatibility.md`,
//! "Reading legacy traces"). Union branches are resolved by the record's full name, never by
//! index, because legacy schemas order the union differently.

use super::cursor::Cur;
use super::error::DatumError;
use super::schema::{Named, Parsed, Ty};
use crate::flags::{OpFlags, OpenFlags};
use crate::record::*;

/// What a record field needs from the wire.
#[derive(Clone, Copy)]
enum Kind {
    Long,
    Int,
    Bool,
    Str,
    Oid,
    Foid,
    OptOid,
    OptStr,
    OptFoid,
    StrArray,
    LongArray,
    StrMap,
    Services,
    /// A SysFlow enum; writer symbols are mapped by name.
    Enum(&'static [&'static str]),
    /// `opFlags`: an int, or (legacy `EventType`) an enum whose symbols are op-flag names.
    Flags,
}

/// Marks an optional field whose writer type is not a union (always present).
const PLAIN: u8 = u8::MAX;
/// Slot of a writer field the reader does not use.
const SKIP: u8 = u8::MAX;

/// How to read one writer field. Indexes point into the program's tables.
#[derive(Clone, Copy, Debug)]
enum Wire {
    Skip(u16),
    Long,
    Int,
    Bool,
    Str,
    Oid,
    Foid,
    /// Optional values: the writer's null branch index (0/1) or [`PLAIN`].
    OptOid(u8),
    OptStr(u8),
    OptFoid(u8),
    Enum(u16),
    StrArray,
    LongArray,
    StrMap,
    Services,
}

#[derive(Clone, Copy, Debug)]
struct Step {
    slot: u8,
    wire: Wire,
}

type Spec = &'static [(&'static str, u8, Kind)];

// Reader field tables: (writer field name, slot, kind). Legacy aliases share a slot.
const HEADER: Spec = &[
    ("version", 0, Kind::Long),
    ("exporter", 1, Kind::Str),
    ("ip", 2, Kind::Str),
    ("filename", 3, Kind::Str),
];
const CONTAINER: Spec = &[
    ("id", 0, Kind::Str),
    ("name", 1, Kind::Str),
    ("image", 2, Kind::Str),
    ("imageid", 3, Kind::Str),
    ("type", 4, Kind::Enum(&ContainerType::SYMBOLS)),
    ("privileged", 5, Kind::Bool),
    ("podId", 6, Kind::OptStr),
    ("imagerepo", 7, Kind::OptStr),
];
const PROCESS: Spec = &[
    ("state", 0, Kind::Enum(&ObjectState::SYMBOLS)),
    // Legacy 4-member schema: `type` (ActionType CREATED/MODIFIED/REUP) instead of `state`.
    ("type", 0, Kind::Enum(&ObjectState::SYMBOLS)),
    ("oid", 1, Kind::Oid),
    ("poid", 2, Kind::OptOid),
    ("ts", 3, Kind::Long),
    ("exe", 4, Kind::Str),
    ("exeArgs", 5, Kind::Str),
    ("uid", 6, Kind::Int),
    ("userName", 7, Kind::Str),
    ("gid", 8, Kind::Int),
    ("groupName", 9, Kind::Str),
    ("tty", 10, Kind::Bool),
    ("containerId", 11, Kind::OptStr),
    ("entry", 12, Kind::Bool),
    ("cwd", 13, Kind::Str),
    ("env", 14, Kind::StrArray),
];
const FILE: Spec = &[
    ("state", 0, Kind::Enum(&ObjectState::SYMBOLS)),
    ("oid", 1, Kind::Foid),
    ("ts", 2, Kind::Long),
    ("restype", 3, Kind::Int),
    ("path", 4, Kind::Str),
    ("containerId", 5, Kind::OptStr),
];
const PROC_EVT: Spec = &[
    ("procOID", 0, Kind::Oid),
    ("ts", 1, Kind::Long),
    ("tid", 2, Kind::Long),
    ("opFlags", 3, Kind::Flags),
    // Legacy 4-member ProcessFlow: `type` (EventType CLONE/EXEC/EXIT) instead of `opFlags`.
    ("type", 3, Kind::Flags),
    ("args", 4, Kind::StrArray),
    ("ret", 5, Kind::Int),
];
const NET_FLOW: Spec = &[
    ("procOID", 0, Kind::Oid),
    ("ts", 1, Kind::Long),
    ("tid", 2, Kind::Long),
    ("opFlags", 3, Kind::Flags),
    ("endTs", 4, Kind::Long),
    ("sip", 5, Kind::Int),
    ("sport", 6, Kind::Int),
    ("dip", 7, Kind::Int),
    ("dport", 8, Kind::Int),
    ("proto", 9, Kind::Int),
    ("fd", 10, Kind::Int),
    ("numRRecvOps", 11, Kind::Long),
    ("numWSendOps", 12, Kind::Long),
    ("numRRecvBytes", 13, Kind::Long),
    ("numWSendBytes", 14, Kind::Long),
];
const FILE_FLOW: Spec = &[
    ("procOID", 0, Kind::Oid),
    ("ts", 1, Kind::Long),
    ("tid", 2, Kind::Long),
    ("opFlags", 3, Kind::Flags),
    ("openFlags", 4, Kind::Int),
    ("endTs", 5, Kind::Long),
    ("fileOID", 6, Kind::Foid),
    ("fd", 7, Kind::Int),
    ("numRRecvOps", 8, Kind::Long),
    ("numWSendOps", 9, Kind::Long),
    ("numRRecvBytes", 10, Kind::Long),
    ("numWSendBytes", 11, Kind::Long),
];
const FILE_EVT: Spec = &[
    ("procOID", 0, Kind::Oid),
    ("ts", 1, Kind::Long),
    ("tid", 2, Kind::Long),
    ("opFlags", 3, Kind::Flags),
    ("fileOID", 4, Kind::Foid),
    ("ret", 5, Kind::Int),
    ("newFileOID", 6, Kind::OptFoid),
];
const NET_EVT: Spec = &[
    ("procOID", 0, Kind::Oid),
    ("ts", 1, Kind::Long),
    ("tid", 2, Kind::Long),
    ("opFlags", 3, Kind::Flags),
    ("sip", 4, Kind::Int),
    ("sport", 5, Kind::Int),
    ("dip", 6, Kind::Int),
    ("dport", 7, Kind::Int),
    ("proto", 8, Kind::Int),
    ("ret", 9, Kind::Int),
];
const PROC_FLOW: Spec = &[
    ("procOID", 0, Kind::Oid),
    ("ts", 1, Kind::Long),
    ("numThreadsCloned", 2, Kind::Long),
    ("opFlags", 3, Kind::Flags),
    ("endTs", 4, Kind::Long),
    ("numThreadsExited", 5, Kind::Long),
    ("numCloneErrors", 6, Kind::Long),
];
const POD: Spec = &[
    ("ts", 0, Kind::Long),
    ("id", 1, Kind::Str),
    ("name", 2, Kind::Str),
    ("nodeName", 3, Kind::Str),
    ("hostIP", 4, Kind::LongArray),
    ("internalIP", 5, Kind::LongArray),
    ("namespace", 6, Kind::Str),
    ("restartCount", 7, Kind::Long),
    ("labels", 8, Kind::StrMap),
    ("selectors", 9, Kind::StrMap),
    ("services", 10, Kind::Services),
];
const K8S_EVT: Spec = &[
    ("kind", 0, Kind::Enum(&K8sComponent::SYMBOLS)),
    ("action", 1, Kind::Enum(&K8sAction::SYMBOLS)),
    ("ts", 2, Kind::Long),
    ("message", 3, Kind::Str),
];

fn spec_of(t: RecordType) -> Spec {
    match t {
        RecordType::Header => HEADER,
        RecordType::Container => CONTAINER,
        RecordType::Process => PROCESS,
        RecordType::File => FILE,
        RecordType::ProcessEvent => PROC_EVT,
        RecordType::NetworkFlow => NET_FLOW,
        RecordType::FileFlow => FILE_FLOW,
        RecordType::FileEvent => FILE_EVT,
        RecordType::NetworkEvent => NET_EVT,
        RecordType::ProcessFlow => PROC_FLOW,
        RecordType::Pod => POD,
        RecordType::K8sEvent => K8S_EVT,
    }
}

enum Branch {
    Known {
        target: RecordType,
        steps: Vec<Step>,
        /// False for pre-v2 headers: `ip` then reads as "NA" (the schema default).
        has_ip: bool,
    },
    /// A record this reader does not know; decoding it is an error (reported lazily so the
    /// records before it are still read).
    Unknown(String),
}

/// Writer enum index → reader value (enum index or op-flag bit); -1 = no counterpart.
struct EnumMap {
    values: Vec<i32>,
    symbols: Vec<String>,
}

/// A compiled writer schema.
pub(crate) struct Program {
    branches: Vec<Branch>,
    skips: Vec<Ty>,
    enums: Vec<EnumMap>,
    named: Vec<Named>,
}

impl Program {
    /// A program with no branches (every datum is a `BadBranch` error).
    pub fn empty() -> Program {
        Program {
            branches: Vec::new(),
            skips: Vec::new(),
            enums: Vec::new(),
            named: Vec::new(),
        }
    }

    /// Compile a writer schema (JSON). Errors describe what is wrong with it.
    pub fn compile(json: &str) -> Result<Program, String> {
        let parsed = Parsed::parse(json)?;
        let union = match &parsed.root {
            Ty::Union(b) => b.clone(),
            Ty::Named(i) => match parsed.named.get(*i) {
                Some(Named::Record { fields, .. }) => match fields.iter().find(|(n, _)| n == "rec")
                {
                    Some((_, Ty::Union(b))) => b.clone(),
                    _ => return Err("top-level record has no union field \"rec\"".into()),
                },
                _ => return Err("top-level type is not a record".into()),
            },
            _ => return Err("top-level type is neither a record nor a union".into()),
        };
        let mut p = Program {
            branches: Vec::with_capacity(union.len()),
            skips: Vec::new(),
            enums: Vec::new(),
            named: parsed.named,
        };
        for b in &union {
            let br = p.branch(b)?;
            p.branches.push(br);
        }
        Ok(p)
    }

    fn branch(&mut self, ty: &Ty) -> Result<Branch, String> {
        let Ty::Named(i) = ty else {
            return Ok(Branch::Unknown(format!("{ty:?}")));
        };
        let Some(Named::Record { full_name, fields }) = self.named.get(*i) else {
            return Ok(Branch::Unknown(format!("non-record type #{i}")));
        };
        let (full_name, fields) = (full_name.clone(), fields.clone());
        let target =
            if full_name == "sysflow.flow.ProcessFlow" && fields.iter().any(|(n, _)| n == "args") {
                // Legacy event-like ProcessFlow (7- and 4-member schemas) is a process event.
                RecordType::ProcessEvent
            } else {
                match RecordType::ALL.iter().find(|t| t.full_name() == full_name) {
                    Some(t) => *t,
                    None => return Ok(Branch::Unknown(full_name)),
                }
            };
        let spec = spec_of(target);
        let mut steps = Vec::with_capacity(fields.len());
        for (fname, fty) in &fields {
            let step = match spec.iter().find(|(n, _, _)| n == fname) {
                Some(&(_, slot, kind)) => Step {
                    slot,
                    wire: self
                        .wire(kind, fty)
                        .map_err(|e| format!("field {fname} of {full_name}: {e}"))?,
                },
                None => self.skip_step(fty)?,
            };
            steps.push(step);
        }
        Ok(Branch::Known {
            target,
            steps,
            has_ip: fields.iter().any(|(n, _)| n == "ip"),
        })
    }

    fn skip_step(&mut self, ty: &Ty) -> Result<Step, String> {
        let i = u16::try_from(self.skips.len()).map_err(|_| "too many skipped fields")?;
        self.skips.push(ty.clone());
        Ok(Step {
            slot: SKIP,
            wire: Wire::Skip(i),
        })
    }

    fn def(&self, ty: &Ty) -> Option<&Named> {
        match ty {
            Ty::Named(i) => self.named.get(*i),
            _ => None,
        }
    }

    fn is_long(ty: &Ty) -> bool {
        matches!(ty, Ty::Long | Ty::Int)
    }

    fn is_oid(&self, ty: &Ty) -> bool {
        matches!(self.def(ty), Some(Named::Record { fields, .. })
            if fields.len() == 2
                && fields[0].0 == "createTS" && Self::is_long(&fields[0].1)
                && fields[1].0 == "hpid" && Self::is_long(&fields[1].1))
    }

    fn is_foid(&self, ty: &Ty) -> bool {
        matches!(self.def(ty), Some(Named::Fixed { size: 20 }))
    }

    fn record_shape(&self, ty: &Ty, names: &[&str]) -> Option<Vec<Ty>> {
        match self.def(ty) {
            Some(Named::Record { fields, .. })
                if fields.len() == names.len()
                    && fields.iter().zip(names).all(|(f, n)| f.0 == *n) =>
            {
                Some(fields.iter().map(|f| f.1.clone()).collect())
            }
            _ => None,
        }
    }

    /// The v5 `array<Service>` layout (the only one ever written).
    fn is_services(&self, ty: &Ty) -> bool {
        let Ty::Array(item) = ty else { return false };
        let Some(s) =
            self.record_shape(item, &["name", "id", "namespace", "portList", "clusterIP"])
        else {
            return false;
        };
        let port_ok = match &s[3] {
            Ty::Array(p) => {
                match self.record_shape(p, &["port", "targetPort", "nodePort", "proto"]) {
                    Some(p) => p[..3].iter().all(|t| *t == Ty::Int) && p[3] == Ty::Str,
                    None => false,
                }
            }
            _ => false,
        };
        s[..3].iter().all(|t| *t == Ty::Str)
            && port_ok
            && matches!(&s[4], Ty::Array(l) if Self::is_long(l))
    }

    fn enum_map(&mut self, ty: &Ty, map: impl Fn(&str) -> Option<i32>) -> Option<Wire> {
        let Some(Named::Enum { symbols }) = self.def(ty) else {
            return None;
        };
        let symbols = symbols.clone();
        let values = symbols.iter().map(|s| map(s).unwrap_or(-1)).collect();
        let i = u16::try_from(self.enums.len()).ok()?;
        self.enums.push(EnumMap { values, symbols });
        Some(Wire::Enum(i))
    }

    /// Optional value: `["null", T]`, `[T, "null"]` or plain `T`.
    fn opt(&self, ty: &Ty, base: impl Fn(&Ty) -> bool, make: fn(u8) -> Wire) -> Option<Wire> {
        match ty {
            Ty::Union(b) if b.len() == 2 => {
                if b[0] == Ty::Null && base(&b[1]) {
                    Some(make(0))
                } else if b[1] == Ty::Null && base(&b[0]) {
                    Some(make(1))
                } else {
                    None
                }
            }
            t if base(t) => Some(make(PLAIN)),
            _ => None,
        }
    }

    fn wire(&mut self, kind: Kind, ty: &Ty) -> Result<Wire, String> {
        let w = match kind {
            Kind::Long if Self::is_long(ty) => Some(Wire::Long),
            Kind::Int if *ty == Ty::Int => Some(Wire::Int),
            Kind::Flags if *ty == Ty::Int => Some(Wire::Int),
            Kind::Flags => self.enum_map(ty, |s| OpFlags::bit_of(s).map(|b| b as i32)),
            Kind::Bool if *ty == Ty::Bool => Some(Wire::Bool),
            Kind::Str if matches!(ty, Ty::Str | Ty::Bytes) => Some(Wire::Str),
            Kind::Oid if self.is_oid(ty) => Some(Wire::Oid),
            Kind::Foid if self.is_foid(ty) => Some(Wire::Foid),
            Kind::OptStr => self.opt(ty, |t| matches!(t, Ty::Str | Ty::Bytes), Wire::OptStr),
            Kind::OptOid => self.opt(ty, |t| self.is_oid(t), Wire::OptOid),
            Kind::OptFoid => self.opt(ty, |t| self.is_foid(t), Wire::OptFoid),
            Kind::StrArray if matches!(ty, Ty::Array(i) if **i == Ty::Str) => Some(Wire::StrArray),
            Kind::LongArray if matches!(ty, Ty::Array(i) if Self::is_long(i)) => {
                Some(Wire::LongArray)
            }
            Kind::StrMap if matches!(ty, Ty::Map(v) if **v == Ty::Str) => Some(Wire::StrMap),
            Kind::Services if self.is_services(ty) => Some(Wire::Services),
            Kind::Enum(symbols) => self.enum_map(ty, |s| {
                symbols.iter().position(|x| *x == s).map(|i| i as i32)
            }),
            _ => None,
        };
        // A writer field of type "null" carries nothing; the reader keeps its default.
        match w {
            Some(w) => Ok(w),
            None if *ty == Ty::Null => Ok(self.skip_step(ty)?.wire),
            None => Err(format!(
                "writer type {ty:?} cannot be read as the SysFlow field"
            )),
        }
    }

    // ---- decoding ----------------------------------------------------------------------

    /// Decode one datum (union index + record) from `cur`.
    pub fn decode(&self, cur: &mut Cur) -> Result<SysFlow, DatumError> {
        let pos = cur.pos;
        let idx = cur.long()?;
        let br = usize::try_from(idx)
            .ok()
            .and_then(|i| self.branches.get(i))
            .ok_or(DatumError::BadBranch {
                pos,
                index: idx,
                len: self.branches.len(),
            })?;
        let (target, steps, has_ip) = match br {
            Branch::Known {
                target,
                steps,
                has_ip,
            } => (*target, steps.as_slice(), *has_ip),
            Branch::Unknown(name) => {
                return Err(DatumError::UnknownRecord {
                    pos,
                    index: idx,
                    name: name.clone(),
                })
            }
        };
        Ok(match target {
            RecordType::Header => {
                let mut r = SfHeader::default();
                for s in steps {
                    match s.slot {
                        0 => r.version = self.long(cur, s.wire)?,
                        1 => r.exporter = self.string(cur, s.wire)?,
                        2 => r.ip = self.string(cur, s.wire)?,
                        3 => r.filename = self.string(cur, s.wire)?,
                        _ => self.skip(cur, s.wire)?,
                    }
                }
                if !has_ip {
                    r.ip = "NA".to_owned();
                }
                SysFlow::Header(r)
            }
            RecordType::Container => {
                let mut r = Container::default();
                for s in steps {
                    match s.slot {
                        0 => r.id = self.string(cur, s.wire)?,
                        1 => r.name = self.string(cur, s.wire)?,
                        2 => r.image = self.string(cur, s.wire)?,
                        3 => r.imageid = self.string(cur, s.wire)?,
                        4 => {
                            r.r#type =
                                enum_of(self.enum_idx(cur, s.wire)?, ContainerType::from_index)
                        }
                        5 => r.privileged = self.boolean(cur, s.wire)?,
                        6 => r.pod_id = self.opt_str(cur, s.wire)?,
                        7 => r.imagerepo = self.opt_str(cur, s.wire)?,
                        _ => self.skip(cur, s.wire)?,
                    }
                }
                SysFlow::Container(r)
            }
            RecordType::Process => {
                let mut r = Process::default();
                for s in steps {
                    match s.slot {
                        0 => {
                            r.state = enum_of(self.enum_idx(cur, s.wire)?, ObjectState::from_index)
                        }
                        1 => r.oid = self.oid(cur, s.wire)?,
                        2 => r.poid = self.opt_oid(cur, s.wire)?,
                        3 => r.ts = self.long(cur, s.wire)?,
                        4 => r.exe = self.string(cur, s.wire)?,
                        5 => r.exe_args = self.string(cur, s.wire)?,
                        6 => r.uid = self.int(cur, s.wire)?,
                        7 => r.user_name = self.string(cur, s.wire)?,
                        8 => r.gid = self.int(cur, s.wire)?,
                        9 => r.group_name = self.string(cur, s.wire)?,
                        10 => r.tty = self.boolean(cur, s.wire)?,
                        11 => r.container_id = self.opt_str(cur, s.wire)?,
                        12 => r.entry = self.boolean(cur, s.wire)?,
                        13 => r.cwd = self.string(cur, s.wire)?,
                        14 => r.env = self.str_array(cur, s.wire)?,
                        _ => self.skip(cur, s.wire)?,
                    }
                }
                SysFlow::Process(r)
            }
            RecordType::File => {
                let mut r = File::default();
                for s in steps {
                    match s.slot {
                        0 => {
                            r.state = enum_of(self.enum_idx(cur, s.wire)?, ObjectState::from_index)
                        }
                        1 => r.oid = self.foid(cur, s.wire)?,
                        2 => r.ts = self.long(cur, s.wire)?,
                        3 => r.restype = self.int(cur, s.wire)?,
                        4 => r.path = self.string(cur, s.wire)?,
                        5 => r.container_id = self.opt_str(cur, s.wire)?,
                        _ => self.skip(cur, s.wire)?,
                    }
                }
                SysFlow::File(r)
            }
            RecordType::ProcessEvent => {
                let mut r = ProcessEvent::default();
                for s in steps {
                    match s.slot {
                        0 => r.proc_oid = self.oid(cur, s.wire)?,
                        1 => r.ts = self.long(cur, s.wire)?,
                        2 => r.tid = self.long(cur, s.wire)?,
                        3 => r.op_flags = self.flags(cur, s.wire)?,
                        4 => r.args = self.str_array(cur, s.wire)?,
                        5 => r.ret = self.int(cur, s.wire)?,
                        _ => self.skip(cur, s.wire)?,
                    }
                }
                SysFlow::ProcessEvent(r)
            }
            RecordType::NetworkFlow => {
                let mut r = NetworkFlow::default();
                for s in steps {
                    match s.slot {
                        0 => r.proc_oid = self.oid(cur, s.wire)?,
                        1 => r.ts = self.long(cur, s.wire)?,
                        2 => r.tid = self.long(cur, s.wire)?,
                        3 => r.op_flags = self.flags(cur, s.wire)?,
                        4 => r.end_ts = self.long(cur, s.wire)?,
                        5 => r.sip = self.int(cur, s.wire)?,
                        6 => r.sport = self.int(cur, s.wire)?,
                        7 => r.dip = self.int(cur, s.wire)?,
                        8 => r.dport = self.int(cur, s.wire)?,
                        9 => r.proto = self.int(cur, s.wire)?,
                        10 => r.fd = self.int(cur, s.wire)?,
                        11 => r.num_r_recv_ops = self.long(cur, s.wire)?,
                        12 => r.num_w_send_ops = self.long(cur, s.wire)?,
                        13 => r.num_r_recv_bytes = self.long(cur, s.wire)?,
                        14 => r.num_w_send_bytes = self.long(cur, s.wire)?,
                        _ => self.skip(cur, s.wire)?,
                    }
                }
                SysFlow::NetworkFlow(r)
            }
            RecordType::FileFlow => {
                let mut r = FileFlow::default();
                for s in steps {
                    match s.slot {
                        0 => r.proc_oid = self.oid(cur, s.wire)?,
                        1 => r.ts = self.long(cur, s.wire)?,
                        2 => r.tid = self.long(cur, s.wire)?,
                        3 => r.op_flags = self.flags(cur, s.wire)?,
                        4 => r.open_flags = OpenFlags(self.int(cur, s.wire)? as u32),
                        5 => r.end_ts = self.long(cur, s.wire)?,
                        6 => r.file_oid = self.foid(cur, s.wire)?,
                        7 => r.fd = self.int(cur, s.wire)?,
                        8 => r.num_r_recv_ops = self.long(cur, s.wire)?,
                        9 => r.num_w_send_ops = self.long(cur, s.wire)?,
                        10 => r.num_r_recv_bytes = self.long(cur, s.wire)?,
                        11 => r.num_w_send_bytes = self.long(cur, s.wire)?,
                        _ => self.skip(cur, s.wire)?,
                    }
                }
                SysFlow::FileFlow(r)
            }
            RecordType::FileEvent => {
                let mut r = FileEvent::default();
                for s in steps {
                    match s.slot {
                        0 => r.proc_oid = self.oid(cur, s.wire)?,
                        1 => r.ts = self.long(cur, s.wire)?,
                        2 => r.tid = self.long(cur, s.wire)?,
                        3 => r.op_flags = self.flags(cur, s.wire)?,
                        4 => r.file_oid = self.foid(cur, s.wire)?,
                        5 => r.ret = self.int(cur, s.wire)?,
                        6 => r.new_file_oid = self.opt_foid(cur, s.wire)?,
                        _ => self.skip(cur, s.wire)?,
                    }
                }
                SysFlow::FileEvent(r)
            }
            RecordType::NetworkEvent => {
                let mut r = NetworkEvent::default();
                for s in steps {
                    match s.slot {
                        0 => r.proc_oid = self.oid(cur, s.wire)?,
                        1 => r.ts = self.long(cur, s.wire)?,
                        2 => r.tid = self.long(cur, s.wire)?,
                        3 => r.op_flags = self.flags(cur, s.wire)?,
                        4 => r.sip = self.int(cur, s.wire)?,
                        5 => r.sport = self.int(cur, s.wire)?,
                        6 => r.dip = self.int(cur, s.wire)?,
                        7 => r.dport = self.int(cur, s.wire)?,
                        8 => r.proto = self.int(cur, s.wire)?,
                        9 => r.ret = self.int(cur, s.wire)?,
                        _ => self.skip(cur, s.wire)?,
                    }
                }
                SysFlow::NetworkEvent(r)
            }
            RecordType::ProcessFlow => {
                let mut r = ProcessFlow::default();
                for s in steps {
                    match s.slot {
                        0 => r.proc_oid = self.oid(cur, s.wire)?,
                        1 => r.ts = self.long(cur, s.wire)?,
                        2 => r.num_threads_cloned = self.long(cur, s.wire)?,
                        3 => r.op_flags = self.flags(cur, s.wire)?,
                        4 => r.end_ts = self.long(cur, s.wire)?,
                        5 => r.num_threads_exited = self.long(cur, s.wire)?,
                        6 => r.num_clone_errors = self.long(cur, s.wire)?,
                        _ => self.skip(cur, s.wire)?,
                    }
                }
                SysFlow::ProcessFlow(r)
            }
            RecordType::Pod => {
                let mut r = Pod::default();
                for s in steps {
                    match s.slot {
                        0 => r.ts = self.long(cur, s.wire)?,
                        1 => r.id = self.string(cur, s.wire)?,
                        2 => r.name = self.string(cur, s.wire)?,
                        3 => r.node_name = self.string(cur, s.wire)?,
                        4 => r.host_ip = self.long_array(cur, s.wire)?,
                        5 => r.internal_ip = self.long_array(cur, s.wire)?,
                        6 => r.namespace = self.string(cur, s.wire)?,
                        7 => r.restart_count = self.long(cur, s.wire)?,
                        8 => r.labels = self.str_map(cur, s.wire)?,
                        9 => r.selectors = self.str_map(cur, s.wire)?,
                        10 => r.services = self.services(cur, s.wire)?,
                        _ => self.skip(cur, s.wire)?,
                    }
                }
                SysFlow::Pod(r)
            }
            RecordType::K8sEvent => {
                let mut r = K8sEvent::default();
                for s in steps {
                    match s.slot {
                        0 => {
                            r.kind = enum_of(self.enum_idx(cur, s.wire)?, K8sComponent::from_index)
                        }
                        1 => r.action = enum_of(self.enum_idx(cur, s.wire)?, K8sAction::from_index),
                        2 => r.ts = self.long(cur, s.wire)?,
                        3 => r.message = self.string(cur, s.wire)?,
                        _ => self.skip(cur, s.wire)?,
                    }
                }
                SysFlow::K8sEvent(r)
            }
        })
    }

    // Typed readers. A wire that does not fit the slot cannot come out of `compile`; it is
    // reported as an invalid datum rather than trusted.

    #[inline]
    fn long(&self, c: &mut Cur, w: Wire) -> Result<i64, DatumError> {
        match w {
            Wire::Long | Wire::Int => c.long(),
            _ => Err(mismatch(c)),
        }
    }

    #[inline]
    fn int(&self, c: &mut Cur, w: Wire) -> Result<i32, DatumError> {
        match w {
            Wire::Int => c.int(),
            Wire::Enum(t) => self.enum_value(c, t),
            _ => Err(mismatch(c)),
        }
    }

    #[inline]
    fn flags(&self, c: &mut Cur, w: Wire) -> Result<OpFlags, DatumError> {
        Ok(OpFlags(self.int(c, w)? as u32))
    }

    #[inline]
    fn boolean(&self, c: &mut Cur, w: Wire) -> Result<bool, DatumError> {
        match w {
            Wire::Bool => c.boolean(),
            _ => Err(mismatch(c)),
        }
    }

    #[inline]
    fn string(&self, c: &mut Cur, w: Wire) -> Result<String, DatumError> {
        match w {
            Wire::Str => c.string(),
            _ => Err(mismatch(c)),
        }
    }

    #[inline]
    fn oid(&self, c: &mut Cur, w: Wire) -> Result<Oid, DatumError> {
        match w {
            Wire::Oid => Ok(Oid {
                create_ts: c.long()?,
                hpid: c.long()?,
            }),
            _ => Err(mismatch(c)),
        }
    }

    #[inline]
    fn foid(&self, c: &mut Cur, w: Wire) -> Result<Foid, DatumError> {
        match w {
            Wire::Foid => Ok(Foid(c.fixed20()?)),
            _ => Err(mismatch(c)),
        }
    }

    /// Reads the union index of an optional value; true if a value follows.
    #[inline]
    fn present(c: &mut Cur, null: u8) -> Result<bool, DatumError> {
        if null == PLAIN {
            return Ok(true);
        }
        let pos = c.pos;
        match c.long()? {
            i if i == i64::from(null) => Ok(false),
            i if i == i64::from(1 - null) => Ok(true),
            i => Err(DatumError::BadBranch {
                pos,
                index: i,
                len: 2,
            }),
        }
    }

    #[inline]
    fn opt_str(&self, c: &mut Cur, w: Wire) -> Result<Option<String>, DatumError> {
        match w {
            Wire::OptStr(n) => Ok(if Self::present(c, n)? {
                Some(c.string()?)
            } else {
                None
            }),
            Wire::Skip(_) => self.skip(c, w).map(|_| None),
            _ => Err(mismatch(c)),
        }
    }

    #[inline]
    fn opt_oid(&self, c: &mut Cur, w: Wire) -> Result<Option<Oid>, DatumError> {
        match w {
            Wire::OptOid(n) => Ok(if Self::present(c, n)? {
                Some(self.oid(c, Wire::Oid)?)
            } else {
                None
            }),
            Wire::Skip(_) => self.skip(c, w).map(|_| None),
            _ => Err(mismatch(c)),
        }
    }

    #[inline]
    fn opt_foid(&self, c: &mut Cur, w: Wire) -> Result<Option<Foid>, DatumError> {
        match w {
            Wire::OptFoid(n) => Ok(if Self::present(c, n)? {
                Some(Foid(c.fixed20()?))
            } else {
                None
            }),
            Wire::Skip(_) => self.skip(c, w).map(|_| None),
            _ => Err(mismatch(c)),
        }
    }

    fn enum_value(&self, c: &mut Cur, t: u16) -> Result<i32, DatumError> {
        let pos = c.pos;
        let i = c.long()?;
        let m = self.enums.get(usize::from(t)).ok_or_else(|| mismatch(c))?;
        match usize::try_from(i)
            .ok()
            .and_then(|i| m.values.get(i).map(|v| (i, *v)))
        {
            Some((_, v)) if v >= 0 => Ok(v),
            Some((i, _)) => Err(DatumError::UnknownSymbol {
                pos,
                symbol: m.symbols.get(i).cloned().unwrap_or_default(),
            }),
            None => Err(DatumError::Invalid {
                pos,
                what: "enum index (out of range)",
            }),
        }
    }

    #[inline]
    fn enum_idx(&self, c: &mut Cur, w: Wire) -> Result<usize, DatumError> {
        match w {
            Wire::Enum(t) => Ok(self.enum_value(c, t)? as usize),
            _ => Err(mismatch(c)),
        }
    }

    fn str_array(&self, c: &mut Cur, w: Wire) -> Result<Vec<String>, DatumError> {
        if !matches!(w, Wire::StrArray) {
            return Err(mismatch(c));
        }
        let mut v = Vec::new();
        loop {
            let n = c.block_count()?;
            if n == 0 {
                return Ok(v);
            }
            // Counts are bounded by the bytes left; the reservation by a small constant too.
            v.reserve(n.min(1024));
            for _ in 0..n {
                v.push(c.string()?);
            }
        }
    }

    fn long_array(&self, c: &mut Cur, w: Wire) -> Result<Vec<i64>, DatumError> {
        if !matches!(w, Wire::LongArray) {
            return Err(mismatch(c));
        }
        read_longs(c)
    }

    fn str_map(&self, c: &mut Cur, w: Wire) -> Result<Vec<(String, String)>, DatumError> {
        if !matches!(w, Wire::StrMap) {
            return Err(mismatch(c));
        }
        let mut v = Vec::new();
        loop {
            let n = c.block_count()?;
            if n == 0 {
                return Ok(v);
            }
            v.reserve(n.min(1024));
            for _ in 0..n {
                let k = c.string()?;
                v.push((k, c.string()?));
            }
        }
    }

    fn services(&self, c: &mut Cur, w: Wire) -> Result<Vec<Service>, DatumError> {
        if !matches!(w, Wire::Services) {
            return Err(mismatch(c));
        }
        let mut v = Vec::new();
        loop {
            let n = c.block_count()?;
            if n == 0 {
                return Ok(v);
            }
            v.reserve(n.min(64));
            for _ in 0..n {
                let name = c.string()?;
                let id = c.string()?;
                let namespace = c.string()?;
                let mut port_list = Vec::new();
                loop {
                    let m = c.block_count()?;
                    if m == 0 {
                        break;
                    }
                    port_list.reserve(m.min(64));
                    for _ in 0..m {
                        port_list.push(Port {
                            port: c.int()?,
                            target_port: c.int()?,
                            node_port: c.int()?,
                            proto: c.string()?,
                        });
                    }
                }
                let cluster_ip = read_longs(c)?;
                v.push(Service {
                    name,
                    id,
                    namespace,
                    port_list,
                    cluster_ip,
                });
            }
        }
    }

    #[inline]
    fn skip(&self, c: &mut Cur, w: Wire) -> Result<(), DatumError> {
        match w {
            Wire::Skip(i) => match self.skips.get(usize::from(i)) {
                Some(t) => c.skip(t, &self.named, 0),
                None => Err(mismatch(c)),
            },
            _ => Err(mismatch(c)),
        }
    }
}

fn read_longs(c: &mut Cur) -> Result<Vec<i64>, DatumError> {
    let mut v = Vec::new();
    loop {
        let n = c.block_count()?;
        if n == 0 {
            return Ok(v);
        }
        v.reserve(n.min(1024));
        for _ in 0..n {
            v.push(c.long()?);
        }
    }
}

/// Reader enum from an index the compiled map produced (always in range).
#[inline]
fn enum_of<T: Default>(i: usize, from: fn(usize) -> Option<T>) -> T {
    from(i).unwrap_or_default()
}

#[cold]
fn mismatch(c: &Cur) -> DatumError {
    DatumError::Invalid {
        pos: c.pos,
        what: "decode program step (internal error)",
    }
}
