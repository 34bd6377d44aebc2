//! Operation flags (`opFlags`) and open flags (`openFlags`, falco `PPM_O_*` bits) as bit sets
//! with their SysFlow names.

use crate::record_type::RecordType;

/// `opFlags` bit set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct OpFlags(pub u32);

impl OpFlags {
    pub const CLONE: u32 = 1 << 0;
    pub const EXEC: u32 = 1 << 1;
    pub const EXIT: u32 = 1 << 2;
    pub const SETUID: u32 = 1 << 3;
    pub const SETNS: u32 = 1 << 4;
    pub const ACCEPT: u32 = 1 << 5;
    pub const CONNECT: u32 = 1 << 6;
    pub const OPEN: u32 = 1 << 7;
    /// READ on files, RECV on sockets.
    pub const READ: u32 = 1 << 8;
    /// WRITE on files, SEND on sockets.
    pub const WRITE: u32 = 1 << 9;
    pub const CLOSE: u32 = 1 << 10;
    pub const TRUNCATE: u32 = 1 << 11;
    pub const SHUTDOWN: u32 = 1 << 12;
    pub const MMAP: u32 = 1 << 13;
    pub const DIGEST: u32 = 1 << 14;
    pub const MKDIR: u32 = 1 << 15;
    pub const RMDIR: u32 = 1 << 16;
    pub const LINK: u32 = 1 << 17;
    pub const UNLINK: u32 = 1 << 18;
    pub const SYMLINK: u32 = 1 << 19;
    pub const RENAME: u32 = 1 << 20;

    /// Expansion order of the Go processor (`GetOpFlags`, also JSON array order).
    /// READ/WRITE are spelt RECV/SEND on network records, see [`OpFlags::names`].
    pub const ORDER: [(u32, &'static str); 21] = [
        (Self::MKDIR, "MKDIR"),
        (Self::RMDIR, "RMDIR"),
        (Self::LINK, "LINK"),
        (Self::SYMLINK, "SYMLINK"),
        (Self::UNLINK, "UNLINK"),
        (Self::RENAME, "RENAME"),
        (Self::CLONE, "CLONE"),
        (Self::EXEC, "EXEC"),
        (Self::EXIT, "EXIT"),
        (Self::SETUID, "SETUID"),
        (Self::OPEN, "OPEN"),
        (Self::ACCEPT, "ACCEPT"),
        (Self::CONNECT, "CONNECT"),
        (Self::CLOSE, "CLOSE"),
        (Self::WRITE, "WRITE"),
        (Self::READ, "READ"),
        (Self::SETNS, "SETNS"),
        (Self::MMAP, "MMAP"),
        (Self::SHUTDOWN, "SHUTDOWN"),
        (Self::TRUNCATE, "TRUNCATE"),
        (Self::DIGEST, "DIGEST"),
    ];

    pub fn contains(self, bit: u32) -> bool {
        self.0 & bit != 0
    }

    /// Names of the set bits in processor order, spelt for the record type
    /// (RECV/SEND on network flows and events, READ/WRITE elsewhere). Does not allocate.
    pub fn names(self, rtype: RecordType) -> impl Iterator<Item = &'static str> + Clone {
        let net = matches!(rtype, RecordType::NetworkFlow | RecordType::NetworkEvent);
        Self::ORDER
            .iter()
            .filter(move |(b, _)| self.0 & b != 0)
            .map(move |&(b, n)| match (net, b) {
                (true, Self::READ) => "RECV",
                (true, Self::WRITE) => "SEND",
                _ => n,
            })
    }

    /// Bit for a name (either spelling of READ/RECV and WRITE/SEND).
    pub fn bit_of(name: &str) -> Option<u32> {
        match name {
            "RECV" => Some(Self::READ),
            "SEND" => Some(Self::WRITE),
            _ => Self::ORDER
                .iter()
                .find(|(_, n)| *n == name)
                .map(|(b, _)| *b),
        }
    }
}

/// `openFlags` bit set in falco's `PPM_O_*` encoding (not Linux `O_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct OpenFlags(pub u32);

