//! `sensor print` / `sysprint`: print or convert SysFlow traces exactly as sysprint 0.6.1 does
//! (`-o str|json|flatjson|csv`), for every trace the model reads (legacy layouts included).

pub mod args;
pub mod csv;
pub mod encode;
pub mod fields;
pub mod json;
pub mod parquet;
pub mod progress;
pub mod render;
pub mod schema;
pub mod sfql;
pub mod table;

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use sysflow_model::avro::{ReadError, Reader};
use sysflow_model::flat::FlatRecord;
use sysflow_model::{Flattener, TableConfig};

pub use args::{Input, Output, PrintArgs};
use fields::Column;
use render::Rec;
use schema::SchemaTraits;

use crate::source::s3::{self, ObjectKey, S3Config, S3Options, S3Source};

/// One trace to print: a local file or an object of an S3 bucket.
enum Trace {
    File(PathBuf),
    Object(ObjectKey),
}

impl Trace {
    fn name(&self) -> String {
        match self {
            Trace::File(p) => p.display().to_string(),
            Trace::Object(k) => k.to_string(),
        }
    }

    fn size(&self) -> u64 {
        match self {
            Trace::File(p) => std::fs::metadata(p).map_or(0, |m| m.len()),
            Trace::Object(k) => k.size,
        }
    }
}

