//! `sensor print` / `sysprint`: print or convert SysFlow traces exactly as sysprint 0.6.1 does
//! (`-o str|json|flatjson|csv`), for every trace the model reads (legacy layouts included).

pub mod args;
pub mod csv;
pub mod fields;
pub mod json;
pub mod progress;
pub mod render;
pub mod schema;
pub mod table;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use sysflow_model::avro::Reader;
use sysflow_model::{Flattener, TableConfig};

pub use args::{Input, Output, PrintArgs};
use fields::Column;
use render::Rec;
use schema::SchemaTraits;

/// Version line of `-v`.
pub const VERSION_LINE: &str = concat!(
    "sysflow-sensor ",
    env!("CARGO_PKG_VERSION"),
    " (sysprint 0.6.1 compatible)"
);

/// Entry point of `sensor print`; returns the process exit code.
pub fn main(args: PrintArgs) -> anyhow::Result<u8> {
    run(&args, "sensor print")
}

/// Runs a print job; `prog` prefixes diagnostics. Exit code 1 when a path could not be read.
pub fn run(args: &PrintArgs, prog: &str) -> anyhow::Result<u8> {
    let stdout = io::stdout();
    if args.list {
        let mut o = stdout.lock();
        return Ok(write_field_list(&mut o).map(|_| 0).or_else(quiet_pipe)?);
    }
    if args.version {
        let mut o = stdout.lock();
        return Ok(writeln!(o, "{VERSION_LINE}")
            .map(|_| 0)
            .or_else(quiet_pipe)?);
    }
    if args.input == Input::S3 {
        bail!("S3 input (-i s3) is not supported yet; copy the traces locally and use -i local");
    }
    if args.filter.is_some() {
        bail!("filter expressions (-f) are not supported yet");
    }
    if args.output == Output::Csv && args.file.is_none() {
        bail!("Output file path is required for CSV output (-w FILE).");
    }

    let mut failed = false;
    let mut traces: Vec<PathBuf> = Vec::new();
    for p in &args.paths {
        if p.is_file() {
            traces.push(p.clone());
        } else if p.is_dir() {
            match args::dir_files(p) {
                Ok(fs) => traces.extend(fs),
                Err(e) => {
                    eprintln!("{prog}: {}: cannot list directory: {e}", p.display());
                    failed = true;
                }
            }
        } else {
            eprintln!(
                "{prog}: {}: existent file or dir path expected",
                p.display()
            );
            failed = true;
        }
    }

    let sink: Box<dyn Write> = match &args.file {
        Some(f) => Box::new(
            File::create(f)
                .with_context(|| format!("cannot create output file {}", f.display()))?,
        ),
        None => Box::new(stdout.lock()),
    };
    let mut out = BufWriter::with_capacity(256 << 10, sink);
    let mut printer = Printer::new(args)?;
    let total: u64 = traces
        .iter()
        .map(|t| std::fs::metadata(t).map_or(0, |m| m.len()))
        .sum();
    let mut progress = progress::Progress::new(args.file.is_some(), total);

    let res = (|| -> io::Result<()> {
        printer.begin(&mut out)?;
        for t in &traces {
            progress.start_file(&t.to_string_lossy());
            if let Err(e) = printer.file(t, &mut out, &progress)? {
                eprintln!("{prog}: {}: {e}", t.display());
                failed = true;
                if !args.keep_going {
                    break;
                }
            }
            progress.end_file(std::fs::metadata(t).map_or(0, |m| m.len()));
        }
        printer.end(&mut out)?;
        out.flush()
    })();
    progress.finish();
    match res {
        Ok(()) => Ok(u8::from(failed)),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(u8::from(failed)),
        Err(e) => Err(e).context("cannot write output"),
    }
}

fn quiet_pipe(e: io::Error) -> io::Result<u8> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Ok(0)
    } else {
        Err(e)
    }
}

/// `sysprint -l`.
pub fn write_field_list(o: &mut impl Write) -> io::Result<()> {
    let rule = "-".repeat(30);
    writeln!(o, "{rule}\nList of attributes:\n{rule}")?;
    for f in fields::FIELDS {
        writeln!(o, "{:<40} {:<40}", f.key, f.desc)?;
    }
    writeln!(o, "{rule}")
}

enum Mode {
    Json(json::Layout),
    Csv(csv::CsvWriter),
    Table(table::TableWriter),
}

