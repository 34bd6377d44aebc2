//! A self-contained group: the messages one event needs — its stream's header, every entity
//! it refers to, then the event — as one backlog record of the Kafka disk buffer
//! (`kafka.encoding: sysflow` with `backlog.path`). Whoever sends it can start the key's
//! stream over at any record, so a record delivered after a gap (an outage, a restart, a
//! skipped segment) never reaches a consumer without its entities.
//!
//! Entries, back to back: a tag ([`HEADER`], [`ENTITY`], [`RECORD`]; u8), a slot (u64,
//! little-endian: which entity, [`slot`]; 0 otherwise), the datum's length (u32,
//! little-endian) and the bare v5 datum. A group is a header, entities, and one record last.

use std::hash::{BuildHasher, Hash};

pub const HEADER: u8 = 0;
pub const ENTITY: u8 = 1;
pub const RECORD: u8 = 2;

/// Kinds of entity, hashed into slots with the entity's id.
pub const POD: u8 = 1;
pub const CONTAINER: u8 = 2;
pub const PROCESS: u8 = 3;
pub const FILE: u8 = 4;

/// An entity's slot: its kind and id hashed with a fixed seed. Two entities sharing a slot
/// only make the sender send one of them again (it compares the datum too).
pub fn slot<K: Hash + ?Sized>(kind: u8, id: &K) -> u64 {
    foldhash::fast::FixedState::with_seed(0x5f_5f_6c_6f_77).hash_one((kind, id))
}

/// Appends one entry.
pub fn put(out: &mut Vec<u8>, tag: u8, slot: u64, datum: &[u8]) {
    put_with(out, tag, slot, |b| b.extend_from_slice(datum));
}

/// Appends one entry whose datum `write` appends.
pub fn put_with(out: &mut Vec<u8>, tag: u8, slot: u64, write: impl FnOnce(&mut Vec<u8>)) {
    out.push(tag);
    out.extend_from_slice(&slot.to_le_bytes());
    let len_at = out.len();
    out.extend_from_slice(&[0; 4]);
    write(out);
    let len = (out.len() - len_at - 4) as u32;
    out[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
}

/// One entry of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    pub tag: u8,
    pub slot: u64,
    pub datum: &'a [u8],
}

/// The entries of a group, in order; a malformed entry ends it with `Err(())`.
pub struct Entries<'a> {
    rest: &'a [u8],
}

/// Reads the entries of `group`.
pub fn entries(group: &[u8]) -> Entries<'_> {
    Entries { rest: group }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, ()>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let entry = (|| {
            let (&tag, rest) = self.rest.split_first()?;
            let (slot, rest) = rest.split_first_chunk::<8>()?;
            let (len, rest) = rest.split_first_chunk::<4>()?;
            let len = u32::from_le_bytes(*len) as usize;
            (len <= rest.len() && tag <= RECORD).then(|| {
                let (datum, rest) = rest.split_at(len);
                let slot = u64::from_le_bytes(*slot);
                (Entry { tag, slot, datum }, rest)
            })
        })();
        match entry {
            Some((e, rest)) => {
                self.rest = rest;
                Some(Ok(e))
            }
            None => {
                self.rest = &[];
                Some(Err(()))
            }
        }
    }
}

/// Whether `group` is well formed: entries that parse, a header first, one record last.
pub fn valid(group: &[u8]) -> bool {
    let (mut first, mut last, mut records) = (None, None, 0);
    for e in entries(group) {
        let Ok(e) = e else { return false };
        first.get_or_insert(e.tag);
        last = Some(e.tag);
        records += usize::from(e.tag == RECORD);
    }
    first == Some(HEADER) && last == Some(RECORD) && records == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_come_back_and_damage_is_refused() {
        let mut g = Vec::new();
        put(&mut g, HEADER, 0, b"hdr");
        put(&mut g, ENTITY, slot(PROCESS, &7u64), b"proc");
        put_with(&mut g, RECORD, 0, |b| b.extend_from_slice(b"event"));
        let got: Vec<_> = entries(&g).map(Result::unwrap).collect();
        assert_eq!(got.len(), 3);
        assert_eq!((got[0].tag, got[0].datum), (HEADER, &b"hdr"[..]));
        assert_eq!(got[1].slot, slot(PROCESS, &7u64));
        assert_ne!(got[1].slot, slot(FILE, &7u64));
        assert_eq!((got[2].tag, got[2].datum), (RECORD, &b"event"[..]));
        // 1 + 8 + 4 bytes before each datum.
        assert_eq!(g.len(), 3 * 13 + 3 + 4 + 5);
        assert!(valid(&g));
        // Cut short, a bad tag, no header first, no record last: refused.
        assert!(!valid(&g[..g.len() - 1]));
        let mut bad = g.clone();
        bad[0] = 9;
        assert!(!valid(&bad));
        assert!(!valid(&g[3 + 13..]));
        let mut no_record = Vec::new();
        put(&mut no_record, HEADER, 0, b"hdr");
        assert!(!valid(&no_record));
        assert!(!valid(b""));
    }
}