/// The object store of `-i s3` from sysprint's flags (`-e -p -a -s --secure`) and the AWS_*
/// environment variables.
fn s3_source(args: &PrintArgs) -> anyhow::Result<S3Source> {
    let secure = match &args.secure {
        None => None,
        Some(None) => Some(true),
        Some(Some(v)) => Some(
            s3::parse_bool(v).with_context(|| format!("--secure {v:?}: Boolean value expected"))?,
        ),
    };
    let opts = S3Options {
        endpoint: args.s3endpoint.as_deref(),
        port: args.s3port.as_deref(),
        access_key: args.s3accesskey.as_deref(),
        secret_key: args.s3secretkey.as_deref(),
        secure,
    };
    let cfg = S3Config::resolve(&opts, |k| std::env::var(k).ok())?;
    Ok(S3Source::new(cfg))
}

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
    // Before any input is read: a bad query fails fast (and without S3 requests).
    let filter = filter_from(args)?;
    if args.output == Output::Csv && args.file.is_none() {
        bail!("Output file path is required for CSV output (-w FILE).");
    }
    let columnar = matches!(args.output, Output::Parquet | Output::Arrow);
    if columnar && args.file.is_none() {
        bail!("Output file path is required for Parquet and Arrow output (-w FILE).");
    }

    let mut failed = false;
    let mut traces: Vec<Trace> = Vec::new();
    let s3 = match args.input {
        Input::Local => {
            for p in &args.paths {
                if p.is_file() {
                    traces.push(Trace::File(p.clone()));
                } else if p.is_dir() {
                    match args::dir_files(p) {
                        Ok(fs) => traces.extend(fs.into_iter().map(Trace::File)),
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
            None
        }
        Input::S3 => {
            let src = s3_source(args)?;
            // Paths are `bucket` or `bucket/prefix`; every object is listed before printing.
            for p in &args.paths {
                let loc = p.to_string_lossy();
                let (bucket, prefix) = s3::split_location(&loc);
                match src.list(bucket, prefix) {
                    Ok(keys) => traces.extend(keys.into_iter().map(Trace::Object)),
                    Err(e) => {
                        eprintln!("{prog}: {e}");
                        failed = true;
                    }
                }
            }
            Some(src)
        }
    };

    let sink: Box<dyn Write> = match &args.file {
        // The columnar writer owns its output file (created by `Printer::new`).
        Some(_) if columnar => Box::new(io::sink()),
        Some(f) => Box::new(
            File::create(f)
                .with_context(|| format!("cannot create output file {}", f.display()))?,
        ),
        None => {
            widen_pipe(&stdout);
            Box::new(stdout.lock())
        }
    };
    let mut out = BufWriter::with_capacity(256 << 10, sink);
    let mut printer = Printer::with_filter(args, filter)?;
    let total: u64 = traces.iter().map(Trace::size).sum();
    let mut progress = progress::Progress::new(args.file.is_some(), total);

    let res = (|| -> io::Result<()> {
        printer.begin(&mut out)?;
        for t in &traces {
            let name = t.name();
            progress.start_file(&name);
            let res = match (t, &s3) {
                (Trace::File(p), _) => printer.file(p, &mut out, &progress)?,
                (Trace::Object(k), Some(src)) => match src.open(k) {
                    Ok(body) => printer.stream(body, &mut out, &progress)?,
                    Err(e) => {
                        // The error names the object already.
                        eprintln!("{prog}: {e}");
                        failed = true;
                        if !args.keep_going {
                            break;
                        }
                        continue;
                    }
                },
                (Trace::Object(_), None) => unreachable!("objects are listed only with -i s3"),
            };
            if let Err(e) = res {
                eprintln!("{prog}: {name}: {e}");
                failed = true;
                if !args.keep_going {
                    break;
                }
            }
            progress.end_file(t.size());
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

/// Output written into a pipe is written in batches of about 2 MB: a 64 KiB pipe (Linux's
/// default) makes each batch wake the reader and block the writer some thirty times. The
/// pipe is widened to 1 MiB (the unprivileged limit, `/proc/sys/fs/pipe-max-size`) when it
/// is one; anything else is left alone, and a refusal is harmless.
fn widen_pipe(out: &io::Stdout) {
    use std::os::fd::AsRawFd;
    let fd = out.as_raw_fd();
    // SAFETY: fstat and fcntl on our own stdout descriptor, with a valid out-pointer.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd, &mut st) == 0 && (st.st_mode & libc::S_IFMT) == libc::S_IFIFO {
            libc::fcntl(fd, libc::F_SETPIPE_SZ, 1 << 20);
        }
    }
}

fn quiet_pipe(e: io::Error) -> io::Result<u8> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Ok(0)
    } else {
        Err(e)
    }
}

/// The `-f` filter (with `--defs`), `None` without one (sysprint ignores an empty `-f`).
pub fn filter_from(args: &PrintArgs) -> anyhow::Result<Option<sfql::Filter>> {
    match args.filter.as_deref() {
        Some(expr) if !expr.trim().is_empty() => Ok(Some(
            sfql::Filter::new(expr, &args.defs).context("invalid filter expression (-f)")?,
        )),
        _ => Ok(None),
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
    Json(json::Layout, json::Fragments),
    Csv(csv::CsvWriter),
    Table(table::TableWriter),
    /// Parquet / Arrow IPC; `None` once finished.
    Columnar(Option<Box<parquet::ColumnarWriter>>),
}

/// Formats records of one or more files into one output.
pub struct Printer {
    mode: Mode,
    /// `-w` with json/flatjson: one JSON array for all records.
    array: bool,
    records: u64,
    buf: Vec<u8>,
    scratch: Vec<u8>,
    /// `-f`: only matching records are printed.
    filter: Option<sfql::Filter>,
    /// Threads encoding JSON (`--threads`); 1: on the reading thread.
    threads: usize,
}

impl Printer {
    /// The printer for parsed arguments.
    pub fn new(args: &PrintArgs) -> anyhow::Result<Printer> {
        Self::with_filter(args, filter_from(args)?)
    }

    /// The printer for parsed arguments with an already compiled `-f` filter.
    pub fn with_filter(args: &PrintArgs, filter: Option<sfql::Filter>) -> anyhow::Result<Printer> {
        let list = args.field_list();
        let cols: Vec<Column> = match (&list, args.allfields) {
            (Some(l), false) => fields::columns(l),
            _ => fields::all_columns(),
        };
        let json = |l: json::Layout| {
            let f = json::Fragments::new(&l);
            Mode::Json(l, f)
        };
        let mode = match args.output {
            Output::Json => json(json::Layout::nested(&cols)?),
            Output::Flatjson => json(json::Layout::flat(&cols)),
            Output::Csv => Mode::Csv(csv::CsvWriter::new(cols)),
            Output::Parquet | Output::Arrow => {
                let format = if args.output == Output::Parquet {
                    parquet::Format::Parquet
                } else {
                    parquet::Format::Arrow
                };
                let Some(path) = &args.file else {
                    bail!("Output file path is required for Parquet and Arrow output (-w FILE).");
                };
                let w = parquet::ColumnarWriter::create(path, cols, format)
                    .with_context(|| format!("cannot create output file {}", path.display()))?;
                Mode::Columnar(Some(Box::new(w)))
            }
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
            filter,
            threads: args.encoding_threads(),
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
            Mode::Json(l, frags) => {
                if self.array && self.records > 0 {
                    self.buf.extend_from_slice(b", ");
                }
                l.write_cached(rec, &mut self.buf, &mut self.scratch, frags);
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
            Mode::Columnar(w) => {
                if let Some(w) = w {
                    w.record(rec)?;
                }
            }
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
        if let Mode::Columnar(w) = &mut self.mode {
            if let Some(w) = w.take() {
                w.finish()?;
            }
        }
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
    ) -> io::Result<Result<(), ReadError>> {
        let f = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                return Ok(Err(ReadError::Io {
                    offset: 0,
                    source: e,
                }))
            }
        };
        self.stream(f, out, progress)
    }

    /// Prints one trace read from `input` (a file or an object body being downloaded).
    pub fn stream(
        &mut self,
        input: impl Read,
        out: &mut impl Write,
        progress: &progress::Progress,
    ) -> io::Result<Result<(), ReadError>> {
        let mut reader = match Reader::new(input) {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        let traits = SchemaTraits::from_schema_text(reader.writer_schema());
        let mut filter = self.filter.take();
        let fault = match &mut self.mode {
            Mode::Json(layout, frags) if self.threads > 1 => {
                // The encoding threads keep their own fragments; these would only pin the
                // entities of the previous file.
                frags.clear();
                encode::with_threads(
                    layout,
                    &traits,
                    self.threads,
                    self.array,
                    &mut self.records,
                    out,
                    |b| each_record(&mut reader, &mut filter, progress, |fr| b.push(fr)),
                )
            }
            _ => each_record(&mut reader, &mut filter, progress, |fr| {
                let rec = Rec {
                    flat: &fr,
                    traits: &traits,
                };
                self.record(&rec, out)
            }),
        };
        self.filter = filter;
        let fault = fault?;
        self.end_file(out)?;
        Ok(match fault {
            Some(e) => Err(e),
            None => Ok(()),
        })
    }
}

/// Reads, flattens and (with `-f`) filters every record of a trace, handing each record to
/// print to `f`. Returns the fault that ended the trace early, if any (every record before
/// it has been handed over); the error is `f`'s.
fn each_record(
    reader: &mut Reader<impl Read>,
    filter: &mut Option<sfql::Filter>,
    progress: &progress::Progress,
    mut f: impl FnMut(FlatRecord) -> io::Result<()>,
) -> io::Result<Option<ReadError>> {
    let mut flat = Flattener::new(TableConfig::default());
    let mut n: u64 = 0;
    while let Some(r) = reader.next() {
        match r {
            Ok(rec) => {
                if let Some(fr) = flat.push(rec) {
                    if filter.as_mut().is_none_or(|f| f.matches(&fr)) {
                        f(fr)?;
                    }
                }
            }
            Err(e) => return Ok(Some(e)),
        }
        n += 1;
        if n.is_multiple_of(4096) {
            progress.at(reader.offset());
        }
    }
    Ok(None)
}
