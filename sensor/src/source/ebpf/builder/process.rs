//! Process events: CLONE (written from both sides), EXEC and SETUID (which re-emit the
//! process as MODIFIED) and EXIT (which ends the thread's or the process's flows first).

use sensor_ebpf_common::{CredEvent, ExecEvent, ExitEvent, ForkEvent, NAME_SLOT};
use sysflow_model::{Oid, OpFlags, ProcessEvent, SysFlow};

use super::{Builder, FdInfo, FlowKey, Proc, O_CLOEXEC};
use crate::source::ebpf::{paths, procfs, raw::cstr};

impl Builder {
    fn proc_event(&mut self, pid: u32, tid: u32, ts: i64, op: u32, ret: i64, args: Vec<String>) {
        let Some(oid) = self.ensure_proc(pid, ts) else {
            return;
        };
        self.emit(SysFlow::ProcessEvent(ProcessEvent {
            proc_oid: oid,
            ts,
            tid: tid as i64,
            op_flags: OpFlags(op),
            args,
            ret: ret as i32,
        }));
    }

    pub(super) fn on_fork(&mut self, e: &ForkEvent) {
        let (ptgid, ptid) = (e.hdr.tgid(), e.hdr.tid());
        if e.child_pid == 0 || e.child_pid != e.child_tgid {
            // Thread clones are summarised by ProcessFlow in the collector, which the
            // processor ignores; no record.
            return;
        }
        let ts = self.epoch_ns(e.hdr.ts_ns);
        self.load_proc(ptgid);
        // The child's own cgroup: with CLONE_INTO_CGROUP (crun, systemd) it starts in
        // another cgroup than its parent's.
        let placement = self.placement(&e.cgroup);
        let child = match self.procs.get(&ptgid) {
            Some(p) => Proc {
                oid: Oid {
                    create_ts: ts,
                    hpid: e.child_tgid as i64,
                },
                poid: Some(p.oid),
                ppid: ptgid,
                exe: p.exe.clone(),
                args: p.args.clone(),
                // The forking task's credentials, which the child copies: right even when the
                // parent's setuid was not reported (`--events` without setuid, or one thread
                // changing its own credentials with a raw syscall).
                uid: e.hdr.uid(),
                gid: e.hdr.gid(),
                tty: p.tty,
                cwd: p.cwd.clone(),
                container: placement.apply(&p.container),
                written: false,
                exited: false,
            },
            None => Proc {
                oid: Oid {
                    create_ts: ts,
                    hpid: e.child_tgid as i64,
                },
                poid: None,
                ppid: ptgid,
                exe: String::new(),
                args: String::new(),
                uid: e.hdr.uid(),
                gid: e.hdr.gid(),
                tty: false,
                cwd: String::new(),
                container: placement.apply(&None),
                written: false,
                exited: false,
            },
        };
        self.procs.insert(e.child_tgid, child);
        self.proc_event(
            ptgid,
            ptid,
            ts,
            OpFlags::CLONE,
            e.child_pid as i64,
            Vec::new(),
        );
        self.proc_event(e.child_tgid, e.child_pid, ts, OpFlags::CLONE, 0, Vec::new());
    }

    pub(super) fn on_exec(&mut self, e: &ExecEvent) {
        let pid = e.hdr.tgid();
        let ts = self.epoch_ns(e.hdr.ts_ns);
        self.load_proc(pid);
        let named = String::from_utf8_lossy(cstr(&e.exe, e.exe_len as usize)).into_owned();
        let walked = (e.exe_path_complete != 0)
            .then(|| walked_path(&e.exe_path, e.exe_path_len as usize))
            .flatten();
        let args = procfs::join_args(cstr_args(&e.args, e.args_len as usize));
        let placement = self.placement(&e.cgroup);
        let Some(p) = self.procs.get_mut(&pid) else {
            return;
        };
        p.exe = exe_of(named, walked, &p.cwd);
        p.args = args;
        p.uid = e.hdr.uid();
        p.gid = e.hdr.gid();
        p.tty = e.tty != 0;
        p.container = placement.apply(&p.container);
        // Descriptors opened with O_CLOEXEC are gone in the new image.
        let cloexec: Vec<i32> = self
            .fds
            .iter()
            .filter(|((t, _), info)| {
                *t == pid
                    && matches!(info, FdInfo::File { linux_flags: Some(f), .. } if f & O_CLOEXEC != 0)
            })
            .map(|((_, fd), _)| *fd)
            .collect();
        for fd in cloexec {
            self.close_fd(pid, 0, fd, ts, false);
        }
        self.emit_modified(pid, ts);
        self.proc_event(pid, e.hdr.tid(), ts, OpFlags::EXEC, 0, Vec::new());
    }

