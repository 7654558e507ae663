//! Dates as upstream gotd prints them, in UTC: `Fri Dec  4 21:25:40 2026 UTC`
//! for full entries and `2026-12-04` for one-line summaries.

/// (year, month 1–12, day 1–31) of a day count since 1970-01-01, by the
/// usual era arithmetic of the proleptic Gregorian calendar.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `%a %b %e %H:%M:%S %Y UTC`.
pub fn long(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02} {} UTC",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        d,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        y
    )
}

/// `%Y-%m-%d`.
pub fn short(secs: i64) -> String {
    let (y, m, d) = civil(secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// RFC 5322 date for a mail header: `Fri, 04 Dec 2026 21:25:40 +0000`.
pub fn rfc5322(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        DAYS[days.rem_euclid(7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(0, "Thu Jan  1 00:00:00 1970 UTC", "1970-01-01")]
    #[case(951_782_400, "Tue Feb 29 00:00:00 2000 UTC", "2000-02-29")]
    #[case(1_796_420_740, "Fri Dec  4 21:45:40 2026 UTC", "2026-12-04")]
    #[case(-1, "Wed Dec 31 23:59:59 1969 UTC", "1969-12-31")]
    fn formats(#[case] secs: i64, #[case] want_long: &str, #[case] want_short: &str) {
        assert_eq!(long(secs), want_long);
        assert_eq!(short(secs), want_short);
    }

    #[test]
    fn mail_date() {
        assert_eq!(rfc5322(1_796_420_740), "Fri, 04 Dec 2026 21:45:40 +0000");
    }
}
