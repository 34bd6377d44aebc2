//! The flow table: file and network flows kept per thread and descriptor (and per peer for
//! unconnected UDP), the I/O events that update them, their end on close, reuse or exit,
//! and the FileFlow/NetworkFlow records they are written as (IPv6 ones to their own queue).

use sensor_ebpf_common::{mode, IoEvent, Op, SockTuple};
use sysflow_model::{FileFlow, NetworkFlow, ObjectState, OpFlags, OpenFlags, SysFlow};

use super::{files::ppm_open_flags, Builder, FdInfo, Flow, FlowKey, FlowKind, NetworkFlow6, Role};
use crate::source::ebpf::{paths, procfs};

const EINPROGRESS: i64 = 115;

impl Builder {
    pub(super) fn new_flow(&mut self, key: FlowKey, kind: FlowKind, ts: i64) -> &mut Flow {
        self.by_fd.entry((key.tgid, key.fd)).or_default().push(key);
        self.flows.entry(key).or_insert(Flow {
            kind,
            ts,
            last_export: ts,
            last_activity: ts,
            op_flags: 0,
            rops: 0,
            wops: 0,
            rbytes: 0,
            wbytes: 0,
        })
    }

    /// Flow of an I/O event, creating it from the descriptor table or /proc if needed.
    fn flow_for_io(&mut self, e: &IoEvent, ts: i64) -> Option<FlowKey> {
        let (pid, tid, fd) = (e.hdr.tgid(), e.hdr.tid(), e.fd);
        let is_sock = e.i_mode & mode::S_IFMT == mode::S_IFSOCK;
        let peer = if is_sock && e.sock.proto == 17 {
            peer_hash(&e.sock)
        } else {
            0
        };
        let key = FlowKey {
            tgid: pid,
            tid,
            fd,
            peer,
        };
        if self.flows.contains_key(&key) {
            return Some(key);
        }
        if is_sock {
            let role = match self.fds.get(&(pid, fd)) {
                Some(FdInfo::Sock { role }) => *role,
                _ => {
                    self.fds.insert(
                        (pid, fd),
                        FdInfo::Sock {
                            role: Role::Unknown,
                        },
                    );
                    Role::Unknown
                }
            };
            let role = match (role, e.sock.proto) {
                // Unconnected UDP: the receiver sees the peer as the initiator.
                (Role::Unknown, 17) if Op::from_u16(e.hdr.op).is_some_and(Op::is_read) => {
                    Role::Server
                }
                (r, _) => r,
            };
            self.new_flow(
                key,
                FlowKind::Net {
                    tuple: e.sock,
                    role,
                },
                ts,
            );
            return Some(key);
        }
        if e.i_mode & mode::S_IFMT != mode::S_IFREG {
            return None;
        }
        let (foid, linux_flags) = match self.fds.get(&(pid, fd)) {
            Some(FdInfo::File { foid, linux_flags }) => (*foid, *linux_flags),
            _ => {
                self.load_proc(pid);
                let Some(path) = procfs::fd_path(&self.cfg.proc_root, pid, fd) else {
                    self.stats.unresolved_fds += 1;
                    return None;
                };
                let foid = self.file_foid(pid, &path, b'f');
                self.fds.insert(
                    (pid, fd),
                    FdInfo::File {
                        foid,
                        linux_flags: None,
                    },
                );
                (foid, None)
            }
        };
        self.new_flow(
            key,
            FlowKind::File {
                foid,
                // A flow without OPEN (descriptor duplicated or opened before the sensor)
                // still carries the open flags when they are known, as sinsp's fdinfo does.
                open_flags: linux_flags.map(ppm_open_flags).unwrap_or(0),
            },
            ts,
        );
        Some(key)
    }

