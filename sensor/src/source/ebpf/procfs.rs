//! What `/proc` and `/etc` tell about processes the probes did not see start: pre-existing
//! processes at startup and any process whose fork was missed. Also clocks and names.

use std::{collections::HashMap, fs, path::Path};

use super::containers::{container_of_proc_cgroup, CgroupContainer};

/// A process as read from `/proc/<pid>`.
#[derive(Debug, Clone, Default)]
pub struct ProcInfo {
    pub ppid: u32,
    /// Start time, ns since the epoch.
    pub start_ns: i64,
    pub exe: String,
    /// Arguments after argv[0], joined with single spaces.
    pub args: String,
    pub uid: u32,
    pub gid: u32,
    pub tty: bool,
    pub cwd: String,
    pub container: Option<CgroupContainer>,
}

/// Offsets between the kernel clocks and the wall clock.
#[derive(Debug, Clone, Copy)]
pub struct Clocks {
    /// Add to a CLOCK_MONOTONIC ns value to get ns since the epoch.
    pub mono_to_epoch: i64,
    /// Add to a CLOCK_BOOTTIME ns value to get ns since the epoch.
    pub boot_to_epoch: i64,
    /// Clock ticks per second (`/proc/<pid>/stat` start times).
    pub ticks: i64,
}

fn clock_ns(id: libc::clockid_t) -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid pointer to a timespec; the clock ids used are always available on Linux.
    unsafe { libc::clock_gettime(id, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

impl Clocks {
    /// Sample the clocks now.
    pub fn now() -> Clocks {
        let real = clock_ns(libc::CLOCK_REALTIME);
        let mono = clock_ns(libc::CLOCK_MONOTONIC);
        let boot = clock_ns(libc::CLOCK_BOOTTIME);
        // SAFETY: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1);
        Clocks {
            mono_to_epoch: real - mono,
            boot_to_epoch: real - boot,
            ticks,
        }
    }

    /// Current wall-clock time, ns since the epoch.
    pub fn wall_now() -> i64 {
        clock_ns(libc::CLOCK_REALTIME)
    }
}

/// Read `/proc/<pid>`; `None` when the process is gone.
pub fn read_proc(root: &Path, pid: u32, clocks: &Clocks) -> Option<ProcInfo> {
    let dir = root.join(pid.to_string());
    let stat = fs::read_to_string(dir.join("stat")).ok()?;
    // `comm` may contain spaces and parentheses: fields start after the last ')'.
    let close = stat.rfind(')')?;
    let comm = stat
        .get(stat.find('(')? + 1..close)
        .unwrap_or("")
        .to_string();
    let f: Vec<&str> = stat.get(close + 2..)?.split_whitespace().collect();
    let ppid = f.get(1)?.parse().ok()?;
    let tty_nr: i64 = f.get(4)?.parse().ok()?;
    let start_ticks: i64 = f.get(19)?.parse().ok()?;
    let mut info = ProcInfo {
        ppid,
        start_ns: clocks.boot_to_epoch + start_ticks * (1_000_000_000 / clocks.ticks),
        tty: tty_nr != 0,
        ..Default::default()
    };
    info.exe = fs::read_link(dir.join("exe"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or(comm);
    if let Ok(cmd) = fs::read(dir.join("cmdline")) {
        info.args = join_args(&cmd);
    }
    if let Ok(status) = fs::read_to_string(dir.join("status")) {
        for line in status.lines() {
            if let Some(v) = line.strip_prefix("Uid:") {
                info.uid = v
                    .split_whitespace()
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
            } else if let Some(v) = line.strip_prefix("Gid:") {
                info.gid = v
                    .split_whitespace()
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
            }
        }
    }
    info.cwd = fs::read_link(dir.join("cwd"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    info.container = fs::read_to_string(dir.join("cgroup"))
        .ok()
        .and_then(|c| container_of_proc_cgroup(&c));
    Some(info)
}

/// Arguments after argv[0] of a NUL-separated argument vector, joined with spaces
/// (the collector's `exeArgs`).
pub fn join_args(argv: &[u8]) -> String {
    let mut out = String::new();
    for a in argv.split(|&c| c == 0).skip(1).filter(|a| !a.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&String::from_utf8_lossy(a));
    }
    out
}

/// Path a descriptor points to (`/proc/<pid>/fd/<fd>`), for descriptors opened before the
/// sensor started.
pub fn fd_path(root: &Path, pid: u32, fd: i32) -> Option<String> {
    let p = fs::read_link(root.join(pid.to_string()).join("fd").join(fd.to_string())).ok()?;
    Some(p.to_string_lossy().into_owned())
}

/// Current directory of a process.
pub fn cwd(root: &Path, pid: u32) -> Option<String> {
    let p = fs::read_link(root.join(pid.to_string()).join("cwd")).ok()?;
    Some(p.to_string_lossy().into_owned())
}

/// Live process ids under `/proc`.
pub fn pids(root: &Path) -> Vec<u32> {
    let Ok(rd) = fs::read_dir(root) else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// uid → user name and gid → group name from `/etc/passwd` and `/etc/group`.
#[derive(Debug, Default)]
pub struct Names {
    users: HashMap<u32, String>,
    groups: HashMap<u32, String>,
}

fn parse_names(text: &str) -> HashMap<u32, String> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let id = f.nth(1)?.parse().ok()?;
            Some((id, name.to_string()))
        })
        .collect()
}

impl Names {
    /// Read the host's user and group databases (missing files give empty tables).
    pub fn load() -> Names {
        Names {
            users: parse_names(&fs::read_to_string("/etc/passwd").unwrap_or_default()),
            groups: parse_names(&fs::read_to_string("/etc/group").unwrap_or_default()),
        }
    }
    /// User name of `uid`, "" when unknown.
    pub fn user(&self, uid: u32) -> &str {
        self.users.get(&uid).map(String::as_str).unwrap_or("")
    }
    /// Group name of `gid`, "" when unknown.
    pub fn group(&self, gid: u32) -> &str {
        self.groups.get(&gid).map(String::as_str).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_skip_argv0() {
        assert_eq!(join_args(b"/bin/ls\0-l\0/tmp\0"), "-l /tmp");
        assert_eq!(join_args(b"ls\0"), "");
    }

    #[test]
    fn reads_own_process() {
        let clocks = Clocks::now();
        let me = read_proc(Path::new("/proc"), std::process::id(), &clocks).expect("self");
        assert!(me.exe.contains("ebpf") || !me.exe.is_empty());
        let now = Clocks::wall_now();
        assert!(me.start_ns <= now && me.start_ns > now - 3_600_000_000_000);
    }
}
