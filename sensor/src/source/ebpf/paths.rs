//! Path arithmetic for syscall path arguments: make them absolute against the cwd or a
//! directory descriptor, lexically (no filesystem access; the path may be gone already).

/// Join `path` onto `base` unless it is absolute, then normalise `.`, `..` and `//`.
pub fn absolute(base: &str, path: &str) -> String {
    // Most paths a process opens are absolute and already normal: one scan, one copy.
    if is_normal_absolute(path) {
        return path.to_owned();
    }
    let mut parts: Vec<&str> = Vec::new();
    let joined_base = if path.starts_with('/') { "" } else { base };
    for comp in joined_base.split('/').chain(path.split('/')) {
        match comp {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut out = String::with_capacity(path.len() + base.len() + 1);
    for p in &parts {
        out.push('/');
        out.push_str(p);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// True for `/` and for paths like `/a/b` without empty, `.` or `..` components or a
/// trailing slash: what [`absolute`] would return unchanged.
fn is_normal_absolute(path: &str) -> bool {
    let b = path.as_bytes();
    if b.first() != Some(&b'/') {
        return false;
    }
    if b.len() == 1 {
        return true;
    }
    b[1..]
        .split(|&c| c == b'/')
        .all(|comp| !matches!(comp, b"" | b"." | b".."))
}

/// Directory part of an absolute path (`/a/b` → `/a`).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// Read-only flows under these prefixes are not written by default (collector FILE_READ_MODE 2).
pub const READ_SUPPRESSED: [&str; 8] = [
    "/proc/",
    "/dev/",
    "/sys/",
    "//sys/",
    "/lib/",
    "/lib64/",
    "/usr/lib/",
    "/usr/lib64/",
];

/// True when a read-only flow on `path` is suppressed in read mode 2.
pub fn read_suppressed(path: &str) -> bool {
    READ_SUPPRESSED.iter().any(|p| path.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths() {
        assert_eq!(absolute("/home/u", "a.txt"), "/home/u/a.txt");
        assert_eq!(absolute("/home/u", "./d/../b"), "/home/u/b");
        assert_eq!(absolute("/home/u", "/etc//passwd"), "/etc/passwd");
        assert_eq!(absolute("/", "../.."), "/");
        assert_eq!(absolute("/x", "/"), "/");
        assert_eq!(absolute("/x", "/a/b"), "/a/b");
        assert_eq!(absolute("/x", "/a/b/"), "/a/b");
        assert_eq!(absolute("/x", "/a/./b"), "/a/b");
        assert_eq!(absolute("/x", "/a/b/.."), "/a");
        assert_eq!(absolute("/x", "/a/.b/..c"), "/a/.b/..c");
        assert_eq!(absolute("/x", "//a"), "/a");
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(parent("/a"), "/");
    }

    #[test]
    fn suppression_prefixes() {
        assert!(read_suppressed("/usr/lib/x86_64-linux-gnu/libc.so.6"));
        assert!(read_suppressed("/proc/self/stat"));
        assert!(!read_suppressed("/etc/passwd"));
        assert!(!read_suppressed("/library"));
    }
}
