//! Decoding of the raw ring-buffer events into typed values (user-space view of
//! `sensor-ebpf-common`).

use sensor_ebpf_common::{
    CgroupEvent, CredEvent, DupEvent, EventHeader, EventKind, ExecEvent, ExitEvent, ForkEvent,
    IoEvent, OpenEvent, PathEvent,
};

/// One event from the probes, borrowed from the ring buffer where it lies (or from a
/// [`Scratch`] copy when its bytes are not aligned for its struct).
// A by-value enum would be as large as its largest variant (the exec event, ~1 KiB) and
// copied whole on every move: a tenth of the reader's CPU on an open/read/close load.
#[derive(Clone, Copy)]
pub enum RawEvent<'a> {
    Exec(&'a ExecEvent),
    Fork(&'a ForkEvent),
    Exit(&'a ExitEvent),
    Cred(&'a CredEvent),
    Open(&'a OpenEvent),
    Io(&'a IoEvent),
    Path(&'a PathEvent),
    Dup(&'a DupEvent),
    Cgroup(&'a CgroupEvent),
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

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// Size of the largest event struct.
const MAX_EVENT: usize = max(
    max(
        max(size_of::<ExecEvent>(), size_of::<ForkEvent>()),
        max(size_of::<ExitEvent>(), size_of::<CredEvent>()),
    ),
    max(
        max(
            max(size_of::<OpenEvent>(), size_of::<IoEvent>()),
            max(size_of::<PathEvent>(), size_of::<DupEvent>()),
        ),
        size_of::<CgroupEvent>(),
    ),
);

/// Alignment every event struct needs at most (ring-buffer samples are 8-byte aligned).
const ALIGN: usize = 8;

const _: () = assert!(
    align_of::<ExecEvent>() <= ALIGN
        && align_of::<ForkEvent>() <= ALIGN
        && align_of::<ExitEvent>() <= ALIGN
        && align_of::<CredEvent>() <= ALIGN
        && align_of::<OpenEvent>() <= ALIGN
        && align_of::<IoEvent>() <= ALIGN
        && align_of::<PathEvent>() <= ALIGN
        && align_of::<DupEvent>() <= ALIGN
        && align_of::<CgroupEvent>() <= ALIGN
);

/// An aligned buffer for the rare event whose bytes are not aligned (one per reader, reused).
#[repr(C, align(8))]
pub struct Scratch([u8; MAX_EVENT]);

impl Default for Scratch {
    fn default() -> Scratch {
        Scratch([0; MAX_EVENT])
    }
}

fn view<'a, T: Copy>(
    b: &'a [u8],
    scratch: &'a mut Scratch,
    kind: EventKind,
) -> Result<&'a T, DecodeError> {
    let need = size_of::<T>();
    if b.len() < need {
        return Err(DecodeError::Size(kind, need, b.len()));
    }
    let b = if (b.as_ptr() as usize).is_multiple_of(ALIGN) {
        b
    } else {
        let s = &mut scratch.0[..need];
        s.copy_from_slice(&b[..need]);
        &*s
    };
    // SAFETY: at least size_of::<T>() bytes, aligned to ALIGN >= align_of::<T>() (asserted
    // above), borrowed for 'a; T is a plain `#[repr(C)]` struct of integers and byte arrays,
    // valid for every bit pattern.
    Ok(unsafe { &*b.as_ptr().cast::<T>() })
}

impl<'a> RawEvent<'a> {
    /// The common header.
    pub fn header(&self) -> &'a EventHeader {
        match *self {
            RawEvent::Exec(e) => &e.hdr,
            RawEvent::Fork(e) => &e.hdr,
            RawEvent::Exit(e) => &e.hdr,
            RawEvent::Cred(e) => &e.hdr,
            RawEvent::Open(e) => &e.hdr,
            RawEvent::Io(e) => &e.hdr,
            RawEvent::Path(e) => &e.hdr,
            RawEvent::Dup(e) => &e.hdr,
            RawEvent::Cgroup(e) => &e.hdr,
        }
    }

    /// Decode one ring-buffer record in place. Hot path: no allocation, and no copy unless
    /// the bytes are misaligned (then into `scratch`).
    pub fn decode(b: &'a [u8], scratch: &'a mut Scratch) -> Result<RawEvent<'a>, DecodeError> {
        if b.len() < size_of::<EventHeader>() {
            return Err(DecodeError::Short(b.len()));
        }
        // SAFETY: length checked; the header is integers only; `read_unaligned` copes with any
        // alignment.
        let hdr: EventHeader = unsafe { std::ptr::read_unaligned(b.as_ptr().cast()) };
        let kind = EventKind::from_u16(hdr.kind).ok_or(DecodeError::Kind(hdr.kind))?;
        Ok(match kind {
            EventKind::Exec => RawEvent::Exec(view(b, scratch, kind)?),
            EventKind::Fork => RawEvent::Fork(view(b, scratch, kind)?),
            EventKind::Exit => RawEvent::Exit(view(b, scratch, kind)?),
            EventKind::Cred => RawEvent::Cred(view(b, scratch, kind)?),
            EventKind::Open => RawEvent::Open(view(b, scratch, kind)?),
            EventKind::Io => RawEvent::Io(view(b, scratch, kind)?),
            EventKind::Path => RawEvent::Path(view(b, scratch, kind)?),
            EventKind::Dup => RawEvent::Dup(view(b, scratch, kind)?),
            EventKind::Cgroup => RawEvent::Cgroup(view(b, scratch, kind)?),
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
            ..Default::default()
        };
        let bytes = unsafe {
            std::slice::from_raw_parts(
                (&e as *const ForkEvent).cast::<u8>(),
                size_of::<ForkEvent>(),
            )
        };
        let mut scratch = Scratch::default();
        match RawEvent::decode(bytes, &mut scratch) {
            Ok(RawEvent::Fork(f)) => {
                assert_eq!((f.hdr.tgid(), f.hdr.tid(), f.child_pid), (10, 11, 12));
                // Aligned bytes are read where they lie.
                assert!(std::ptr::eq(f, &e));
            }
            _ => panic!("not a fork"),
        }
        assert_eq!(
            RawEvent::decode(&bytes[..20], &mut scratch).err(),
            Some(DecodeError::Short(20))
        );
        assert!(matches!(
            RawEvent::decode(&bytes[..41], &mut scratch),
            Err(DecodeError::Size(EventKind::Fork, _, 41))
        ));
        let mut bad = bytes.to_vec();
        bad[32] = 99;
        assert_eq!(
            RawEvent::decode(&bad, &mut scratch).err(),
            Some(DecodeError::Kind(99))
        );
        // Misaligned bytes (one byte into a buffer) decode through the scratch copy.
        let mut shifted = vec![0u8; bytes.len() + 1];
        shifted[1..].copy_from_slice(bytes);
        match RawEvent::decode(&shifted[1..], &mut scratch) {
            Ok(RawEvent::Fork(f)) => {
                assert_eq!((f.hdr.tgid(), f.child_tgid, f.child_start_ns), (10, 12, 7));
            }
            _ => panic!("misaligned fork not decoded"),
        }
    }

    #[test]
    fn cstr_cuts_at_nul_and_len() {
        assert_eq!(cstr(b"ab\0cd", 5), b"ab");
        assert_eq!(cstr(b"abcd", 2), b"ab");
        assert_eq!(cstr(b"ab", 9), b"ab");
    }
}
