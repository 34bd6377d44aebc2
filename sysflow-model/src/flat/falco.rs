//! Attributes derived for Falco's fields (`docs/policy-language.md`, "Falco fields"): values
//! Falco computes from its event that follow from a SysFlow record too — the process's
//! age, the kind of descriptor, the local and remote ends of a connection, the image
//! repository, the result as an errno name. Like every reader, nothing here allocates.

use super::read::Net;
use super::value::{name_of, Ancestor, Value};
use super::{Attr, FlatRecord};
use crate::flags::OpFlags as Ops;
use crate::record::SysFlow;

impl FlatRecord {
    /// Value of one of the Falco-derived attributes (see [`Attr::is_falco_derived`]).
    pub(super) fn falco_attr(&self, a: Attr) -> Value<'_> {
        use Attr::*;
        let p = self.proc.as_deref();
        match a {
            // Falco numbers events from 1 (its `never_true` macro is `evt.num=0`).
            EvtNum => Value::Int(self.index as i64 + 1),
            EvtRes => match self.ret() {
                Some(r) if r < 0 => Value::Str(errno_name(-r)),
                Some(_) => Value::Str("SUCCESS"),
                None => Value::Missing,
            },
            ProcDuration => match (self.rec.proc_oid(), self.ts()) {
                (Some(o), ts) if ts >= o.create_ts => Value::Int(ts - o.create_ts),
                _ => Value::Missing,
            },
            PProcDuration => match (p.and_then(|p| p.poid.as_ref()), self.ts()) {
                (Some(o), ts) if ts >= o.create_ts => Value::Int(ts - o.create_ts),
                _ => Value::Missing,
            },
            ParentAName | ParentAExe | ParentAPid => {
                if self.ancestry.len() < 2 {
                    return Value::Missing;
                }
                let kind = match a {
                    ParentAName => Ancestor::Name,
                    ParentAExe => Ancestor::Exe,
                    _ => Ancestor::Pid,
                };
                Value::Ancestors(kind, &self.ancestry[1..])
            }
            FdType => match self.fd_char() {
                Some(c) => Value::Str(fd_type_name(c)),
                None => Value::Missing,
            },
            FdTypeChar => match self.fd_char() {
                Some(c) => Value::Char(c as char),
                None => Value::Missing,
            },
            FdSockFamily => match self.fd_char() {
                Some(b'4' | b'6') => Value::Str("ip"),
                Some(b'u') => Value::Str("unix"),
                _ => Value::Missing,
            },
            // A SysFlow network flow is a connected socket; a changed tuple is a new flow.
            FdConnected => self.net_value(|_, _| Value::Bool(true)),
            FdNameChanged => match &self.rec {
                SysFlow::FileFlow(_) | SysFlow::NetworkFlow(_) => Value::Bool(false),
                _ => Value::Missing,
            },
            FdL4Proto => self.net_value(|n, _| Value::Str(l4proto_name(n.proto))),
            NetLIp | NetRIp | NetLPort | NetRPort => self.net_value(|n, ops| {
                // SysFlow's source is the initiator: the local end is the destination
                // (server) when this process accepted the connection.
                let server = ops & Ops::ACCEPT != 0;
                let local = matches!(a, NetLIp | NetLPort) != server;
                match (a, local) {
                    (NetLIp | NetRIp, true) => Value::Ipv4(n.sip),
                    (NetLIp | NetRIp, false) => Value::Ipv4(n.dip),
                    (_, true) => Value::Int(n.sport as i64),
                    (_, false) => Value::Int(n.dport as i64),
                }
            }),
            ContainerIdOrHost => match (&self.container, p) {
                (Some(c), _) => Value::Str(&c.id),
                (None, Some(p)) => match p.container_id.as_deref() {
                    Some(id) if !id.is_empty() => Value::Str(id),
                    _ => Value::Str("host"),
                },
                _ => Value::Missing,
            },
            ContainerNameOrHost => match (&self.container, p) {
                (Some(c), _) => Value::Str(c.name.trim()),
                (None, Some(p)) if p.container_id.as_deref().unwrap_or("").is_empty() => {
                    Value::Str("host")
                }
                _ => Value::Missing,
            },
            ContainerImageRepo | ContainerImageTag => match self.container.as_deref() {
                Some(c) => {
                    let (repo, tag) = split_image(c.image.trim());
                    Value::Str(if a == ContainerImageRepo { repo } else { tag })
                }
                None => Value::Missing,
            },
            ProcTtyNum => match p {
                Some(p) => Value::Int(p.tty as i64),
                None => Value::Missing,
            },
            ProcExeName => match p {
                Some(p) => Value::Str(name_of(&p.exe)),
                None => Value::Missing,
            },
            _ => Value::Missing,
        }
    }

    /// Return value of events (PE, FE, NE); flows stand for successful calls (0).
    fn ret(&self) -> Option<i64> {
        match &self.rec {
            SysFlow::ProcessEvent(r) => Some(r.ret as i64),
            SysFlow::FileEvent(r) => Some(r.ret as i64),
            SysFlow::NetworkEvent(r) => Some(r.ret as i64),
            SysFlow::FileFlow(_) | SysFlow::NetworkFlow(_) => Some(0),
            _ => None,
        }
    }

    /// Falco's `fd.typechar` of the record's descriptor: the file's resource type, `4`
    /// for IPv4 network records.
    fn fd_char(&self) -> Option<u8> {
        match &self.rec {
            SysFlow::NetworkFlow(_) | SysFlow::NetworkEvent(_) => Some(b'4'),
            SysFlow::FileFlow(_) | SysFlow::FileEvent(_) => {
                let f = self.file.as_deref()?;
                u8::try_from(f.restype)
                    .ok()
                    .filter(|c| *c != b'?' && *c != 0)
            }
            _ => None,
        }
    }

    /// `f` of the record's connection and its op flags; missing on other records.
    fn net_value<'a>(&'a self, f: impl FnOnce(Net, u32) -> Value<'a>) -> Value<'a> {
        match self.net() {
            Some(n) => f(n, self.opflags().map_or(0, |o| o.0)),
            None => Value::Missing,
        }
    }
}

