//! Raw events the sensor's eBPF probes write to the ring buffer, and the configuration user
//! space hands to the probes. One place for both sides: the probe crate (`sensor-ebpf`) uses it
//! `no_std`; user space enables the `user` feature for the `aya::Pod` impls.
//!
//! Every event starts with an [`EventHeader`]; `kind` says which struct follows. All structs
//! are `#[repr(C)]` with explicit padding so both sides agree on the byte layout.

#![no_std]

/// Bytes reserved for one path read from user memory (longer paths are truncated and flagged).
pub const PATH_LEN: usize = 512;
/// Bytes reserved for the exe path of an exec event.
pub const EXE_LEN: usize = 256;
/// Bytes reserved for the NUL-separated argument vector of an exec event: 4 KiB, as the
/// kernel's own view of a command line in `/proc/<pid>/cmdline` reads one page per call.
pub const ARGS_LEN: usize = 4096;
/// Most dentries and mount crossings the exe walk follows before giving up (path truncated).
pub const EXE_PATH_STEPS: usize = 24;
/// Bytes of one name of the exe walk (a longer name makes the walk incomplete).
pub const NAME_SLOT: usize = 64;
/// Bytes reserved for the executed file's path as the probe walks it: one slot per step,
/// leaf first, each a NUL-terminated dentry name (empty for a mount crossing).
pub const EXE_PATH_LEN: usize = EXE_PATH_STEPS * NAME_SLOT;
/// Bytes reserved for one cgroup (kernfs) name; longer names are cut.
pub const CGROUP_NAME_LEN: usize = 96;
/// Levels of the cgroup hierarchy an event carries: the task's cgroup and its ancestors.
pub const CGROUP_LEVELS: usize = 4;
/// Default size of each ring buffer the probes write into (bytes, power of two).
pub const RING_SIZE: u32 = 16 << 20;
/// Most ring buffers the probes have (`EVENTS0` .. `EVENTS15`).
pub const MAX_RINGS: u32 = 16;
/// Default CPUs per ring (Falco's `cpus_for_each_buffer` default).
pub const CPUS_PER_RING: u32 = 2;
/// `AT_FDCWD` as the kernel passes it in a dirfd argument.
pub const AT_FDCWD: i32 = -100;

/// What struct follows the header.
#[repr(u16)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// [`ExecEvent`]: `sched_process_exec`.
    Exec = 1,
    /// [`ForkEvent`]: `sched_process_fork` (processes and threads).
    Fork = 2,
    /// [`ExitEvent`]: `sched_process_exit` (every thread).
    Exit = 3,
    /// [`CredEvent`]: setuid family on exit.
    Cred = 4,
    /// [`OpenEvent`]: open family on exit.
    Open = 5,
    /// [`IoEvent`]: read/write/send/recv/mmap/close/connect/accept/shutdown on exit.
    Io = 6,
    /// [`PathEvent`]: mkdir/rmdir/unlink/link/symlink/rename/chdir on exit.
    Path = 7,
    /// [`DupEvent`]: dup/dup2/dup3/fcntl(F_DUPFD*) on exit.
    Dup = 8,
    /// [`CgroupEvent`]: `cgroup_attach_task` (a process moved to another cgroup).
    Cgroup = 9,
}

impl EventKind {
    /// The kind for a raw header value.
    pub fn from_u16(v: u16) -> Option<EventKind> {
        Some(match v {
            1 => EventKind::Exec,
            2 => EventKind::Fork,
            3 => EventKind::Exit,
            4 => EventKind::Cred,
            5 => EventKind::Open,
            6 => EventKind::Io,
            7 => EventKind::Path,
            8 => EventKind::Dup,
            9 => EventKind::Cgroup,
            _ => return None,
        })
    }
}

