//! Decoding of the raw ring-buffer events into typed values (user-space view of
//! `sensor-ebpf-common`).

use sensor_ebpf_common::{
    CredEvent, DupEvent, EventHeader, EventKind, ExecEvent, ExitEvent, ForkEvent, IoEvent,
    OpenEvent, PathEvent,
};

/// One event from the probes.
// Decoded on the stack and consumed at once; boxing the big variants would allocate per event.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy)]
pub enum RawEvent {
    Exec(ExecEvent),
    Fork(ForkEvent),
    Exit(ExitEvent),
    Cred(CredEvent),
    Open(OpenEvent),
    Io(IoEvent),
    Path(PathEvent),
    Dup(DupEvent),
}

/// Why an event could not be decoded (counted by the caller, never silent).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("event of {0} bytes is shorter than its header")]
    Short(usize),
    #[error("unknown event kind {0}")]
    Kind(u16),
    #[error("event kind {0:?} needs {1} bytes, got {2}")]
    Size(EventKind, usize, usize),
}

fn read<T: Copy>(b: &[u8], kind: EventKind) -> Result<T, DecodeError> {
    let need = std::mem::size_of::<T>();
    if b.len() < need {
        return Err(DecodeError::Size(kind, need, b.len()));
    }
    // SAFETY: length checked; T is a plain `#[repr(C)]` struct of integers and byte arrays,
    // valid for every bit pattern; `read_unaligned` copes with any alignment.
    Ok(unsafe { std::ptr::read_unaligned(b.as_ptr().cast::<T>()) })
}

impl RawEvent {
    /// The common header.
    pub fn header(&self) -> &EventHeader {
        match self {
            RawEvent::Exec(e) => &e.hdr,
            RawEvent::Fork(e) => &e.hdr,
            RawEvent::Exit(e) => &e.hdr,
            RawEvent::Cred(e) => &e.hdr,
            RawEvent::Open(e) => &e.hdr,
            RawEvent::Io(e) => &e.hdr,
            RawEvent::Path(e) => &e.hdr,
            RawEvent::Dup(e) => &e.hdr,
        }
    }

    /// Decode one ring-buffer record. Hot path: copies the struct, allocates nothing.
    pub fn decode(b: &[u8]) -> Result<RawEvent, DecodeError> {
        if b.len() < std::mem::size_of::<EventHeader>() {
            return Err(DecodeError::Short(b.len()));
        }
        let hdr: EventHeader = read(b, EventKind::Io)?;
        let kind = EventKind::from_u16(hdr.kind).ok_or(DecodeError::Kind(hdr.kind))?;
        Ok(match kind {
            EventKind::Exec => RawEvent::Exec(read(b, kind)?),
            EventKind::Fork => RawEvent::Fork(read(b, kind)?),
            EventKind::Exit => RawEvent::Exit(read(b, kind)?),
            EventKind::Cred => RawEvent::Cred(read(b, kind)?),
            EventKind::Open => RawEvent::Open(read(b, kind)?),
            EventKind::Io => RawEvent::Io(read(b, kind)?),
            EventKind::Path => RawEvent::Path(read(b, kind)?),
            EventKind::Dup => RawEvent::Dup(read(b, kind)?),
        })
    }
}

/// The used part of a fixed string buffer, clamped to the buffer and cut at the first NUL.
pub fn cstr(buf: &[u8], len: usize) -> &[u8] {
    let b = &buf[..len.min(buf.len())];
    match b.iter().position(|&c| c == 0) {
        Some(n) => &b[..n],
        None => b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sensor_ebpf_common::Op;

    #[test]
    fn decodes_fork_and_rejects_short_or_unknown() {
        let e = ForkEvent {
            hdr: EventHeader {
                ts_ns: 5,
                pid_tgid: (10 << 32) | 11,
                kind: EventKind::Fork as u16,
                op: Op::Fork as u16,
                ..Default::default()
            },
            child_pid: 12,
            child_tgid: 12,
            child_start_ns: 7,
        };
        let bytes = unsafe {
            std::slice::from_raw_parts(
                (&e as *const ForkEvent).cast::<u8>(),
                size_of::<ForkEvent>(),
            )
        };
        match RawEvent::decode(bytes) {
            Ok(RawEvent::Fork(f)) => {
                assert_eq!((f.hdr.tgid(), f.hdr.tid(), f.child_pid), (10, 11, 12));
            }
            _ => panic!("not a fork"),
        }
        assert_eq!(
            RawEvent::decode(&bytes[..20]).err(),
            Some(DecodeError::Short(20))
        );
        assert!(matches!(
            RawEvent::decode(&bytes[..41]),
            Err(DecodeError::Size(EventKind::Fork, _, 41))
        ));
        let mut bad = bytes.to_vec();
        bad[32] = 99;
        assert_eq!(RawEvent::decode(&bad).err(), Some(DecodeError::Kind(99)));
    }

    #[test]
    fn cstr_cuts_at_nul_and_len() {
        assert_eq!(cstr(b"ab\0cd", 5), b"ab");
        assert_eq!(cstr(b"abcd", 2), b"ab");
        assert_eq!(cstr(b"ab", 9), b"ab");
    }
}
