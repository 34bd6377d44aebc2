//! Command-line arguments shared by `sensor print` and `sysprint`, and trace path expansion.

use std::path::{Path, PathBuf};

/// Output format (`-o`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Human-readable table.
    Str,
    /// One flat JSON object per record (dotted keys).
    Flatjson,
    /// One nested JSON object per record.
    Json,
    /// CSV (needs `-w`).
    Csv,
    /// Parquet, one typed column per attribute (needs `-w`).
    Parquet,
    /// Arrow IPC file, one typed column per attribute (needs `-w`).
    Arrow,
}

/// Input type (`-i`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Input {
    Local,
    S3,
}

/// Arguments of `sensor print` and of `sysprint` (same flags as sysprint 0.6.1).
#[derive(clap::Args, Debug, Clone)]
pub struct PrintArgs {
    /// Trace files or directories of trace files.
    #[arg(value_name = "path", required_unless_present_any = ["list", "version"])]
    pub paths: Vec<PathBuf>,
    /// Input type.
    #[arg(short = 'i', long = "input", value_enum, default_value = "local")]
    pub input: Input,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "str")]
    pub output: Output,
    /// Output file path.
    #[arg(short = 'w', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Comma-separated list of sysflow fields to be printed.
    #[arg(short = 'c', long = "fields", value_name = "FIELDS")]
    pub fields: Option<String>,
    /// Filter expression (sfql: the policy language over these attribute names, e.g.
    /// "type = FF and opflags = WRITE"; see docs/analytics.md).
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filter: Option<String>,
    /// sfql definitions (YAML `- list:` and `- macro:` items) for -f; a file or a directory,
    /// may be repeated.
    #[arg(long = "defs", value_name = "FILE")]
    pub defs: Vec<PathBuf>,
    /// List available record attributes.
    #[arg(short = 'l', long = "list")]
    pub list: bool,
    /// Add pod related fields to output.
    #[arg(short = 'k', long = "k8s", conflicts_with = "k8sevents")]
    pub k8s: bool,
    /// Use k8s event fields in output.
    #[arg(short = 'K', long = "k8sevents")]
    pub k8sevents: bool,
    /// Add all available fields to output.
    #[arg(short = 'A', long = "allfields")]
    pub allfields: bool,
    /// On a bad trace file, report it and go on with the next file.
    #[arg(long = "keep-going")]
    pub keep_going: bool,
    /// Threads encoding JSON output (json, flatjson); 1 encodes on the reading thread.
    /// Default: the available cores, at most 8. The output is the same whatever the number.
    #[arg(long = "threads", value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// S3 server address: HOST, HOST:PORT or http(s)://HOST[:PORT] (else AWS_ENDPOINT_URL).
    #[arg(short = 'e', long = "s3endpoint")]
    pub s3endpoint: Option<String>,
    /// S3 server port (default 443, or 80 without TLS).
    #[arg(short = 'p', long = "s3port")]
    pub s3port: Option<String>,
    /// S3 access key (else AWS_ACCESS_KEY_ID).
    #[arg(short = 'a', long = "s3accesskey")]
    pub s3accesskey: Option<String>,
    /// S3 secret key (else AWS_SECRET_ACCESS_KEY).
    #[arg(short = 's', long = "s3secretkey")]
    pub s3secretkey: Option<String>,
    /// Whether the S3 connection uses TLS (`--secure false` for plain HTTP; default: the
    /// endpoint's scheme, else true as in sysprint).
    #[arg(long = "secure", value_name = "BOOL", num_args = 0..=1)]
    pub secure: Option<Option<String>>,
    /// Print version information.
    #[arg(short = 'v', long = "version")]
    pub version: bool,
}

impl PrintArgs {
    /// Threads that encode JSON output (`--threads`, else the available cores, at most 8).
    pub fn encoding_threads(&self) -> usize {
        match self.threads {
            Some(n) => n as usize,
            None => std::thread::available_parallelism().map_or(1, |n| n.get().min(8)),
        }
    }

    /// The `-c` list (`None` when absent or empty, as sysprint treats it).
    pub fn field_list(&self) -> Option<Vec<String>> {
        self.fields
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| s.split(',').map(str::to_string).collect())
    }
}

/// Sort key of a directory entry: its digit key, its name, its path.
type Entry = (Option<(usize, String)>, String, PathBuf);

/// Digits of a file name as a number for ordering: (digit count without leading zeros, digits).
fn digit_key(name: &str) -> Option<(usize, String)> {
    let d: String = name.chars().filter(char::is_ascii_digit).collect();
    if d.is_empty() {
        return None;
    }
    let t = d.trim_start_matches('0').to_string();
    Some((t.len(), t))
}

/// The regular files of a directory in sysprint's order: by the number formed by the digits
/// in the name (sysprint's `int(''.join(filter(str.isdigit, f)))`), ties and names without
/// digits (on which sysprint crashes) by name, the latter after all numbered names.
pub fn dir_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<Entry> = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let p = e.path();
        // os.path.isfile follows symlinks.
        if p.is_file() {
            let name = e.file_name().to_string_lossy().into_owned();
            files.push((digit_key(&name), name, p));
        }
    }
    files.sort_by(|a, b| match (&a.0, &b.0) {
        (Some(x), Some(y)) => x.cmp(y).then_with(|| a.1.cmp(&b.1)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.1.cmp(&b.1),
    });
    Ok(files.into_iter().map(|f| f.2).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_order_by_digits_then_name() {
        let dir = std::env::temp_dir().join(format!("sfprint-args-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for n in ["b.sf", "mon.10.sf", "mon.9.sf", "a.sf", "x.009.sf"] {
            std::fs::write(dir.join(n), b"").unwrap();
        }
        std::fs::create_dir_all(dir.join("sub.1")).unwrap();
        let names: Vec<String> = dir_files(&dir)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["mon.9.sf", "x.009.sf", "mon.10.sf", "a.sf", "b.sf"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