    pub(super) fn on_exit(&mut self, e: &ExitEvent) {
        let (pid, tid) = (e.hdr.tgid(), e.hdr.tid());
        let ts = self.epoch_ns(e.hdr.ts_ns);
        if e.group_dead == 0 {
            // One thread gone: its flows end, truncated.
            let keys: Vec<FlowKey> = self
                .flows
                .keys()
                .filter(|k| k.tid == tid && k.tgid == pid)
                .copied()
                .collect();
            for k in keys {
                self.finish_flow(k, ts, OpFlags::TRUNCATE);
            }
            return;
        }
        let keys: Vec<FlowKey> = self
            .flows
            .keys()
            .filter(|k| k.tgid == pid)
            .copied()
            .collect();
        for k in keys {
            self.finish_flow(k, ts, OpFlags::TRUNCATE);
        }
        self.fds.retain(|(t, _), _| *t != pid);
        self.by_fd.retain(|(t, _), _| *t != pid);
        // Wait status → exit status (or minus the signal number).
        let code = e.exit_code;
        let ret = if code & 0x7f == 0 {
            (code >> 8) & 0xff
        } else {
            -(code & 0x7f)
        };
        self.proc_event(pid, tid, ts, OpFlags::EXIT, ret as i64, Vec::new());
        if let Some(p) = self.procs.get_mut(&pid) {
            p.exited = true;
        }
    }

    pub(super) fn on_cred(&mut self, e: &CredEvent) {
        let pid = e.hdr.tgid();
        let ts = self.epoch_ns(e.hdr.ts_ns);
        self.load_proc(pid);
        if e.hdr.ret == 0 {
            if let Some(p) = self.procs.get_mut(&pid) {
                p.uid = e.hdr.uid();
                p.gid = e.hdr.gid();
            }
            self.emit_modified(pid, ts);
        }
        let arg = if e.uid_arg == u32::MAX {
            "<NA>".to_string()
        } else {
            e.uid_arg.to_string()
        };
        self.proc_event(pid, e.hdr.tid(), ts, OpFlags::SETUID, e.hdr.ret, vec![arg]);
    }
}

/// The path the exe walk of the probe found in its first `steps` slots: names leaf first,
/// one per slot, empty slots for mount crossings; `None` when there are none.
fn walked_path(buf: &[u8], steps: usize) -> Option<String> {
    let names: Vec<&[u8]> = buf
        .chunks(NAME_SLOT)
        .take(steps)
        .map(|slot| cstr(slot, NAME_SLOT))
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        return None;
    }
    let mut path = String::new();
    for n in names.iter().rev() {
        path.push('/');
        path.push_str(&String::from_utf8_lossy(n));
    }
    Some(path)
}

/// The exe of a process: the path exec was given when it names the file (the collector's
/// `exe`, which keeps a symlink's name: `/bin/sh`, not `/usr/bin/dash`), the file the kernel
/// executed when the name does not say which file it is: `/proc/self/exe` (busybox applets,
/// runc's re-exec), `/dev/fd/N` (fexecve), a relative path. Without a walked path a relative
/// name is made absolute against the working directory.
fn exe_of(named: String, walked: Option<String>, cwd: &str) -> String {
    let opaque = named.starts_with("/proc/") || named.starts_with("/dev/fd/");
    if named.starts_with('/') && !opaque {
        return named;
    }
    match walked {
        Some(w) => w,
        None if named.starts_with('/') || cwd.is_empty() => named,
        None => paths::absolute(cwd, &named),
    }
}

/// The used part of the argv buffer (NUL bytes are separators, not terminators).
fn cstr_args(buf: &[u8], len: usize) -> &[u8] {
    &buf[..len.min(buf.len())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walked_names_come_leaf_first() {
        let slots = |names: &[&str]| {
            let mut b = vec![0u8; names.len() * NAME_SLOT];
            for (i, n) in names.iter().enumerate() {
                b[i * NAME_SLOT..i * NAME_SLOT + n.len()].copy_from_slice(n.as_bytes());
            }
            b
        };
        // A mount crossing (empty slot) between `bin` and `usr`; the slot after the last
        // step is not read.
        let b = slots(&["true", "bin", "", "usr", "stale"]);
        assert_eq!(walked_path(&b, 4), Some("/usr/bin/true".into()));
        assert_eq!(
            walked_path(&slots(&["busybox", "bin"]), 2),
            Some("/bin/busybox".into())
        );
        assert_eq!(walked_path(&slots(&["", ""]), 2), None);
        assert_eq!(walked_path(&b, 0), None);
    }

    #[test]
    fn the_exe_is_the_named_path_unless_it_hides_the_file() {
        let w = || Some("/bin/busybox".to_string());
        assert_eq!(exe_of("/bin/sh".into(), w(), "/"), "/bin/sh");
        assert_eq!(exe_of("/proc/self/exe".into(), w(), "/"), "/bin/busybox");
        assert_eq!(exe_of("/dev/fd/3".into(), w(), "/"), "/bin/busybox");
        assert_eq!(exe_of("./tool".into(), w(), "/tmp"), "/bin/busybox");
        assert_eq!(exe_of("./tool".into(), None, "/tmp"), "/tmp/tool");
        assert_eq!(exe_of("/proc/self/exe".into(), None, "/"), "/proc/self/exe");
    }
}
