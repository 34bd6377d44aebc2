//! [`Frames`]: records back to back with their lengths, how records move between the exporter,
//! the backlog and a transport without an allocation per record.

/// A batch of records (each an encoded, framed document), stored contiguously.
#[derive(Debug, Default, Clone)]
pub struct Frames {
    bytes: Vec<u8>,
    lens: Vec<u32>,
}

impl Frames {
    /// Appends one record written by `write` at the end of the buffer.
    pub fn push_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        let start = self.bytes.len();
        write(&mut self.bytes);
        self.lens.push((self.bytes.len() - start) as u32);
    }

    /// Appends one record.
    pub fn push(&mut self, rec: &[u8]) {
        self.bytes.extend_from_slice(rec);
        self.lens.push(rec.len() as u32);
    }

    /// Records held.
    pub fn len(&self) -> usize {
        self.lens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lens.is_empty()
    }

    /// Bytes of all records.
    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// All records back to back (what a stream transport writes in one call).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Each record's length.
    pub fn lens(&self) -> &[u32] {
        &self.lens
    }

    /// The records in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut at = 0usize;
        self.lens.iter().map(move |&n| {
            let r = &self.bytes[at..at + n as usize];
            at += n as usize;
            r
        })
    }

    /// Bytes of the first `n` records.
    pub fn prefix_bytes(&self, n: usize) -> usize {
        self.lens[..n.min(self.lens.len())]
            .iter()
            .map(|&l| l as usize)
            .sum()
    }

    pub fn clear(&mut self) {
        self.bytes.clear();
        self.lens.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_as_pushed() {
        let mut f = Frames::default();
        f.push(b"one\n");
        f.push_with(|b| b.extend_from_slice(b"two\n"));
        f.push(b"");
        assert_eq!(f.len(), 3);
        assert_eq!(f.byte_len(), 8);
        assert_eq!(f.prefix_bytes(1), 4);
        let v: Vec<&[u8]> = f.iter().collect();
        assert_eq!(v, [&b"one\n"[..], b"two\n", b""]);
        f.clear();
        assert!(f.is_empty());
    }
}