/// The syscall (or scheduler event) that produced an event: `EventHeader::op`.
#[repr(u16)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Op {
    Read = 1,
    Write,
    Pread64,
    Pwrite64,
    Readv,
    Writev,
    Preadv,
    Pwritev,
    Recvfrom,
    Sendto,
    Recvmsg,
    Sendmsg,
    Recvmmsg,
    Sendmmsg,
    Mmap,
    Close,
    Connect,
    Accept,
    Accept4,
    Shutdown,
    Open,
    Openat,
    Openat2,
    Creat,
    Mkdir,
    Mkdirat,
    Rmdir,
    Unlink,
    Unlinkat,
    Link,
    Linkat,
    Symlink,
    Symlinkat,
    Rename,
    Renameat,
    Renameat2,
    Chdir,
    Fchdir,
    Setuid,
    Setreuid,
    Setresuid,
    Exec,
    Fork,
    Exit,
    Dup,
    Dup2,
    Dup3,
    /// fcntl with F_DUPFD or F_DUPFD_CLOEXEC (other commands are not reported).
    FcntlDupfd,
    Preadv2,
    Pwritev2,
    /// The `in_fd` side of sendfile(2): one call gives a `SendfileIn` and a `SendfileOut`.
    SendfileIn,
    /// The `out_fd` side of sendfile(2).
    SendfileOut,
    /// The `fd_in` side of splice(2).
    SpliceIn,
    /// The `fd_out` side of splice(2).
    SpliceOut,
    /// The `fd_in` side of copy_file_range(2).
    CopyFileRangeIn,
    /// The `fd_out` side of copy_file_range(2).
    CopyFileRangeOut,
    /// A process moved to another cgroup (`cgroup_attach_task`).
    CgroupAttach,
    /// setns(2) on a namespace descriptor (`/proc/<pid>/ns/*`): SysFlow's SETNS, a file
    /// flow op of that descriptor as in the original collector.
    Setns,
}

impl Op {
    const ALL: [Op; 58] = [
        Op::Read,
        Op::Write,
        Op::Pread64,
        Op::Pwrite64,
        Op::Readv,
        Op::Writev,
        Op::Preadv,
        Op::Pwritev,
        Op::Recvfrom,
        Op::Sendto,
        Op::Recvmsg,
        Op::Sendmsg,
        Op::Recvmmsg,
        Op::Sendmmsg,
        Op::Mmap,
        Op::Close,
        Op::Connect,
        Op::Accept,
        Op::Accept4,
        Op::Shutdown,
        Op::Open,
        Op::Openat,
        Op::Openat2,
        Op::Creat,
        Op::Mkdir,
        Op::Mkdirat,
        Op::Rmdir,
        Op::Unlink,
        Op::Unlinkat,
        Op::Link,
        Op::Linkat,
        Op::Symlink,
        Op::Symlinkat,
        Op::Rename,
        Op::Renameat,
        Op::Renameat2,
        Op::Chdir,
        Op::Fchdir,
        Op::Setuid,
        Op::Setreuid,
        Op::Setresuid,
        Op::Exec,
        Op::Fork,
        Op::Exit,
        Op::Dup,
        Op::Dup2,
        Op::Dup3,
        Op::FcntlDupfd,
        Op::Preadv2,
        Op::Pwritev2,
        Op::SendfileIn,
        Op::SendfileOut,
        Op::SpliceIn,
        Op::SpliceOut,
        Op::CopyFileRangeIn,
        Op::CopyFileRangeOut,
        Op::CgroupAttach,
        Op::Setns,
    ];

    /// The op for a raw header value.
    pub fn from_u16(v: u16) -> Option<Op> {
        Op::ALL.get((v as usize).wrapping_sub(1)).copied()
    }

    /// True for ops that read data (READ on files, RECV on sockets).
    pub fn is_read(self) -> bool {
        matches!(
            self,
            Op::Read
                | Op::Pread64
                | Op::Readv
                | Op::Preadv
                | Op::Preadv2
                | Op::SendfileIn
                | Op::SpliceIn
                | Op::CopyFileRangeIn
                | Op::Recvfrom
                | Op::Recvmsg
                | Op::Recvmmsg
        )
    }

    /// True for ops that write data (WRITE on files, SEND on sockets).
    pub fn is_write(self) -> bool {
        matches!(
            self,
            Op::Write
                | Op::Pwrite64
                | Op::Writev
                | Op::Pwritev
                | Op::Pwritev2
                | Op::SendfileOut
                | Op::SpliceOut
                | Op::CopyFileRangeOut
                | Op::Sendto
                | Op::Sendmsg
                | Op::Sendmmsg
        )
    }

