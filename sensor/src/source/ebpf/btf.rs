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
const KIND_ENUM: u32 = 6;
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
    /// Enumerators of an enum: (name, value).
    values: Vec<(u32, i32)>,
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
            values: Vec::new(),
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
            let mut values = Vec::new();
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
                KIND_ENUM => {
                    for i in 0..vlen {
                        let v = p + i * 8;
                        values.push((u32_at(tsec, v)?, u32_at(tsec, v + 4)? as i32));
                    }
                    vlen * 8
                }
                13 => vlen * 8,
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
                values,
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

    /// Value of enumerator `variant` of `enum name`.
    pub fn enum_value(&self, name: &str, variant: &str) -> Option<i32> {
        self.types
            .iter()
            .filter(|t| t.kind == KIND_ENUM && self.str_at(t.name) == name)
            .flat_map(|t| &t.values)
            .find(|(n, _)| self.str_at(*n) == variant)
            .map(|&(_, v)| v)
    }

    /// Offsets of the cgroup walk (`cgroup.rs` of the probes) for the hierarchy `h`; `None`
    /// when the kernel lacks a member (then events carry no cgroup).
    fn cgroup_offsets(&self, h: Hierarchy, o: &mut KernelOffsets) -> Option<()> {
        o.task_cgroups = self.offset("task_struct", "cgroups").ok()?;
        match h {
            Hierarchy::V2 => {
                o.cgroup_css = self.offset("css_set", "dfl_cgrp").ok()?;
                o.cgroup_via_css = 0;
            }
            Hierarchy::V1(controller) => {
                let id = self.enum_value("cgroup_subsys_id", &format!("{controller}_cgrp_id"))?;
                let id = u32::try_from(id).ok()?;
                o.cgroup_css = self.offset("css_set", "subsys").ok()? + 8 * id;
                o.cgroup_via_css = 1;
            }
        }
        o.css_cgroup = self.offset("cgroup_subsys_state", "cgroup").ok()?;
        o.cgroup_kn = self.offset("cgroup", "kn").ok()?;
        o.kn_name = self.offset("kernfs_node", "name").ok()?;
        // Renamed when it became RCU-protected (Linux 6.15).
        o.kn_parent = self
            .offset("kernfs_node", "__parent")
            .or_else(|_| self.offset("kernfs_node", "parent"))
            .ok()?;
        o.kn_id = self.offset("kernfs_node", "id").ok()?;
        o.cgroup_valid = 1;
        Some(())
    }

    /// Offsets of the exe path walk (`dpath.rs` of the probes); `None` when one is missing.
    fn exe_walk_offsets(&self, o: &mut KernelOffsets) -> Option<()> {
        o.bprm_file = self.offset("linux_binprm", "file").ok()?;
        // Since Linux 5.8; 0 makes the probe take `file`, which before was the script.
        o.bprm_executable = self.offset("linux_binprm", "executable").unwrap_or(0);
        o.file_f_path = self.offset("file", "f_path").ok()?;
        o.path_mnt = self.offset("path", "mnt").ok()?;
        o.path_dentry = self.offset("path", "dentry").ok()?;
        o.dentry_parent = self.offset("dentry", "d_parent").ok()?;
        o.dentry_name = self.offset("dentry", "d_name").ok()? + self.offset("qstr", "name").ok()?;
        o.vfsmount_root = self.offset("vfsmount", "mnt_root").ok()?;
        o.mount_mnt = self.offset("mount", "mnt").ok()?;
        o.mount_parent = self.offset("mount", "mnt_parent").ok()?;
        o.mount_mountpoint = self.offset("mount", "mnt_mountpoint").ok()?;
        o.task_fs = self.offset("task_struct", "fs").ok()?;
        o.fs_root = self.offset("fs_struct", "root").ok()?;
        o.exe_walk_valid = 1;
        Some(())
    }

    /// Every offset the probes need, with the cgroup walk reading hierarchy `h`.
    pub fn probe_offsets(&self, h: Hierarchy) -> Result<KernelOffsets, BtfError> {
        let mut o = self.kernel_offsets()?;
        if self.cgroup_offsets(h, &mut o).is_none() {
            tracing::warn!(
                hierarchy = %h,
                "kernel BTF lacks a cgroup member: processes are not attributed to containers"
            );
            o.cgroup_valid = 0;
        }
        if self.exe_walk_offsets(&mut o).is_none() {
            tracing::warn!(
                "kernel BTF lacks a dentry/mount member: exe paths are as exec named them"
            );
            o.exe_walk_valid = 0;
        }
        Ok(o)
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
            ..KernelOffsets::default()
        })
    }
}