    pub(super) fn on_io(&mut self, e: &IoEvent) {
        let Some(op) = Op::from_u16(e.hdr.op) else {
            return;
        };
        let ts = self.epoch_ns(e.hdr.ts_ns);
        let (pid, tid) = (e.hdr.tgid(), e.hdr.tid());
        match op {
            Op::Close => {
                self.close_fd(pid, tid, e.fd, ts, true);
                return;
            }
            Op::Connect => {
                if e.hdr.ret < 0 && e.hdr.ret != -EINPROGRESS {
                    return;
                }
                self.close_fd(pid, tid, e.fd, ts, false);
                self.fds
                    .insert((pid, e.fd), FdInfo::Sock { role: Role::Client });
            }
            Op::Accept | Op::Accept4 => {
                self.close_fd(pid, tid, e.fd, ts, false);
                self.fds
                    .insert((pid, e.fd), FdInfo::Sock { role: Role::Server });
            }
            _ => {}
        }
        let Some(key) = self.flow_for_io(e, ts) else {
            return;
        };
        let Some(f) = self.flows.get_mut(&key) else {
            return;
        };
        f.last_activity = ts;
        let ret = e.hdr.ret;
        match op {
            Op::Connect => f.op_flags |= OpFlags::CONNECT,
            Op::Accept | Op::Accept4 => f.op_flags |= OpFlags::ACCEPT,
            Op::Shutdown => f.op_flags |= OpFlags::SHUTDOWN,
            Op::Mmap => f.op_flags |= OpFlags::MMAP,
            Op::Setns => f.op_flags |= OpFlags::SETNS,
            _ if op.is_read() => {
                f.op_flags |= OpFlags::READ;
                f.rops += 1;
                if ret > 0 && !matches!(op, Op::Recvmmsg) {
                    f.rbytes += ret;
                }
            }
            _ if op.is_write() => {
                f.op_flags |= OpFlags::WRITE;
                f.wops += 1;
                if ret > 0 && !matches!(op, Op::Sendmmsg) {
                    f.wbytes += ret;
                }
            }
            _ => {}
        }
        // Sockets learn their endpoints late (connect in progress, bind on first send).
        if let FlowKind::Net { tuple, .. } = &mut f.kind {
            if tuple.sport == 0 || tuple.dport == 0 {
                *tuple = e.sock;
            }
        }
    }

    /// A descriptor closed (or replaced): the closing thread's flow ends with CLOSE, other
    /// threads' flows on it are truncated. `explicit` is false for implicit ends (reuse,
    /// exec), which truncate every flow.
    pub(super) fn close_fd(&mut self, pid: u32, tid: u32, fd: i32, ts: i64, explicit: bool) {
        self.fds.remove(&(pid, fd));
        let Some(keys) = self.by_fd.remove(&(pid, fd)) else {
            return;
        };
        for k in keys {
            let how = if explicit && k.tid == tid {
                OpFlags::CLOSE
            } else {
                OpFlags::TRUNCATE
            };
            self.finish_flow(k, ts, how);
        }
    }

    pub(super) fn finish_flow(&mut self, key: FlowKey, ts: i64, how: u32) {
        if let Some(v) = self.by_fd.get_mut(&(key.tgid, key.fd)) {
            v.retain(|k| *k != key);
        }
        let Some(mut f) = self.flows.remove(&key) else {
            return;
        };
        f.op_flags |= how;
        self.write_flow(key, &f, ts);
    }

    /// Write a flow record (entities first). Skips empty flows and suppressed reads.
    pub(super) fn write_flow(&mut self, key: FlowKey, f: &Flow, end_ts: i64) {
        if f.op_flags == 0 || f.op_flags == OpFlags::TRUNCATE {
            return;
        }
        match &f.kind {
            FlowKind::File { foid, open_flags } => {
                if is_read_only(f.op_flags, *open_flags) {
                    let suppress = match self.cfg.file_read_mode {
                        0 => false,
                        1 => true,
                        _ => self
                            .files
                            .get(foid)
                            .is_some_and(|x| paths::read_suppressed(&x.path)),
                    };
                    if suppress {
                        self.stats.suppressed_flows += 1;
                        return;
                    }
                }
                let Some(oid) = self.ensure_proc(key.tgid, f.ts) else {
                    return;
                };
                self.ensure_file(*foid, f.ts, ObjectState::Created);
                self.emit(SysFlow::FileFlow(FileFlow {
                    proc_oid: oid,
                    ts: f.ts,
                    tid: key.tid as i64,
                    op_flags: OpFlags(f.op_flags),
                    open_flags: OpenFlags(*open_flags),
                    end_ts,
                    file_oid: *foid,
                    fd: key.fd,
                    num_r_recv_ops: f.rops,
                    num_w_send_ops: f.wops,
                    num_r_recv_bytes: f.rbytes,
                    num_w_send_bytes: f.wbytes,
                }));
            }
            FlowKind::Net { tuple, role } => {
                let Some(oid) = self.ensure_proc(key.tgid, f.ts) else {
                    return;
                };
                // s = initiator, d = server on both sides (libsinsp tuple).
                let (sa, sp, da, dp) = if *role == Role::Server {
                    (&tuple.daddr, tuple.dport, &tuple.saddr, tuple.sport)
                } else {
                    (&tuple.saddr, tuple.sport, &tuple.daddr, tuple.dport)
                };
                let mut nf = NetworkFlow {
                    proc_oid: oid,
                    ts: f.ts,
                    tid: key.tid as i64,
                    op_flags: OpFlags(f.op_flags),
                    end_ts,
                    sip: 0,
                    sport: sp as i32,
                    dip: 0,
                    dport: dp as i32,
                    proto: tuple.proto as i32,
                    fd: key.fd,
                    num_r_recv_ops: f.rops,
                    num_w_send_ops: f.wops,
                    num_r_recv_bytes: f.rbytes,
                    num_w_send_bytes: f.wbytes,
                };
                if tuple.family == 10 {
                    self.stats.ipv6_flows += 1;
                    self.out6.push(NetworkFlow6 {
                        flow: nf,
                        sip6: *sa,
                        dip6: *da,
                    });
                } else {
                    nf.sip = ip4(sa);
                    nf.dip = ip4(da);
                    self.emit(SysFlow::NetworkFlow(nf));
                }
            }
        }
    }
}