    /// The drop-counter class events of this op are counted in when the ring is full.
    pub fn class(self) -> DropClass {
        match self {
            Op::Exec
            | Op::Fork
            | Op::Exit
            | Op::Setuid
            | Op::Setreuid
            | Op::Setresuid
            | Op::CgroupAttach => DropClass::Proc,
            Op::Open
            | Op::Openat
            | Op::Openat2
            | Op::Creat
            | Op::Dup
            | Op::Dup2
            | Op::Dup3
            | Op::FcntlDupfd => DropClass::Open,
            Op::Close => DropClass::Close,
            Op::Connect | Op::Accept | Op::Accept4 | Op::Shutdown => DropClass::Net,
            Op::Mkdir
            | Op::Mkdirat
            | Op::Rmdir
            | Op::Unlink
            | Op::Unlinkat
            | Op::Link
            | Op::Linkat
            | Op::Symlink
            | Op::Symlinkat
            | Op::Rename
            | Op::Renameat
            | Op::Renameat2
            | Op::Chdir
            | Op::Fchdir => DropClass::Dir,
            _ => DropClass::Io,
        }
    }
}

/// Event classes with their own drop counter (index into the `DROPS` per-CPU array).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropClass {
    /// exec, fork/clone, exit, setuid.
    Proc = 0,
    /// open family and descriptor duplication (dup*, fcntl F_DUPFD*).
    Open = 1,
    /// read/write/send/recv/mmap on files and sockets.
    Io = 2,
    /// close.
    Close = 3,
    /// mkdir/rmdir/unlink/link/symlink/rename/chdir.
    Dir = 4,
    /// connect/accept/shutdown.
    Net = 5,
    /// Kernel memory the probe could not read (event sent with partial data, counted).
    ReadFault = 6,
}

/// Number of drop classes (size of the `DROPS` map).
pub const DROP_CLASSES: u32 = 7;
/// Names of the drop classes, by index.
pub const DROP_CLASS_NAMES: [&str; DROP_CLASSES as usize] =
    ["proc", "open", "io", "close", "dir", "net", "read_fault"];

/// Filter counter classes (index into the `FILTERED` per-CPU array): the [`DropClass`]es of
/// the syscalls the comm filter may skip. `Proc` stays 0 (life-cycle events are never
/// filtered), `ReadFault` is unused.
pub const FILTER_CLASSES: u32 = DROP_CLASSES;

/// Common prefix of every event.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct EventHeader {
    /// `bpf_ktime_get_ns()` (CLOCK_MONOTONIC) at syscall exit.
    pub ts_ns: u64,
    /// `tgid << 32 | tid` of the current task.
    pub pid_tgid: u64,
    /// `gid << 32 | uid` of the current task.
    pub uid_gid: u64,
    /// Syscall return value (0 for scheduler events).
    pub ret: i64,
    /// [`EventKind`].
    pub kind: u16,
    /// [`Op`].
    pub op: u16,
    /// Explicit padding.
    pub _pad: u32,
}

impl EventHeader {
    /// Thread id.
    pub fn tid(&self) -> u32 {
        self.pid_tgid as u32
    }
    /// Process id (thread group id).
    pub fn tgid(&self) -> u32 {
        (self.pid_tgid >> 32) as u32
    }
    /// Real uid.
    pub fn uid(&self) -> u32 {
        self.uid_gid as u32
    }
    /// Real gid.
    pub fn gid(&self) -> u32 {
        (self.uid_gid >> 32) as u32
    }
}

/// The cgroup a task is in, in the hierarchy user space chose (`OFFSETS.cgroup_css`): the
/// cgroup v2 hierarchy on a pure v2 host, one v1 controller's otherwise. Container runtimes
/// name a container's cgroup after its id (`docker-<id>.scope`, `/docker/<id>`,
/// `cri-containerd-<id>.scope`, `crio-<id>.scope`, `libpod-<id>.scope`, `.../pod<uid>/<id>`),
/// so the names of the cgroup and a few ancestors tell which container the task is in.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CgroupNames {
    /// kernfs node id of the cgroup (the cgroup id; 0 when it could not be read).
    pub id: u64,
    /// Names of the cgroup and its ancestors, leaf first, each NUL-terminated; empty names
    /// after the hierarchy's root.
    pub names: [[u8; CGROUP_NAME_LEN]; CGROUP_LEVELS],
}

impl Default for CgroupNames {
    fn default() -> Self {
        CgroupNames {
            id: 0,
            names: [[0; CGROUP_NAME_LEN]; CGROUP_LEVELS],
        }
    }
}

