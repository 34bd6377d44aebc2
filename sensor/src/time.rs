//! Calendar dates of Unix times, for the formats that print them (sysprint's ISO times,
//! ECS `@timestamp`, S3 request signatures). UTC, proleptic Gregorian, no allocation.

/// A UTC date and time of day, to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    /// 1–12.
    pub month: u32,
    /// 1–31.
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl Civil {
    /// The date and time of `secs` seconds since 1970-01-01T00:00:00Z (negative: before).
    pub fn from_unix(secs: i64) -> Civil {
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400) as u32;
        Civil {
            year,
            month,
            day,
            hour: sod / 3600,
            minute: sod / 60 % 60,
            second: sod % 60,
        }
    }
}

/// Days since 1970-01-01 to (year, month, day): Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::Civil;

    fn c(year: i64, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> Civil {
        Civil {
            year,
            month,
            day,
            hour,
            minute,
            second,
        }
    }

    #[test]
    fn known_dates() {
        // Values from `date -u -d @N` (GNU coreutils).
        assert_eq!(Civil::from_unix(0), c(1970, 1, 1, 0, 0, 0));
        assert_eq!(Civil::from_unix(951_782_400), c(2000, 2, 29, 0, 0, 0));
        assert_eq!(Civil::from_unix(1_553_543_282), c(2019, 3, 25, 19, 48, 2));
        assert_eq!(Civil::from_unix(4_107_542_399), c(2100, 2, 28, 23, 59, 59));
        assert_eq!(Civil::from_unix(-1), c(1969, 12, 31, 23, 59, 59));
        assert_eq!(Civil::from_unix(-62_135_596_800), c(1, 1, 1, 0, 0, 0));
    }
}