/// Formats records of one or more files into one output.
pub struct Printer {
    mode: Mode,
    /// `-w` with json/flatjson: one JSON array for all records.
    array: bool,
    records: u64,
    buf: Vec<u8>,
    scratch: Vec<u8>,
}

impl Printer {
    /// The printer for parsed arguments.
    pub fn new(args: &PrintArgs) -> anyhow::Result<Printer> {
        let list = args.field_list();
        let cols: Vec<Column> = match (&list, args.allfields) {
            (Some(l), false) => fields::columns(l),
            _ => fields::all_columns(),
        };
        let mode = match args.output {
            Output::Json => Mode::Json(json::Layout::nested(&cols)?),
            Output::Flatjson => Mode::Json(json::Layout::flat(&cols)),
            Output::Csv => Mode::Csv(csv::CsvWriter::new(cols)),
            Output::Str => {
                let defaults: &[&str] = if args.k8sevents {
                    fields::K8S_EVENT_FIELDS
                } else if args.k8s {
                    fields::K8S_FIELDS
                } else {
                    fields::DEFAULT_FIELDS
                };
                let names: Vec<String> = match (&list, args.allfields) {
                    (Some(l), false) => l.clone(),
                    _ => defaults.iter().map(|s| s.to_string()).collect(),
                };
                Mode::Table(table::TableWriter::new(
                    &names,
                    args.allfields,
                    table::terminal_columns(),
                )?)
            }
        };
        Ok(Printer {
            mode,
            array: args.file.is_some() && matches!(args.output, Output::Json | Output::Flatjson),
            records: 0,
            buf: Vec::with_capacity(8 << 10),
            scratch: Vec::with_capacity(1 << 10),
        })
    }

    /// Writes what comes before the first record.
    pub fn begin(&mut self, out: &mut impl Write) -> io::Result<()> {
        if self.array {
            out.write_all(b"[")?;
        }
        Ok(())
    }

    /// Formats one record.
    pub fn record(&mut self, rec: &Rec, out: &mut impl Write) -> io::Result<()> {
        self.buf.clear();
        match &mut self.mode {
            Mode::Json(l) => {
                if self.array && self.records > 0 {
                    self.buf.extend_from_slice(b", ");
                }
                l.write(rec, &mut self.buf, &mut self.scratch);
                if !self.array {
                    self.buf.push(b'\n');
                }
            }
            Mode::Csv(c) => {
                if self.records == 0 {
                    c.header(&mut self.buf);
                }
                c.record(rec, &mut self.buf);
            }
            Mode::Table(t) => t.record(rec, &mut self.buf),
        }
        self.records += 1;
        out.write_all(&self.buf)
    }

    /// Ends one input file (`-o str` prints one table per file, as sysprint does).
    pub fn end_file(&mut self, out: &mut impl Write) -> io::Result<()> {
        if let Mode::Table(t) = &mut self.mode {
            self.buf.clear();
            t.finish_file(&mut self.buf);
            out.write_all(&self.buf)?;
        }
        Ok(())
    }

    /// Writes what comes after the last record.
    pub fn end(&mut self, out: &mut impl Write) -> io::Result<()> {
        if self.array {
            out.write_all(b"]")?;
        }
        Ok(())
    }

    /// Prints one trace file. The outer error is an output error; the inner one a fault in
    /// the trace (every record before it has been printed).
    pub fn file(
        &mut self,
        path: &Path,
        out: &mut impl Write,
        progress: &progress::Progress,
    ) -> io::Result<Result<(), sysflow_model::avro::ReadError>> {
        let f = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                return Ok(Err(sysflow_model::avro::ReadError::Io {
                    offset: 0,
                    source: e,
                }))
            }
        };
        let mut reader = match Reader::new(f) {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        let traits = SchemaTraits::from_schema_text(reader.writer_schema());
        let mut flat = Flattener::new(TableConfig::default());
        let mut n: u64 = 0;
        let mut fault = None;
        while let Some(r) = reader.next() {
            match r {
                Ok(rec) => {
                    if let Some(fr) = flat.push(rec) {
                        self.record(
                            &Rec {
                                flat: &fr,
                                traits: &traits,
                            },
                            out,
                        )?;
                    }
                }
                Err(e) => {
                    fault = Some(e);
                    break;
                }
            }
            n += 1;
            if n.is_multiple_of(4096) {
                progress.at(reader.offset());
            }
        }
        self.end_file(out)?;
        Ok(match fault {
            Some(e) => Err(e),
            None => Ok(()),
        })
    }
}
