//! In-kernel exclusion by process name: the names the probes' `EXCLUDE_COMMS` map holds, as
//! the kernel stores `task->comm` (at most 15 bytes, NUL-padded to 16).

use sensor_ebpf_common::{COMM_LEN, MAX_EXCLUDE_COMMS};

/// A name that can never match a `task->comm`, or too many of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommError {
    #[error("process name {0:?} is longer than {max} bytes: the kernel truncates names (comm) to {max} bytes, so it could never match", max = COMM_LEN - 1)]
    TooLong(String),
    #[error("empty process name")]
    Empty,
    #[error("process name {0:?} contains a NUL byte")]
    Nul(String),
    #[error("{0} process names to exclude; at most {MAX_EXCLUDE_COMMS}")]
    TooMany(usize),
}

/// The map key of `name`: its bytes, NUL-padded to [`COMM_LEN`].
pub fn comm_key(name: &str) -> Result<[u8; COMM_LEN], CommError> {
    let b = name.as_bytes();
    if b.is_empty() {
        return Err(CommError::Empty);
    }
    if b.contains(&0) {
        return Err(CommError::Nul(name.into()));
    }
    if b.len() >= COMM_LEN {
        return Err(CommError::TooLong(name.into()));
    }
    let mut key = [0u8; COMM_LEN];
    key[..b.len()].copy_from_slice(b);
    Ok(key)
}

/// Map keys of every name (duplicates once), or the first name that cannot be one.
pub fn comm_keys<S: AsRef<str>>(names: &[S]) -> Result<Vec<[u8; COMM_LEN]>, CommError> {
    let mut keys = Vec::with_capacity(names.len());
    for n in names {
        let k = comm_key(n.as_ref())?;
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    if keys.len() > MAX_EXCLUDE_COMMS as usize {
        return Err(CommError::TooMany(keys.len()));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_nul_padded_and_long_names_refused() {
        let k = comm_key("sfx-quiet").unwrap();
        assert_eq!(&k[..9], b"sfx-quiet");
        assert!(k[9..].iter().all(|&b| b == 0));
        assert!(comm_key("exactly15bytes!").is_ok());
        let e = comm_key("sixteen-bytes-xx").unwrap_err();
        assert_eq!(e, CommError::TooLong("sixteen-bytes-xx".into()));
        assert!(e.to_string().contains("\"sixteen-bytes-xx\""), "{e}");
        assert_eq!(comm_key(""), Err(CommError::Empty));
        assert!(matches!(comm_key("a\0b"), Err(CommError::Nul(_))));
    }

    #[test]
    fn at_most_64_distinct_names() {
        let names: Vec<String> = (0..64).map(|i| format!("n{i}")).collect();
        assert_eq!(comm_keys(&names).unwrap().len(), 64);
        let mut more = names.clone();
        more.push("n0".into());
        assert_eq!(comm_keys(&more).unwrap().len(), 64, "duplicates count once");
        more.push("n64".into());
        assert_eq!(comm_keys(&more), Err(CommError::TooMany(65)));
    }
}
