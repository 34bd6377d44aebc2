//! Errors of the Avro layer. Every error names the byte offset where it happened and what
//! was expected there.

/// Error decoding one datum from a byte slice. `pos` is the offset within that slice
/// (the decompressed block for container files, the message for the live stream).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum DatumError {
    /// The bytes ended inside the datum.
    #[error("datum overruns its bytes at offset {pos}: expected {expected}")]
    Eof { pos: usize, expected: &'static str },
    /// A value that no Avro encoder produces (over-long varint, boolean byte > 1, negative length…).
    #[error("invalid {what} at offset {pos}")]
    Invalid { pos: usize, what: &'static str },
    /// Union index outside the writer schema's union.
    #[error("union index {index} at offset {pos} is out of range (the union has {len} branches)")]
    BadBranch { pos: usize, index: i64, len: usize },
    /// The union branch is a record this reader does not know.
    #[error("record {name} (union index {index}) at offset {pos} is not a SysFlow record type")]
    UnknownRecord {
        pos: usize,
        index: i64,
        name: String,
    },
    /// Enum symbol of the writer with no counterpart in the SysFlow type.
    #[error("enum symbol {symbol:?} at offset {pos} has no SysFlow counterpart")]
    UnknownSymbol { pos: usize, symbol: String },
    /// Bytes left over after a complete datum.
    #[error("{len} trailing bytes after the datum at offset {pos}")]
    Trailing { pos: usize, len: usize },
    /// Values nested deeper than the decoder allows (only possible with recursive writer schemas).
    #[error("values nested too deeply at offset {pos}")]
    TooDeep { pos: usize },
}

impl DatumError {
    /// Offset within the decoded slice.
    pub fn pos(&self) -> usize {
        match self {
            DatumError::Eof { pos, .. }
            | DatumError::Invalid { pos, .. }
            | DatumError::BadBranch { pos, .. }
            | DatumError::UnknownRecord { pos, .. }
            | DatumError::UnknownSymbol { pos, .. }
            | DatumError::Trailing { pos, .. }
            | DatumError::TooDeep { pos } => *pos,
        }
    }
}

/// Error reading an Avro object container file. `offset` is the byte offset in the input.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("I/O error at byte {offset}: {source}")]
    Io {
        offset: u64,
        #[source]
        source: std::io::Error,
    },
    /// The input does not start with `Obj\x01`.
    #[error("not an Avro container file: expected magic \"Obj\\x01\" at byte {offset}, found {found:02x?}")]
    BadMagic { offset: u64, found: Vec<u8> },
    /// The input ended early (empty file, cut header, cut block).
    #[error("input truncated at byte {offset}: expected {expected}")]
    Truncated { offset: u64, expected: String },
    /// Header metadata is malformed or lacks `avro.schema`.
    #[error("bad container header at byte {offset}: {detail}")]
    BadHeader { offset: u64, detail: String },
    /// The embedded writer schema cannot be parsed or is not a SysFlow schema.
    #[error("invalid writer schema in header at byte {offset}: {detail}")]
    InvalidSchema { offset: u64, detail: String },
    #[error(
        "unsupported codec {codec:?} in header at byte {offset} (supported: null, deflate, snappy)"
    )]
    UnsupportedCodec { offset: u64, codec: String },
    /// The 16 bytes after a block are not the file's sync marker.
    #[error("bad sync marker at byte {offset}: expected the 16-byte marker from the header")]
    BadSync { offset: u64 },
    /// Block count or size is negative or over the limits, checked before allocating.
    #[error("bad block header at byte {offset}: {detail}")]
    BadBlock { offset: u64, detail: String },
    /// The compressed block data does not decompress.
    #[error("corrupt {codec} data in block at byte {offset}: {detail}")]
    Corrupt {
        offset: u64,
        codec: &'static str,
        detail: String,
    },
    /// A datum inside a block is malformed (overruns the block, bad union index, ...).
    /// `offset` is the block's offset in the file; the source's `pos` is within the
    /// (decompressed) block data.
    #[error("record {index} of the block at byte {offset}: {source}")]
    Datum {
        offset: u64,
        index: u64,
        #[source]
        source: DatumError,
    },
    /// The datum selects a writer-union record that is not a SysFlow record type.
    #[error("record {index} of the block at byte {offset}: unknown union record {name}")]
    UnknownRecord {
        offset: u64,
        index: u64,
        name: String,
    },
}

impl ReadError {
    /// Byte offset in the input where the error happened (for datum errors: of the block).
    pub fn offset(&self) -> u64 {
        match self {
            ReadError::Io { offset, .. }
            | ReadError::BadMagic { offset, .. }
            | ReadError::Truncated { offset, .. }
            | ReadError::BadHeader { offset, .. }
            | ReadError::InvalidSchema { offset, .. }
            | ReadError::UnsupportedCodec { offset, .. }
            | ReadError::BadSync { offset }
            | ReadError::BadBlock { offset, .. }
            | ReadError::Corrupt { offset, .. }
            | ReadError::Datum { offset, .. }
            | ReadError::UnknownRecord { offset, .. } => *offset,
        }
    }
}

/// Error writing an Avro object container file.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("I/O error writing Avro container: {0}")]
    Io(#[from] std::io::Error),
    #[error("block compression failed: {0}")]
    Compress(String),
}