/// A process image replaced by exec (`sched_process_exec`; successful execs only).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ExecEvent {
    /// Common header.
    pub hdr: EventHeader,
    /// 1 if the task has a controlling terminal.
    pub tty: u32,
    /// Bytes used in `exe` (without NUL).
    pub exe_len: u32,
    /// Bytes used in `args` (NUL-separated argv).
    pub args_len: u32,
    /// 1 if the argument vector was longer than [`ARGS_LEN`].
    pub args_truncated: u32,
    /// Slots used in `exe_path` (steps of the walk); 0 when the walk failed.
    pub exe_path_len: u32,
    /// 1 when the walk reached the process's root (or the namespace's); 0 when it gave up
    /// (too deep, unreadable), so `exe_path` is only the tail of the path.
    pub exe_path_complete: u32,
    /// `bprm->filename` as passed to exec (what the caller named: may be relative, a
    /// symlink, or `/proc/self/exe`, `/dev/fd/N`).
    pub exe: [u8; EXE_LEN],
    /// The file the kernel executed (`bprm->executable` for a script, else `bprm->file`):
    /// its dentry names up to the process's root, leaf first, one per [`NAME_SLOT`] slot
    /// (see [`EXE_PATH_LEN`]).
    pub exe_path: [u8; EXE_PATH_LEN],
    /// argv, each argument NUL-terminated.
    pub args: [u8; ARGS_LEN],
    /// The task's cgroup after the exec.
    pub cgroup: CgroupNames,
}

/// A task created by clone/fork/vfork (`sched_process_fork`; the header is the parent).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ForkEvent {
    /// Common header (current = parent).
    pub hdr: EventHeader,
    /// Child thread id.
    pub child_pid: u32,
    /// Child thread group id (== child_pid for a new process).
    pub child_tgid: u32,
    /// Child `start_time` (CLOCK_MONOTONIC ns).
    pub child_start_ns: u64,
    /// The child's cgroup, read from the child (it differs from the parent's with
    /// `CLONE_INTO_CGROUP`, as crun and systemd start processes).
    pub cgroup: CgroupNames,
}

/// A process moved to another cgroup (`cgroup_attach_task`, in the tracked hierarchy only):
/// how runc puts a container's init process, cloned on the host, into the container.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct CgroupEvent {
    /// Common header of the moved task (pid/tgid and ids are the moved task's, not the
    /// writer's).
    pub hdr: EventHeader,
    /// The task's cgroup after the move.
    pub cgroup: CgroupNames,
}

/// A task exited (`sched_process_exit`, once per thread).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ExitEvent {
    /// Common header.
    pub hdr: EventHeader,
    /// `task->exit_code` (wait status).
    pub exit_code: i32,
    /// 1 if this was the last thread of the group.
    pub group_dead: u32,
}

/// setuid/setreuid/setresuid on exit.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct CredEvent {
    /// Common header (uid_gid read after the syscall).
    pub hdr: EventHeader,
    /// The uid argument (setuid: uid; setreuid/setresuid: euid), `u32::MAX` for "unchanged".
    pub uid_arg: u32,
    /// Effective uid after the syscall.
    pub euid: u32,
}

/// open/openat/openat2/creat on exit.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct OpenEvent {
    /// Common header (ret = fd or -errno).
    pub hdr: EventHeader,
    /// dirfd argument ([`AT_FDCWD`] for open/creat).
    pub dirfd: i32,
    /// Linux `O_*` flags.
    pub flags: u32,
    /// `i_mode` of the opened file (0 if the open failed or the inode was not readable).
    pub i_mode: u32,
    /// Bytes used in `path`.
    pub path_len: u32,
    /// Path argument as passed (possibly relative).
    pub path: [u8; PATH_LEN],
}

/// Endpoints of an IPv4/IPv6 socket as the kernel holds them: `s` = local, `d` = remote.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SockTuple {
    /// AF_INET (2) or AF_INET6 (10); 0 if not an inet socket.
    pub family: u16,
    /// IPPROTO_* (6 tcp, 17 udp).
    pub proto: u16,
    /// Local port (host order).
    pub sport: u16,
    /// Remote port (host order).
    pub dport: u16,
    /// Local address (IPv4 in the first 4 bytes, network order).
    pub saddr: [u8; 16],
    /// Remote address.
    pub daddr: [u8; 16],
}

/// read/write/send/recv/mmap/close/connect/accept/shutdown on exit.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct IoEvent {
    /// Common header (ret = bytes, new fd for accept, or -errno).
    pub hdr: EventHeader,
    /// The descriptor the operation applies to (accept: the new descriptor).
    pub fd: i32,
    /// `i_mode` of the file behind `fd` (0 for close or when unknown).
    pub i_mode: u32,
    /// For sockets: the endpoints (address from the syscall arguments for unconnected UDP).
    pub sock: SockTuple,
}

