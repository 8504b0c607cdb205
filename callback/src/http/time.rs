//! Times as the operator pages show them: UTC, to the minute or (for upload steps, which are
//! seconds apart) to the second.

pub fn utc_minute(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = mdz::dates::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// `YYYY-MM-DD HH:MM:SS`, UTC.
pub(super) fn utc_second(ms: i64) -> String {
    format!(
        "{}:{:02}",
        utc_minute(ms),
        ms.div_euclid(1000).rem_euclid(60)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc() {
        assert_eq!(utc_minute(0), "1970-01-01 00:00");
        assert_eq!(utc_minute(1_777_723_200_000), "2026-05-02 12:00");
        assert_eq!(utc_minute(951_782_400_000), "2000-02-29 00:00");
        assert_eq!(utc_second(1_777_723_205_999), "2026-05-02 12:00:05");
    }
}