impl OpenFlags {
    pub const RDONLY: u32 = 1;
    pub const WRONLY: u32 = 2;
    pub const RDWR: u32 = 3;
    pub const CREAT: u32 = 1 << 2;
    pub const APPEND: u32 = 1 << 3;
    pub const DSYNC: u32 = 1 << 4;
    pub const EXCL: u32 = 1 << 5;
    pub const NONBLOCK: u32 = 1 << 6;
    pub const SYNC: u32 = 1 << 7;
    pub const TRUNC: u32 = 1 << 8;
    pub const DIRECT: u32 = 1 << 9;
    pub const DIRECTORY: u32 = 1 << 10;
    pub const LARGEFILE: u32 = 1 << 11;
    pub const CLOEXEC: u32 = 1 << 12;
    pub const TMPFILE: u32 = 1 << 13;
    pub const F_CREATED: u32 = 1 << 14;

    /// Go processor name order. RDWR (3) expands to RDONLY, WRONLY, RDWR.
    const ORDER: [(u32, &'static str); 13] = [
        (Self::RDONLY, "RDONLY"),
        (Self::WRONLY, "WRONLY"),
        (Self::RDWR, "RDWR"),
        (Self::CREAT, "CREAT"),
        (Self::EXCL, "EXCL"),
        (Self::TRUNC, "TRUNC"),
        (Self::APPEND, "APPEND"),
        (Self::NONBLOCK, "NONBLOCK"),
        (Self::DSYNC, "DSYNC"),
        (Self::DIRECT, "DIRECT"),
        (Self::LARGEFILE, "LARGEFILE"),
        (Self::DIRECTORY, "DIRECTORY"),
        (Self::CLOEXEC, "CLOEXEC"),
    ];

    /// Names in processor order; "NONE" alone when no bit is set. Does not allocate.
    pub fn names(self) -> impl Iterator<Item = &'static str> + Clone {
        let none = self.0 == 0;
        let f = self.0;
        std::iter::once("NONE").filter(move |_| none).chain(
            Self::ORDER
                .iter()
                .filter(move |(b, _)| f & b == *b)
                .map(|(_, n)| *n)
                // SYNC comes last in the Go order.
                .chain(std::iter::once("SYNC").filter(move |_| f & Self::SYNC != 0)),
        )
    }

    pub fn is_open_read(self) -> bool {
        self.0 & 3 == 3 || self.0 & 1 == 1
    }

    pub fn is_open_write(self) -> bool {
        self.0 & 3 == 3 || self.0 & 2 == 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opflags_names_follow_processor_order_and_record_type() {
        let f = OpFlags(OpFlags::OPEN | OpFlags::READ | OpFlags::CLOSE);
        let ff: Vec<_> = f.names(RecordType::FileFlow).collect();
        assert_eq!(ff, ["OPEN", "CLOSE", "READ"]);
        let nf = OpFlags(OpFlags::CONNECT | OpFlags::READ | OpFlags::WRITE | OpFlags::TRUNCATE);
        let n: Vec<_> = nf.names(RecordType::NetworkFlow).collect();
        assert_eq!(n, ["CONNECT", "SEND", "RECV", "TRUNCATE"]);
        assert_eq!(OpFlags::bit_of("RECV"), Some(OpFlags::READ));
        assert_eq!(OpFlags::bit_of("RENAME"), Some(OpFlags::RENAME));
        assert_eq!(OpFlags::bit_of("nope"), None);
    }

    #[test]
    fn openflags_names() {
        let v: Vec<_> = OpenFlags(4097).names().collect();
        assert_eq!(v, ["RDONLY", "CLOEXEC"]);
        let v: Vec<_> = OpenFlags(3 | OpenFlags::SYNC).names().collect();
        assert_eq!(v, ["RDONLY", "WRONLY", "RDWR", "SYNC"]);
        assert_eq!(OpenFlags(0).names().collect::<Vec<_>>(), ["NONE"]);
        assert!(OpenFlags(1).is_open_read() && !OpenFlags(1).is_open_write());
        assert!(OpenFlags(2).is_open_write() && !OpenFlags(2).is_open_read());
    }
}
