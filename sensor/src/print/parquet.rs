//! Columnar export of `sensor print`: Parquet (`-o parquet -w FILE`) and Arrow IPC
//! (`-o arrow -w FILE`).
//!
//! One typed column per selected sysprint attribute, in the order of the json/csv output:
//! integers as int64, times as timestamp(ns, UTC), flags of a record (op flags, env, pod IPs,
//! tags) as list<string>, booleans as bool, everything else as the string sysprint prints.
//! Where sysprint shows `None` (or `""` for a non-string attribute, e.g. `proc.tty` of a
//! record without a process) the cell is null. Rows are buffered in column builders and
//! written every [`BATCH_ROWS`] records (one Parquet row group each), so memory stays
//! bounded whatever the trace size.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Int64Builder, ListBuilder, StringBuilder, TimestampNanosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use sysflow_model::flags::OpFlags;

use super::fields::{Column, Key, Sel};
use super::json;
use super::render::{write_ip, write_text, Rec, Val};

/// Records per record batch and per Parquet row group.
pub const BATCH_ROWS: usize = 64 * 1024;

/// Which container format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Parquet,
    /// Arrow IPC file format (Feather v2).
    Arrow,
}

/// Arrow type class of an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Int,
    Time,
    Bool,
    StrList,
}

/// The column type of a flat-map key.
pub fn kind(k: Key) -> Kind {
    use Key::*;
    match k {
        OpFlagsBitmap | Ret | TsUts | EndTsUts | ProcPid | ProcTid | ProcUid | ProcGid
        | PProcPid | PProcGid | PProcUid | FileFd | FileOpenFlags | NetProto | NetSport
        | NetDport | FlowRBytes | FlowROps | FlowWBytes | FlowWOps | PfNThreads | PfNExits
        | PfNErrors | PodRstrtCnt | Schema => Kind::Int,
        Ts | EndTs | ProcCreateTs | PProcCreateTs => Kind::Time,
        ProcTty | ProcEntry | PProcTty | PProcEntry | ContainerPrivileged => Kind::Bool,
        OpFlags | ProcEnv | PProcEnv | PodHostIp | PodInternalIp | Tags => Kind::StrList,
        _ => Kind::Str,
    }
}

fn col_kind(c: &Column) -> Kind {
    match c.sel {
        Sel::Key(k) => kind(k),
        // Names the flat map lacks print as "" in sysprint.
        Sel::Idx | Sel::Blank => Kind::Str,
    }
}

fn data_type(k: Kind) -> DataType {
    match k {
        Kind::Str => DataType::Utf8,
        Kind::Int => DataType::Int64,
        Kind::Time => DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
        Kind::Bool => DataType::Boolean,
        Kind::StrList => DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
    }
}

/// The Arrow schema for the selected columns.
pub fn schema(cols: &[Column]) -> Schema {
    Schema::new(
        cols.iter()
            .map(|c| {
                // A string attribute is never None in sysprint; the others can be.
                let k = col_kind(c);
                Field::new(&c.name, data_type(k), k != Kind::Str)
            })
            .collect::<Vec<_>>(),
    )
}

enum Builder {
    Str(StringBuilder),
    Int(Int64Builder),
    Time(TimestampNanosecondBuilder),
    Bool(BooleanBuilder),
    StrList(ListBuilder<StringBuilder>),
}

impl Builder {
    fn new(k: Kind) -> Builder {
        match k {
            Kind::Str => Builder::Str(StringBuilder::with_capacity(BATCH_ROWS, BATCH_ROWS * 8)),
            Kind::Int => Builder::Int(Int64Builder::with_capacity(BATCH_ROWS)),
            Kind::Time => Builder::Time(
                TimestampNanosecondBuilder::with_capacity(BATCH_ROWS).with_timezone("UTC"),
            ),
            Kind::Bool => Builder::Bool(BooleanBuilder::with_capacity(BATCH_ROWS)),
            Kind::StrList => Builder::StrList(ListBuilder::new(StringBuilder::new())),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Str(b) => Arc::new(b.finish()),
            Builder::Int(b) => Arc::new(b.finish()),
            Builder::Time(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::StrList(b) => Arc::new(b.finish()),
        }
    }
}

enum Sink {
    Parquet(ArrowWriter<BufWriter<File>>),
    Arrow(arrow_ipc::writer::FileWriter<BufWriter<File>>),
}

/// Writes selected attributes of records to a Parquet or Arrow IPC file.
pub struct ColumnarWriter {
    cols: Vec<Column>,
    builders: Vec<Builder>,
    schema: SchemaRef,
    rows: usize,
    sink: Sink,
    scratch: Vec<u8>,
    scratch2: Vec<u8>,
}

fn io_err(e: impl std::error::Error + Send + Sync + 'static) -> io::Error {
    io::Error::other(e)
}

impl ColumnarWriter {
    /// Creates `path` and writes the file header.
    pub fn create(path: &Path, cols: Vec<Column>, format: Format) -> io::Result<ColumnarWriter> {
        let schema: SchemaRef = Arc::new(schema(&cols));
        let out = BufWriter::with_capacity(1 << 20, File::create(path)?);
        let sink = match format {
            Format::Parquet => {
                let props = WriterProperties::builder()
                    .set_compression(Compression::SNAPPY)
                    .set_max_row_group_row_count(Some(BATCH_ROWS))
                    .set_created_by(concat!("sysflow-sensor ", env!("CARGO_PKG_VERSION")).into())
                    .build();
                Sink::Parquet(
                    ArrowWriter::try_new(out, schema.clone(), Some(props)).map_err(io_err)?,
                )
            }
            Format::Arrow => {
                Sink::Arrow(arrow_ipc::writer::FileWriter::try_new(out, &schema).map_err(io_err)?)
            }
        };
        let builders = cols.iter().map(|c| Builder::new(col_kind(c))).collect();
        Ok(ColumnarWriter {
            cols,
            builders,
            schema,
            rows: 0,
            sink,
            scratch: Vec::with_capacity(256),
            scratch2: Vec::with_capacity(256),
        })
    }