/// dup/dup2/dup3/fcntl(F_DUPFD, F_DUPFD_CLOEXEC) on exit: `hdr.ret` is the new descriptor.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct DupEvent {
    /// Common header (ret = new fd or -errno; failures are not reported).
    pub hdr: EventHeader,
    /// The descriptor duplicated.
    pub oldfd: i32,
    /// 1 if the new descriptor is close-on-exec (dup3 O_CLOEXEC, F_DUPFD_CLOEXEC).
    pub cloexec: u32,
    /// `i_mode` of the file behind `oldfd` (0 when unknown).
    pub i_mode: u32,
    /// Explicit padding.
    pub _pad: u32,
}

/// mkdir/rmdir/unlink/link/symlink/rename/chdir on exit.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct PathEvent {
    /// Common header.
    pub hdr: EventHeader,
    /// dirfd of `path1` ([`AT_FDCWD`] for the non-at forms; fchdir: the fd).
    pub dirfd1: i32,
    /// dirfd of `path2`.
    pub dirfd2: i32,
    /// Flags argument (unlinkat AT_REMOVEDIR, renameat2 flags).
    pub flags: u32,
    /// Bytes used in `path1`.
    pub len1: u16,
    /// Bytes used in `path2`.
    pub len2: u16,
    /// First path (old path, link target).
    pub path1: [u8; PATH_LEN],
    /// Second path (new path, link path); empty for one-path ops.
    pub path2: [u8; PATH_LEN],
}

/// Kernel struct member offsets resolved by user space from `/sys/kernel/btf/vmlinux`
/// and written into the probe's `OFFSETS` global before loading (run-time CO-RE).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
#[allow(missing_docs)]
pub struct KernelOffsets {
    /// 1 when every offset below was resolved; 0 disables task/socket reads.
    pub valid: u32,
    pub task_pid: u32,
    pub task_tgid: u32,
    pub task_start_time: u32,
    pub task_files: u32,
    pub task_signal: u32,
    pub task_exit_code: u32,
    pub task_mm: u32,
    pub signal_tty: u32,
    pub signal_live: u32,
    pub files_fdt: u32,
    pub fdtable_max_fds: u32,
    pub fdtable_fd: u32,
    pub file_private_data: u32,
    pub file_inode: u32,
    pub inode_mode: u32,
    pub socket_sk: u32,
    pub sk_daddr: u32,
    pub sk_rcv_saddr: u32,
    pub sk_dport: u32,
    pub sk_num: u32,
    pub sk_family: u32,
    pub sk_v6_daddr: u32,
    pub sk_v6_rcv_saddr: u32,
    pub sk_protocol: u32,
    pub mm_arg_start: u32,
    pub mm_arg_end: u32,
    pub bprm_filename: u32,
    /// `task_struct.thread_info.status` (x86: `TS_COMPAT` marks an ia32 syscall in progress).
    pub task_ti_status: u32,
    /// `task_struct.cred` and the `uid`/`gid` members of `struct cred` (read directly
    /// instead of `bpf_get_current_uid_gid`, which also maps through the user namespace).
    pub task_cred: u32,
    pub cred_uid: u32,
    pub cred_gid: u32,
    /// `task_struct.comm` (`char[TASK_COMM_LEN]`), for the comm exclusion filter.
    pub task_comm: u32,
    /// 1 when the cgroup offsets below were resolved (else events carry no cgroup).
    pub cgroup_valid: u32,
    pub task_cgroups: u32,
    /// Offset in `struct css_set` of the pointer to follow to the tracked hierarchy:
    /// `subsys[i]` of a v1 controller (a `cgroup_subsys_state *`, then `css->cgroup`) or
    /// `dfl_cgrp` (a `cgroup *`) for cgroup v2; which one is `cgroup_via_css`.
    pub cgroup_css: u32,
    /// 1: `cgroup_css` points at a `cgroup_subsys_state`; 0: at a `cgroup`.
    pub cgroup_via_css: u32,
    pub css_cgroup: u32,
    pub cgroup_kn: u32,
    pub kn_name: u32,
    /// `kernfs_node.__parent` (`parent` before Linux 6.15).
    pub kn_parent: u32,
    pub kn_id: u32,
    /// 1 when the exe-walk offsets below were resolved (else `exe_path` stays empty).
    pub exe_walk_valid: u32,
    pub bprm_file: u32,
    /// `linux_binprm.executable` (the script when an interpreter runs it); 0 when absent.
    pub bprm_executable: u32,
    pub file_f_path: u32,
    pub path_mnt: u32,
    pub path_dentry: u32,
    pub dentry_parent: u32,
    /// `dentry.d_name.name`.
    pub dentry_name: u32,
    pub vfsmount_root: u32,
    /// Offset of the `vfsmount` inside `struct mount` (`container_of`).
    pub mount_mnt: u32,
    pub mount_parent: u32,
    pub mount_mountpoint: u32,
    pub task_fs: u32,
    pub fs_root: u32,
}

