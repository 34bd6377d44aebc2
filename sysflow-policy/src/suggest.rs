//! "Did you mean …?": the closest name by edit distance.

/// The candidate closest to `name`, if it is close enough to be a likely typo
/// (at most a third of the name's length, and at least one edit, away).
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).clamp(1, 4);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let d = strsim::levenshtein(name, c);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        assert_eq!(
            closest("sf.prog.args", ["sf.proc.args", "sf.proc.exe"]),
            Some("sf.proc.args")
        );
        assert_eq!(closest("contans", ["contains", "in"]), Some("contains"));
        assert_eq!(closest("zzz", ["contains", "in"]), None);
    }
}