    /// Appends one record; writes a batch every [`BATCH_ROWS`] records.
    pub fn record(&mut self, rec: &Rec) -> io::Result<()> {
        let rtype = rec.flat.rec.record_type();
        for (c, b) in self.cols.iter().zip(self.builders.iter_mut()) {
            let v = match c.sel {
                Sel::Key(k) => rec.get(k),
                Sel::Idx | Sel::Blank => Val::Str(""),
            };
            match b {
                Builder::Str(b) => match v {
                    Val::Str(s) => b.append_value(s),
                    Val::Int(i) => b.append_value(itoa(i, &mut self.scratch)),
                    _ => {
                        self.scratch.clear();
                        if !write_text(&v, &mut self.scratch) {
                            // Lists of dicts (pod.services) and the like: their JSON text.
                            json::write_val(&v, &mut self.scratch, &mut self.scratch2);
                        }
                        b.append_value(String::from_utf8_lossy(&self.scratch));
                    }
                },
                Builder::Int(b) => match v {
                    Val::Int(i) => b.append_value(i),
                    Val::Bool(x) => b.append_value(i64::from(x)),
                    _ => b.append_null(),
                },
                Builder::Time(b) => match v {
                    Val::Time(ns) | Val::Int(ns) => b.append_value(ns),
                    _ => b.append_null(),
                },
                Builder::Bool(b) => match v {
                    Val::Bool(x) => b.append_value(x),
                    _ => b.append_null(),
                },
                Builder::StrList(b) => {
                    match v {
                        Val::OpFlags(bits) => {
                            for n in OpFlags(bits).names(rtype) {
                                b.values().append_value(n);
                            }
                        }
                        Val::Env(env) => {
                            for e in env {
                                b.values().append_value(e);
                            }
                        }
                        Val::IpList(ips) => {
                            for &ip in ips {
                                self.scratch.clear();
                                write_ip(ip, &mut self.scratch);
                                b.values()
                                    .append_value(String::from_utf8_lossy(&self.scratch));
                            }
                        }
                        Val::EmptyTuple => {}
                        _ => {
                            b.append_null();
                            continue;
                        }
                    }
                    b.append(true);
                }
            }
        }
        self.rows += 1;
        if self.rows == BATCH_ROWS {
            self.flush_batch()?;
        }
        Ok(())
    }

    fn flush_batch(&mut self) -> io::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
        let batch = RecordBatch::try_new(self.schema.clone(), arrays).map_err(io_err)?;
        match &mut self.sink {
            Sink::Parquet(w) => w.write(&batch).map_err(io_err)?,
            Sink::Arrow(w) => w.write(&batch).map_err(io_err)?,
        }
        self.rows = 0;
        Ok(())
    }

    /// Writes the last batch and the file footer.
    pub fn finish(mut self) -> io::Result<()> {
        self.flush_batch()?;
        match self.sink {
            Sink::Parquet(w) => {
                let mut out = w.into_inner().map_err(io_err)?;
                io::Write::flush(&mut out)
            }
            Sink::Arrow(mut w) => {
                w.finish().map_err(io_err)?;
                let mut out = w.into_inner().map_err(io_err)?;
                io::Write::flush(&mut out)
            }
        }
    }
}

/// Decimal text of `i` in `buf`.
fn itoa(i: i64, buf: &mut Vec<u8>) -> &str {
    buf.clear();
    super::render::write_int(i, buf);
    std::str::from_utf8(buf).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::print::fields::all_columns;

    #[test]
    fn every_key_has_a_type_and_the_schema_follows_the_json_order() {
        let cols = all_columns();
        let s = schema(&cols);
        assert_eq!(s.fields().len(), Key::ALL.len());
        assert_eq!(s.field(0).name(), "version");
        assert_eq!(
            s.field_with_name("ts").unwrap().data_type(),
            &DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
        );
        assert_eq!(
            s.field_with_name("proc.pid").unwrap().data_type(),
            &DataType::Int64
        );
        assert!(s.field_with_name("proc.pid").unwrap().is_nullable());
        assert!(!s.field_with_name("proc.exe").unwrap().is_nullable());
        assert!(matches!(
            s.field_with_name("opflags").unwrap().data_type(),
            DataType::List(_)
        ));
        assert_eq!(
            s.field_with_name("proc.tty").unwrap().data_type(),
            &DataType::Boolean
        );
    }
}