/// Whether `filereadmode` may drop a file flow: the original collector's `SHOULD_WRITE`
/// test: opened read-only, or read without writing or mapping. A file created or opened for
/// writing and closed unwritten (`touch /dev/x`, Falco's "Create files below dev") is
/// therefore kept, where judging by the absence of WRITE dropped it. Two deliberate
/// differences: the
/// collector tests the read-only bit as a mask, which `O_RDWR` also matches (a file opened
/// read-write and written under /dev would be dropped), where the access mode is compared
/// here; and a flow that entered a namespace (SETNS on `/proc/<pid>/ns/*`, always opened
/// read-only) is never a mere read.
fn is_read_only(op_flags: u32, open_flags: u32) -> bool {
    if op_flags & OpFlags::SETNS != 0 {
        return false;
    }
    let access = open_flags & OpenFlags::RDWR;
    access == OpenFlags::RDONLY
        || (op_flags & OpFlags::READ != 0 && op_flags & (OpFlags::WRITE | OpFlags::MMAP) == 0)
}

/// IPv4 address bytes (network order) as SysFlow stores them: read as little-endian i32.
fn ip4(a: &[u8; 16]) -> i32 {
    i32::from_le_bytes([a[0], a[1], a[2], a[3]])
}

fn peer_hash(t: &SockTuple) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in t.daddr.iter().chain(t.dport.to_le_bytes().iter()) {
        h = (h ^ *b as u64).wrapping_mul(0x100_0000_01b3);
    }
    h | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN_CLOSE: u32 = OpFlags::OPEN | OpFlags::CLOSE;

    #[test]
    fn read_only_follows_the_open_mode_and_the_ops() {
        let (ro, wo, rw) = (OpenFlags::RDONLY, OpenFlags::WRONLY, OpenFlags::RDWR);
        // Opened read-only: a read whether or not it read.
        assert!(is_read_only(OPEN_CLOSE, ro));
        assert!(is_read_only(
            OPEN_CLOSE | OpFlags::READ,
            ro | OpenFlags::CLOEXEC
        ));
        // Created and closed unwritten (`touch`): not a read.
        assert!(!is_read_only(OPEN_CLOSE, wo | OpenFlags::CREAT));
        assert!(!is_read_only(OPEN_CLOSE, rw | OpenFlags::CREAT));
        // Read-write: judged by what was done.
        assert!(is_read_only(OPEN_CLOSE | OpFlags::READ, rw));
        assert!(!is_read_only(OPEN_CLOSE | OpFlags::WRITE, rw));
        assert!(!is_read_only(
            OPEN_CLOSE | OpFlags::READ | OpFlags::MMAP,
            rw
        ));
        // Flags unknown (descriptor from before the sensor).
        assert!(is_read_only(OpFlags::READ, 0));
        assert!(!is_read_only(OpFlags::READ | OpFlags::WRITE, 0));
        assert!(!is_read_only(OpFlags::MMAP, 0));
        // Entering a namespace through a read-only /proc/<pid>/ns file.
        assert!(!is_read_only(OPEN_CLOSE | OpFlags::SETNS, ro));
    }
}
