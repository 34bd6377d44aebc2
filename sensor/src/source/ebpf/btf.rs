//! Kernel struct member offsets from the running kernel's BTF (`/sys/kernel/btf/vmlinux`).
//!
//! The probes read `task_struct`, `file`, `sock` and friends at offsets they get from user
//! space, so one probe object works on every kernel with BTF ("CO-RE" done at load time).
//! Only the little of the BTF format needed to find struct members is parsed here.

use std::collections::HashMap;

use sensor_ebpf_common::KernelOffsets;

/// Errors while reading BTF.
#[derive(Debug, thiserror::Error)]
pub enum BtfError {
    #[error("BTF data is malformed: {0}")]
    Malformed(&'static str),
    #[error("kernel BTF has no struct `{0}`")]
    NoStruct(String),
    #[error("kernel BTF struct `{0}` has no member `{1}` at a byte offset")]
    NoMember(String, String),
}

const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_TYPE_TAG: u32 = 18;

struct Member {
    name: u32,
    ty: u32,
    bit_offset: u32,
    bitfield: bool,
}

struct Type {
    name: u32,
    kind: u32,
    /// Referenced type for modifiers and typedefs.
    ty: u32,
    members: Vec<Member>,
}

/// Parsed struct/union layout of a BTF blob.
pub struct Btf {
    types: Vec<Type>,
    strings: Vec<u8>,
    by_name: HashMap<String, u32>,
}

fn u32_at(b: &[u8], off: usize) -> Result<u32, BtfError> {
    b.get(off..off + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or(BtfError::Malformed("truncated"))
}

impl Btf {
    /// Parse a little-endian BTF blob.
    pub fn parse(b: &[u8]) -> Result<Btf, BtfError> {
        if b.len() < 24 || b[0..2] != [0x9f, 0xeb] {
            return Err(BtfError::Malformed("bad magic"));
        }
        let hdr_len = u32_at(b, 4)? as usize;
        let type_off = u32_at(b, 8)? as usize;
        let type_len = u32_at(b, 12)? as usize;
        let str_off = u32_at(b, 16)? as usize;
        let str_len = u32_at(b, 20)? as usize;
        let tsec = b
            .get(hdr_len + type_off..hdr_len + type_off + type_len)
            .ok_or(BtfError::Malformed("type section out of bounds"))?;
        let strings = b
            .get(hdr_len + str_off..hdr_len + str_off + str_len)
            .ok_or(BtfError::Malformed("string section out of bounds"))?
            .to_vec();
        // Type id 0 is `void`.
        let mut types = vec![Type {
            name: 0,
            kind: 0,
            ty: 0,
            members: Vec::new(),
        }];
        let mut p = 0;
        while p < tsec.len() {
            let name = u32_at(tsec, p)?;
            let info = u32_at(tsec, p + 4)?;
            let size_or_type = u32_at(tsec, p + 8)?;
            p += 12;
            let vlen = (info & 0xffff) as usize;
            let kind = (info >> 24) & 0x1f;
            let kflag = info >> 31 == 1;
            let mut members = Vec::new();
            let extra = match kind {
                1 | 14 | 17 => 4,
                3 => 12,
                KIND_STRUCT | KIND_UNION => {
                    for i in 0..vlen {
                        let m = p + i * 12;
                        let off = u32_at(tsec, m + 8)?;
                        let (bit_offset, bitfield) = if kflag {
                            (off & 0xff_ffff, off >> 24 != 0)
                        } else {
                            (off, false)
                        };
                        members.push(Member {
                            name: u32_at(tsec, m)?,
                            ty: u32_at(tsec, m + 4)?,
                            bit_offset,
                            bitfield,
                        });
                    }
                    vlen * 12
                }
                6 | 13 => vlen * 8,
                15 | 19 => vlen * 12,
                2 | 7 | 8 | 9 | 10 | 11 | 12 | 16 | 18 => 0,
                _ => return Err(BtfError::Malformed("unknown type kind")),
            };
            p += extra;
            types.push(Type {
                name,
                kind,
                ty: size_or_type,
                members,
            });
        }
        let mut btf = Btf {
            types,
            strings,
            by_name: HashMap::new(),
        };
        for (id, t) in btf.types.iter().enumerate() {
            if t.kind == KIND_STRUCT && !t.members.is_empty() {
                let n = btf.str_at(t.name).to_string();
                btf.by_name.entry(n).or_insert(id as u32);
            }
        }
        Ok(btf)
    }

    fn str_at(&self, off: u32) -> &str {
        let s = self.strings.get(off as usize..).unwrap_or(&[]);
        let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
        std::str::from_utf8(&s[..end]).unwrap_or("")
    }

    /// Follow typedefs and qualifiers to the underlying type id.
    fn resolve(&self, mut id: u32) -> u32 {
        for _ in 0..32 {
            match self.types.get(id as usize) {
                Some(t)
                    if matches!(
                        t.kind,
                        KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG
                    ) =>
                {
                    id = t.ty
                }
                _ => break,
            }
        }
        id
    }

    /// Bit offset of `member` in type `id`, looking through anonymous structs/unions.
    fn find(&self, id: u32, member: &str, depth: u32) -> Option<u32> {
        let t = self.types.get(self.resolve(id) as usize)?;
        if depth > 8 || !matches!(t.kind, KIND_STRUCT | KIND_UNION) {
            return None;
        }
        for m in &t.members {
            if m.name != 0 && self.str_at(m.name) == member {
                return (!m.bitfield).then_some(m.bit_offset);
            }
        }
        t.members
            .iter()
            .filter(|m| m.name == 0)
            .find_map(|m| self.find(m.ty, member, depth + 1).map(|o| o + m.bit_offset))
    }

    /// Byte offset of `member` (possibly inside anonymous members) of `struct name`.
    pub fn offset(&self, name: &str, member: &str) -> Result<u32, BtfError> {
        let id = *self
            .by_name
            .get(name)
            .ok_or_else(|| BtfError::NoStruct(name.into()))?;
        match self.find(id, member, 0) {
            Some(bits) if bits % 8 == 0 => Ok(bits / 8),
            _ => Err(BtfError::NoMember(name.into(), member.into())),
        }
    }

    /// Every offset the probes need.
    pub fn kernel_offsets(&self) -> Result<KernelOffsets, BtfError> {
        let sk_common = self.offset("sock", "__sk_common")?;
        let skc = |m: &str| self.offset("sock_common", m).map(|o| o + sk_common);
        Ok(KernelOffsets {
            valid: 1,
            task_pid: self.offset("task_struct", "pid")?,
            task_tgid: self.offset("task_struct", "tgid")?,
            task_start_time: self.offset("task_struct", "start_time")?,
            task_files: self.offset("task_struct", "files")?,
            task_signal: self.offset("task_struct", "signal")?,
            task_exit_code: self.offset("task_struct", "exit_code")?,
            task_mm: self.offset("task_struct", "mm")?,
            signal_tty: self.offset("signal_struct", "tty")?,
            signal_live: self.offset("signal_struct", "live")?,
            files_fdt: self.offset("files_struct", "fdt")?,
            fdtable_max_fds: self.offset("fdtable", "max_fds")?,
            fdtable_fd: self.offset("fdtable", "fd")?,
            file_private_data: self.offset("file", "private_data")?,
            file_inode: self.offset("file", "f_inode")?,
            inode_mode: self.offset("inode", "i_mode")?,
            socket_sk: self.offset("socket", "sk")?,
            sk_daddr: skc("skc_daddr")?,
            sk_rcv_saddr: skc("skc_rcv_saddr")?,
            sk_dport: skc("skc_dport")?,
            sk_num: skc("skc_num")?,
            sk_family: skc("skc_family")?,
            sk_v6_daddr: skc("skc_v6_daddr")?,
            sk_v6_rcv_saddr: skc("skc_v6_rcv_saddr")?,
            // A plain u16 since Linux 5.6 (a bitfield before, which `offset` rejects).
            sk_protocol: self.offset("sock", "sk_protocol")?,
            mm_arg_start: self.offset("mm_struct", "arg_start")?,
            mm_arg_end: self.offset("mm_struct", "arg_end")?,
            bprm_filename: self.offset("linux_binprm", "filename")?,
            // thread_info is embedded in task_struct (CONFIG_THREAD_INFO_IN_TASK, always on
            // x86-64); its `status` holds TS_COMPAT during an ia32 syscall.
            task_ti_status: self.offset("task_struct", "thread_info")?
                + self.offset("thread_info", "status")?,
            task_cred: self.offset("task_struct", "cred")?,
            cred_uid: self.offset("cred", "uid")?,
            cred_gid: self.offset("cred", "gid")?,
            // Optional: 0 (never a real offset, thread_info comes first) makes the probe use
            // `bpf_get_current_comm` instead of the typed load.
            task_comm: self.offset("task_struct", "comm").unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads the offsets of the running kernel; skipped where the kernel has no BTF.
    #[test]
    fn resolves_offsets_of_running_kernel() {
        let Ok(data) = std::fs::read("/sys/kernel/btf/vmlinux") else {
            eprintln!("SKIPPED: /sys/kernel/btf/vmlinux not readable");
            return;
        };
        let btf = Btf::parse(&data).expect("parse vmlinux BTF");
        let o = btf.kernel_offsets().expect("offsets");
        assert_eq!(
            o.sk_daddr, 0,
            "skc_daddr is the first member of sock_common"
        );
        assert!(o.task_tgid > o.task_pid || o.task_pid > 0);
        assert_eq!(
            o.task_tgid,
            o.task_pid + 4,
            "tgid follows pid in task_struct"
        );
        assert!(o.mm_arg_end == o.mm_arg_start + 8);
        // thread_info is the first member of task_struct: {flags, syscall_work, status, ..}
        // since 5.11, {flags, status, ..} before.
        assert!(matches!(o.task_ti_status, 8 | 16), "{}", o.task_ti_status);
        assert!(o.task_comm > o.task_tgid, "comm: {}", o.task_comm);
    }

    #[test]
    fn rejects_garbage() {
        assert!(Btf::parse(b"not btf at all, definitely not").is_err());
    }
}
