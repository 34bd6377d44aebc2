//! Files: paths resolved against the working directory or a directory descriptor, opens
//! (which start a file flow on regular files), descriptor duplication, chdir and the
//! path operations written as file events (mkdir, rmdir, unlink, link, symlink, rename).

use sensor_ebpf_common::{mode, DupEvent, Op, OpenEvent, PathEvent, AT_FDCWD};
use sysflow_model::{FileEvent, ObjectState, OpFlags, OpenFlags, SysFlow};

use super::{Builder, FdInfo, FlowKey, FlowKind, O_CLOEXEC};
use crate::source::ebpf::{paths, procfs, raw::cstr};

const AT_REMOVEDIR: u32 = 0x200;

impl Builder {
    fn cwd_of(&mut self, pid: u32) -> String {
        match self.procs.get(&pid) {
            Some(p) if !p.cwd.is_empty() => p.cwd.clone(),
            _ => procfs::cwd(&self.cfg.proc_root, pid).unwrap_or_else(|| "/".into()),
        }
    }

    /// Directory a dirfd refers to, for *at() calls.
    fn dir_of(&mut self, pid: u32, dirfd: i32) -> String {
        if dirfd == AT_FDCWD {
            return self.cwd_of(pid);
        }
        if let Some(FdInfo::File { foid, .. }) = self.fds.get(&(pid, dirfd)) {
            if let Some(f) = self.files.get(foid) {
                return f.path.clone();
            }
        }
        procfs::fd_path(&self.cfg.proc_root, pid, dirfd).unwrap_or_else(|| "/".into())
    }

    fn resolve(&mut self, pid: u32, dirfd: i32, raw: &[u8]) -> String {
        let p = String::from_utf8_lossy(raw);
        if p.starts_with('/') {
            return paths::absolute("/", &p);
        }
        let base = self.dir_of(pid, dirfd);
        paths::absolute(&base, &p)
    }

    pub(super) fn on_open(&mut self, e: &OpenEvent) {
        let (pid, tid) = (e.hdr.tgid(), e.hdr.tid());
        let fd = e.hdr.ret as i32;
        if fd < 0 {
            return;
        }
        let ts = self.epoch_ns(e.hdr.ts_ns);
        self.load_proc(pid);
        let path = self.resolve(pid, e.dirfd, cstr(&e.path, e.path_len as usize));
        let restype = restype_of_mode(e.i_mode);
        // A reused descriptor: whatever was on it is over.
        self.close_fd(pid, tid, fd, ts, false);
        let foid = self.file_foid(pid, &path, restype);
        self.fds.insert(
            (pid, fd),
            FdInfo::File {
                foid,
                linux_flags: Some(e.flags),
            },
        );
        if restype != b'f' {
            // The collector's fileOnly default: flows on regular files only.
            return;
        }
        let key = FlowKey {
            tgid: pid,
            tid,
            fd,
            peer: 0,
        };
        let flow = self.new_flow(
            key,
            FlowKind::File {
                foid,
                open_flags: ppm_open_flags(e.flags),
            },
            ts,
        );
        flow.op_flags |= OpFlags::OPEN;
    }

    /// dup/dup2/dup3/fcntl(F_DUPFD*): the new descriptor refers to the old one's file or
    /// socket; whatever was open on the new descriptor (dup2/dup3) is over.
    pub(super) fn on_dup(&mut self, e: &DupEvent) {
        let (pid, tid) = (e.hdr.tgid(), e.hdr.tid());
        let newfd = e.hdr.ret as i32;
        if e.hdr.ret < 0 || newfd == e.oldfd {
            return;
        }
        let ts = self.epoch_ns(e.hdr.ts_ns);
        self.close_fd(pid, tid, newfd, ts, false);
        let info = match self.fds.get(&(pid, e.oldfd)) {
            Some(FdInfo::File { foid, linux_flags }) => FdInfo::File {
                foid: *foid,
                // The copy has its own close-on-exec bit.
                linux_flags: linux_flags.map(|f| {
                    if e.cloexec != 0 {
                        f | O_CLOEXEC
                    } else {
                        f & !O_CLOEXEC
                    }
                }),
            },
            Some(FdInfo::Sock { role }) => FdInfo::Sock { role: *role },
            // Unknown old descriptor: the new one is resolved through /proc on first use.
            None => return,
        };
        self.fds.insert((pid, newfd), info);
    }

