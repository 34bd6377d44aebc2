//! Bare v5 SysFlow datums, as carried one per message on the collector's live socket
//! (no container header, no schema: the v5 schema is assumed).

use std::sync::OnceLock;

use super::cursor::Cur;
use super::decode::Program;
pub use super::encode::encode_datum;
pub use super::error::DatumError;
use super::schema::SYSFLOW_V5_SCHEMA;
use crate::record::SysFlow;

/// The compiled v5 program, built on first use.
fn v5() -> &'static Program {
    static V5: OnceLock<Program> = OnceLock::new();
    V5.get_or_init(|| {
        // The schema is a constant of this crate; the unit tests compile it.
        Program::compile(SYSFLOW_V5_SCHEMA).expect("SYSFLOW_V5_SCHEMA compiles")
    })
}

/// Decode exactly one v5 datum. Fails (never yields a half-decoded record) when the bytes
/// run out or when bytes remain after the datum.
pub fn decode_datum(bytes: &[u8]) -> Result<SysFlow, DatumError> {
    let mut cur = Cur::new(bytes);
    let rec = v5().decode(&mut cur)?;
    if cur.remaining() != 0 {
        return Err(DatumError::Trailing {
            pos: cur.pos,
            len: cur.remaining(),
        });
    }
    Ok(rec)
}

/// If `bytes` starts an SFHeader datum (union index 0), its `version` (the first field in
/// every schema version). Lets a stream reader learn the layout before decoding the rest.
pub fn peek_header_version(bytes: &[u8]) -> Option<i64> {
    let mut cur = Cur::new(bytes);
    match cur.long() {
        Ok(0) => cur.long().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::*;

    #[test]
    fn v5_program_compiles() {
        Program::compile(SYSFLOW_V5_SCHEMA).unwrap();
    }

    #[test]
    fn datum_round_trip_trailing_and_short() {
        let rec = SysFlow::Header(SfHeader {
            version: 5,
            exporter: "host".into(),
            ip: "10.0.0.1".into(),
            filename: "f.sf".into(),
        });
        let mut b = Vec::new();
        encode_datum(&rec, &mut b);
        assert_eq!(peek_header_version(&b), Some(5));
        assert_eq!(decode_datum(&b).unwrap(), rec);
        for cut in 0..b.len() {
            assert!(
                matches!(decode_datum(&b[..cut]), Err(DatumError::Eof { .. })),
                "cut {cut}"
            );
        }
        b.push(0);
        assert_eq!(
            decode_datum(&b),
            Err(DatumError::Trailing {
                pos: b.len() - 1,
                len: 1
            })
        );
        assert_eq!(peek_header_version(&[0x08, 0x00]), None);
        assert_eq!(peek_header_version(&[]), None);
    }
}