/// Bytes of `task_struct.comm` (`TASK_COMM_LEN`): at most 15 name bytes, NUL-padded.
pub const COMM_LEN: usize = 16;
/// Most names the `EXCLUDE_COMMS` map holds.
pub const MAX_EXCLUDE_COMMS: u32 = 64;

/// `thread_info.status` bit set while an ia32 (compat) syscall runs (x86 `TS_COMPAT`).
pub const TS_COMPAT: u32 = 0x0002;

/// Bits of the probes' `EVENT_CLASSES` global: which syscall events are reported besides the
/// process life cycle (exec, fork/clone, exit), which always is. Without any of them the
/// `sys_exit` program is not attached at all.
pub mod classes {
    /// setuid, setreuid, setresuid (and their 16-bit ia32 forms).
    pub const SETUID: u32 = 1;
    /// Regular files: open family, I/O and mmap on files, directory-entry calls, chdir.
    pub const FILE: u32 = 2;
    /// IPv4/IPv6 sockets: connect, accept, send/recv family, shutdown, I/O on sockets.
    pub const NET: u32 = 4;
    /// Everything (the default).
    pub const ALL: u32 = SETUID | FILE | NET;
    /// Names accepted by `--events` and the pipeline's `events` key, with their bits.
    pub const NAMES: [(&str, u32); 3] = [("setuid", SETUID), ("file", FILE), ("net", NET)];
}

/// `S_IFMT` mask and file types of `i_mode`.
pub mod mode {
    /// Type mask.
    pub const S_IFMT: u32 = 0o170000;
    /// Regular file.
    pub const S_IFREG: u32 = 0o100000;
    /// Directory.
    pub const S_IFDIR: u32 = 0o040000;
    /// Socket.
    pub const S_IFSOCK: u32 = 0o140000;
    /// FIFO.
    pub const S_IFIFO: u32 = 0o010000;
}

#[cfg(feature = "user")]
mod user {
    // SAFETY: plain-old-data `#[repr(C)]` structs of integers and byte arrays, no padding holes
    // the kernel leaves uninitialised that user space would read as anything but bytes.
    unsafe impl aya::Pod for super::KernelOffsets {}

    impl super::CgroupNames {
        /// The used names, leaf first (up to the first empty one), as bytes.
        pub fn names(&self) -> impl Iterator<Item = &[u8]> {
            self.names
                .iter()
                .map(|n| {
                    let end = n.iter().position(|&c| c == 0).unwrap_or(n.len());
                    &n[..end]
                })
                .take_while(|n| !n.is_empty())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Op;

    /// The probe writes `op as u16`; user space must read back the same op for every one,
    /// which breaks if `ALL` and the enum's declaration order drift apart.
    #[test]
    fn every_op_round_trips_through_its_raw_value() {
        for op in Op::ALL {
            assert_eq!(Op::from_u16(op as u16), Some(op), "{op:?}");
        }
        assert_eq!(Op::from_u16(0), None);
        assert_eq!(Op::from_u16(Op::ALL.len() as u16 + 1), None);
    }

    #[test]
    fn a_transfer_is_a_read_on_one_side_and_a_write_on_the_other() {
        for (i, o) in [
            (Op::SendfileIn, Op::SendfileOut),
            (Op::SpliceIn, Op::SpliceOut),
            (Op::CopyFileRangeIn, Op::CopyFileRangeOut),
        ] {
            assert!(i.is_read() && !i.is_write(), "{i:?}");
            assert!(o.is_write() && !o.is_read(), "{o:?}");
        }
        assert!(Op::Preadv2.is_read() && Op::Pwritev2.is_write());
    }
}
