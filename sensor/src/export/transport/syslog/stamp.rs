//! The RFC 5424 header: `<25>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - `, with the local
//! time in seconds as Go's RFC 3339 layout writes it (`Z` for UTC). Rebuilt once a second.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::ExporterConfig;

pub struct Header {
    /// `HOSTNAME APP-NAME PROCID MSGID - `
    rest: Vec<u8>,
    sec: i64,
    prefix: Vec<u8>,
}

impl Header {
    pub fn new(cfg: &ExporterConfig) -> Self {
        let host = cfg.syslog_source.clone().unwrap_or_else(hostname);
        let app = std::env::args()
            .next()
            .as_deref()
            .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| "sensor".into());
        let field = |s: &str, max: usize| -> String {
            let s: String = s
                .chars()
                .filter(|c| c.is_ascii_graphic())
                .take(max)
                .collect();
            if s.is_empty() {
                "-".into()
            } else {
                s
            }
        };
        let rest = format!(
            "{} {} {} {} - ",
            field(&host, 255),
            field(&app, 48),
            std::process::id(),
            field(&cfg.syslog_tag, 32)
        );
        Header {
            rest: rest.into_bytes(),
            sec: i64::MIN,
            prefix: Vec::new(),
        }
    }

    /// Appends the header for the current second.
    pub fn write(&mut self, out: &mut Vec<u8>) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        if now != self.sec {
            self.sec = now;
            self.prefix.clear();
            self.prefix.extend_from_slice(b"<25>1 ");
            self.prefix.extend_from_slice(rfc3339_local(now).as_bytes());
            self.prefix.push(b' ');
            self.prefix.extend_from_slice(&self.rest);
        }
        out.extend_from_slice(&self.prefix);
    }
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it or
    // truncates, and we stop at the first NUL.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "-".into();
    }
    let n = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// `2006-01-02T15:04:05-07:00` in local time.
pub fn rfc3339_local(secs: i64) -> String {
    let t: libc::time_t = secs as libc::time_t;
    // SAFETY: tm is plain old data; localtime_r fills it and is thread safe.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if !ok {
        return "-".into();
    }
    let off = tm.tm_gmtoff;
    let zone = if off == 0 {
        "Z".to_string()
    } else {
        let sign = if off < 0 { '-' } else { '+' };
        let a = off.abs();
        format!("{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60)
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{zone}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}