/// Falco's `fd.type` for a resource type character.
fn fd_type_name(c: u8) -> &'static str {
    match c {
        b'f' => "file",
        b'd' => "directory",
        b'4' => "ipv4",
        b'6' => "ipv6",
        b'u' => "unix",
        b'p' => "pipe",
        b'e' => "event",
        b's' => "signalfd",
        b'l' => "eventpoll",
        b'i' => "inotify",
        b't' => "timerfd",
        b'n' => "netlink",
        b'm' => "memfd",
        _ => "unknown",
    }
}

/// Falco's `fd.l4proto` for an IP protocol number.
fn l4proto_name(p: i32) -> &'static str {
    match p {
        6 => "tcp",
        17 => "udp",
        1 | 58 => "icmp",
        _ => "raw",
    }
}

/// `repo[:tag][@digest]` → (repo, tag): the tag is after the last ':' that follows the
/// last '/' (a registry port is not a tag).
pub(crate) fn split_image(image: &str) -> (&str, &str) {
    let image = image.split('@').next().unwrap_or(image);
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[slash..].rfind(':') {
        Some(i) => (&image[..slash + i], &image[slash + i + 1..]),
        None => (image, ""),
    }
}

/// Linux errno names as Falco's `evt.res` shows them (the common ones; others "E" + number
/// would not be Falco's spelling, so they are "EUNKNOWN").
fn errno_name(e: i64) -> &'static str {
    const NAMES: &[&str] = &[
        "SUCCESS", "EPERM", "ENOENT", "ESRCH", "EINTR", "EIO", "ENXIO", "E2BIG", "ENOEXEC",
        "EBADF", "ECHILD", "EAGAIN", "ENOMEM", "EACCES", "EFAULT", "ENOTBLK", "EBUSY", "EEXIST",
        "EXDEV", "ENODEV", "ENOTDIR", "EISDIR", "EINVAL", "ENFILE", "EMFILE", "ENOTTY", "ETXTBSY",
        "EFBIG", "ENOSPC", "ESPIPE", "EROFS", "EMLINK", "EPIPE", "EDOM", "ERANGE",
    ];
    match e {
        0..=34 => NAMES[e as usize],
        36 => "ENAMETOOLONG",
        38 => "ENOSYS",
        39 => "ENOTEMPTY",
        40 => "ELOOP",
        95 => "EOPNOTSUPP",
        97 => "EAFNOSUPPORT",
        98 => "EADDRINUSE",
        99 => "EADDRNOTAVAIL",
        101 => "ENETUNREACH",
        104 => "ECONNRESET",
        110 => "ETIMEDOUT",
        111 => "ECONNREFUSED",
        113 => "EHOSTUNREACH",
        114 => "EALREADY",
        115 => "EINPROGRESS",
        _ => "EUNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_repository_and_tag() {
        assert_eq!(split_image("nginx:1.25"), ("nginx", "1.25"));
        assert_eq!(
            split_image("docker.io/library/nginx"),
            ("docker.io/library/nginx", "")
        );
        assert_eq!(
            split_image("registry:5000/team/app:v2@sha256:abc"),
            ("registry:5000/team/app", "v2")
        );
        assert_eq!(split_image(""), ("", ""));
    }

    #[test]
    fn errno_names() {
        assert_eq!(errno_name(2), "ENOENT");
        assert_eq!(errno_name(13), "EACCES");
        assert_eq!(errno_name(115), "EINPROGRESS");
        assert_eq!(errno_name(1000), "EUNKNOWN");
    }
}