/// The cgroup hierarchy whose names tell a task's container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hierarchy {
    /// The cgroup v2 (default) hierarchy: a host with cgroup v2 only.
    V2,
    /// The v1 hierarchy of this controller: a host with v1 controllers (legacy or hybrid),
    /// where runtimes put each container in every v1 hierarchy and not always in v2.
    V1(&'static str),
}

impl std::fmt::Display for Hierarchy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Hierarchy::V2 => f.write_str("cgroup v2"),
            Hierarchy::V1(c) => write!(f, "cgroup v1 {c}"),
        }
    }
}

/// Controllers a container runtime always puts a container in, in order of preference.
const V1_CONTROLLERS: [&str; 6] = ["pids", "memory", "cpu", "cpuacct", "devices", "freezer"];

impl Hierarchy {
    /// The hierarchy to read on this host, from `/proc/cgroups` (kernel-wide, the same in a
    /// container): a controller with a non-zero hierarchy id is mounted as cgroup v1.
    pub fn of_host(proc_cgroups: &str) -> Hierarchy {
        let mounted: Vec<&str> = proc_cgroups
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() >= 4 && f[1] != "0" && f[3] == "1").then_some(f[0])
            })
            .collect();
        V1_CONTROLLERS
            .iter()
            .find(|c| mounted.contains(c))
            .map_or(Hierarchy::V2, |c| Hierarchy::V1(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hierarchy_is_v2_unless_a_v1_controller_is_mounted() {
        let hybrid = "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t3\t2\t1\n\
                      cpu\t1\t2\t1\nmemory\t4\t18\t1\npids\t8\t2\t1\n";
        assert_eq!(Hierarchy::of_host(hybrid), Hierarchy::V1("pids"));
        let no_pids = "cpu\t1\t2\t1\nmemory\t4\t18\t1\npids\t0\t2\t1\n";
        assert_eq!(Hierarchy::of_host(no_pids), Hierarchy::V1("memory"));
        let v2 = "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpu\t0\t90\t1\n\
                  memory\t0\t90\t1\npids\t0\t90\t1\n";
        assert_eq!(Hierarchy::of_host(v2), Hierarchy::V2);
        assert_eq!(Hierarchy::of_host(""), Hierarchy::V2);
    }

    #[test]
    fn resolves_cgroup_and_exe_walk_offsets_of_running_kernel() {
        let Ok(data) = std::fs::read("/sys/kernel/btf/vmlinux") else {
            eprintln!("SKIPPED: /sys/kernel/btf/vmlinux not readable");
            return;
        };
        let btf = Btf::parse(&data).expect("parse vmlinux BTF");
        // The controller ids are the kernel's build-time order; cpuset is always first.
        assert_eq!(
            btf.enum_value("cgroup_subsys_id", "cpuset_cgrp_id"),
            Some(0)
        );
        let v1 = btf.probe_offsets(Hierarchy::V1("pids")).expect("offsets");
        let v2 = btf.probe_offsets(Hierarchy::V2).expect("offsets");
        assert_eq!((v1.cgroup_valid, v2.cgroup_valid), (1, 1));
        assert_eq!((v1.cgroup_via_css, v2.cgroup_via_css), (1, 0));
        let subsys = btf.offset("css_set", "subsys").expect("subsys");
        let pids = btf
            .enum_value("cgroup_subsys_id", "pids_cgrp_id")
            .expect("pids");
        assert_eq!(v1.cgroup_css, subsys + 8 * pids as u32);
        assert_eq!(v1.exe_walk_valid, 1);
        // `struct path` is {mnt, dentry}; `mnt` sits inside `struct mount` after its hash
        // node and parent pointers.
        assert_eq!((v1.path_mnt, v1.path_dentry), (0, 8));
        assert!(v1.mount_mnt > v1.mount_parent, "{v1:?}");
    }

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
