//! How a record layout is declared: the [`layouts!`] macro turns one declaration per record
//! into both the writer-name lookup `compile` uses and the decode loop that fills the record,
//! so a field's slot is written once. The wire kind a field accepts follows from its Rust
//! type ([`Field`]), so a declaration names fields only.

use super::program::{Program, Wire};
use crate::avro::cursor::Cur;
use crate::avro::error::DatumError;
use crate::flags::{OpFlags, OpenFlags};
use crate::record::{ContainerType, Foid, K8sAction, K8sComponent, ObjectState, Oid, Service};

/// What a record field needs from the wire.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    Long,
    Int,
    Bool,
    Str,
    Oid,
    Foid,
    OptOid,
    OptStr,
    OptFoid,
    StrArray,
    LongArray,
    StrMap,
    Services,
    /// A SysFlow enum; writer symbols are mapped by name.
    Enum(&'static [&'static str]),
    /// `opFlags`: an int, or (legacy `EventType`) an enum whose symbols are op-flag names.
    Flags,
}

/// The Rust type of a record field: the wire kind it accepts and how one value is read.
pub(super) trait Field: Sized {
    const KIND: Kind;
    fn read(p: &Program, c: &mut Cur, w: Wire) -> Result<Self, DatumError>;
}

/// The wire kind of a record field, from its type: `kind_of(|r: &FileFlow| &r.fd)` is
/// [`Kind::Int`].
pub(super) fn kind_of<R, T: Field>(_field: fn(&R) -> &T) -> Kind {
    T::KIND
}

/// `type => kind, reader` for the types read by one typed reader of [`Program`].
macro_rules! plain_fields {
    ($($t:ty => $kind:ident, $read:ident;)*) => {$(
        impl Field for $t {
            const KIND: Kind = Kind::$kind;
            #[inline]
            fn read(p: &Program, c: &mut Cur, w: Wire) -> Result<Self, DatumError> {
                p.$read(c, w)
            }
        }
    )*};
}

plain_fields! {
    i64 => Long, long;
    i32 => Int, int;
    bool => Bool, boolean;
    String => Str, string;
    Oid => Oid, oid;
    Foid => Foid, foid;
    Option<Oid> => OptOid, opt_oid;
    Option<String> => OptStr, opt_str;
    Option<Foid> => OptFoid, opt_foid;
    Vec<String> => StrArray, str_array;
    Vec<i64> => LongArray, long_array;
    Vec<(String, String)> => StrMap, str_map;
    Vec<Service> => Services, services;
}

impl Field for OpFlags {
    const KIND: Kind = Kind::Flags;
    #[inline]
    fn read(p: &Program, c: &mut Cur, w: Wire) -> Result<Self, DatumError> {
        Ok(OpFlags(p.int(c, w)? as u32))
    }
}

impl Field for OpenFlags {
    const KIND: Kind = Kind::Int;
    #[inline]
    fn read(p: &Program, c: &mut Cur, w: Wire) -> Result<Self, DatumError> {
        Ok(OpenFlags(p.int(c, w)? as u32))
    }
}

/// SysFlow enums, read by symbol name; the compiled map only yields indexes in range.
macro_rules! enum_fields {
    ($($t:ident),*) => {$(
        impl Field for $t {
            const KIND: Kind = Kind::Enum(&$t::SYMBOLS);
            #[inline]
            fn read(p: &Program, c: &mut Cur, w: Wire) -> Result<Self, DatumError> {
                Ok($t::from_index(p.enum_idx(c, w)?).unwrap_or_default())
            }
        }
    )*};
}

enum_fields!(ObjectState, ContainerType, K8sComponent, K8sAction);

/// Declares every record's layout and generates, from it, the two functions the decoder needs:
///
/// - `field_of(RecordType, writer field name) -> Option<(slot, Kind)>`, for `compile`;
/// - `decode_record(&Program, RecordType, &mut Cur, &[Step]) -> Result<SysFlow, _>`, which
///   reads the writer's fields in order into a default record, each step by its slot.
///
/// One entry per record: `Variant(Struct) { slot field: "writerName" | "legacyAlias", ... }`,
/// where `Variant` names both the `RecordType` and the `SysFlow` variant. Slots are the
/// `match` arms of the decode loop; they must differ within a record (a repeat is an
/// unreachable-pattern warning) and stay below `SKIP` (checked at compile time).
macro_rules! layouts {
    ($(
        $variant:ident($rec:ident) {
            $($slot:literal $field:ident: $($name:literal)|+,)+
        }
    )+) => {
        $($(const _: () = assert!($slot < $crate::avro::decode::program::SKIP);)+)+

        /// Slot and wire kind of the field of a `t` record that writer field `name` fills.
        pub(super) fn field_of(
            t: $crate::record::RecordType,
            name: &str,
        ) -> Option<(u8, $crate::avro::decode::layout::Kind)> {
            use $crate::avro::decode::layout::kind_of;
            match t {
                $($crate::record::RecordType::$variant => match name {
                    $($($name)|+ => Some(($slot, kind_of(|r: &$crate::record::$rec| &r.$field))),)+
                    _ => None,
                },)+
            }
        }

        /// One `t` record, read by its compiled steps (one per writer field, in writer order);
        /// fields the writer lacks keep their defaults.
        #[inline]
        pub(super) fn decode_record(
            p: &$crate::avro::decode::program::Program,
            t: $crate::record::RecordType,
            cur: &mut $crate::avro::cursor::Cur,
            steps: &[$crate::avro::decode::program::Step],
        ) -> Result<$crate::record::SysFlow, $crate::avro::error::DatumError> {
            use $crate::avro::decode::layout::Field;
            Ok(match t {
                $($crate::record::RecordType::$variant => {
                    let mut r = $crate::record::$rec::default();
                    for s in steps {
                        match s.slot {
                            $($slot => r.$field = Field::read(p, cur, s.wire)?,)+
                            _ => p.skip(cur, s.wire)?,
                        }
                    }
                    $crate::record::SysFlow::$variant(r)
                })+
            })
        }
    };
}
pub(super) use layouts;