    pub(super) fn on_path(&mut self, e: &PathEvent) {
        let Some(op) = Op::from_u16(e.hdr.op) else {
            return;
        };
        let (pid, tid) = (e.hdr.tgid(), e.hdr.tid());
        let ts = self.epoch_ns(e.hdr.ts_ns);
        self.load_proc(pid);
        let p1 = cstr(&e.path1, e.len1 as usize);
        let p2 = cstr(&e.path2, e.len2 as usize);
        if matches!(op, Op::Chdir | Op::Fchdir) {
            let cwd = if op == Op::Chdir {
                self.resolve(pid, AT_FDCWD, p1)
            } else {
                self.dir_of(pid, e.dirfd1)
            };
            if let Some(p) = self.procs.get_mut(&pid) {
                p.cwd = cwd;
            }
            return;
        }
        let flag = match op {
            Op::Mkdir | Op::Mkdirat => OpFlags::MKDIR,
            Op::Rmdir => OpFlags::RMDIR,
            Op::Unlinkat if e.flags & AT_REMOVEDIR != 0 => OpFlags::RMDIR,
            Op::Unlink | Op::Unlinkat => OpFlags::UNLINK,
            Op::Link | Op::Linkat => OpFlags::LINK,
            Op::Symlink | Op::Symlinkat => OpFlags::SYMLINK,
            Op::Rename | Op::Renameat | Op::Renameat2 => OpFlags::RENAME,
            _ => return,
        };
        let path1 = if flag == OpFlags::SYMLINK {
            // The target is stored as given, made absolute against the link's directory.
            let link = self.resolve(pid, e.dirfd2, p2);
            let t = String::from_utf8_lossy(p1);
            paths::absolute(paths::parent(&link), &t)
        } else {
            self.resolve(pid, e.dirfd1, p1)
        };
        let dir = matches!(flag, OpFlags::MKDIR | OpFlags::RMDIR);
        let rt1 = if dir { b'd' } else { b'?' };
        let foid1 = self.file_foid(pid, &path1, rt1);
        let new = if matches!(flag, OpFlags::LINK | OpFlags::SYMLINK | OpFlags::RENAME) {
            let path2 = self.resolve(pid, e.dirfd2, p2);
            let rt = self.files.get(&foid1).map(|f| f.restype).unwrap_or(b'?');
            Some(self.file_foid(pid, &path2, rt))
        } else {
            None
        };
        let Some(oid) = self.ensure_proc(pid, ts) else {
            return;
        };
        let st1 = if new.is_some() {
            ObjectState::Reup
        } else {
            ObjectState::Created
        };
        self.ensure_file(foid1, ts, st1);
        if let Some(n) = new {
            self.ensure_file(n, ts, ObjectState::Created);
        }
        self.emit(SysFlow::FileEvent(FileEvent {
            proc_oid: oid,
            ts,
            tid: tid as i64,
            op_flags: OpFlags(flag),
            file_oid: foid1,
            ret: e.hdr.ret as i32,
            new_file_oid: new,
        }));
    }
}

/// Linux `O_*` flags to the falco `PPM_O_*` bits SysFlow stores in `openFlags`.
pub fn ppm_open_flags(f: u32) -> u32 {
    let mut r = match f & 3 {
        0 => OpenFlags::RDONLY,
        1 => OpenFlags::WRONLY,
        _ => OpenFlags::RDWR,
    };
    let map = [
        (0o100, OpenFlags::CREAT),
        (0o200, OpenFlags::EXCL),
        (0o1000, OpenFlags::TRUNC),
        (0o2000, OpenFlags::APPEND),
        (0o4000, OpenFlags::NONBLOCK),
        (0o10000, OpenFlags::DSYNC),
        (0o40000, OpenFlags::DIRECT),
        (0o100000, OpenFlags::LARGEFILE),
        (0o200000, OpenFlags::DIRECTORY),
        (0o2000000, OpenFlags::CLOEXEC),
        (0o4000000, OpenFlags::SYNC),
        (0o20000000, OpenFlags::TMPFILE),
    ];
    for (linux, ppm) in map {
        if f & linux != 0 {
            r |= ppm;
        }
    }
    r
}

fn restype_of_mode(m: u32) -> u8 {
    match m & mode::S_IFMT {
        mode::S_IFREG => b'f',
        mode::S_IFDIR => b'd',
        mode::S_IFIFO => b'p',
        mode::S_IFSOCK => b'u',
        _ => b'?',
    }
}
