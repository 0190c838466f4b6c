//! Human-readable times, durations and counts for pages. Times are shown in UTC, which
//! every server and log line agrees on.

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let year = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if month <= 2 { year + 1 } else { year }, month, day)
}

/// (year, month, day) → days since 1970-01-01.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(month);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

const NS_PER_SEC: i64 = 1_000_000_000;

fn split(ns: i64) -> (i64, u32, u32, i64, i64, i64, i64) {
    let secs = ns.div_euclid(NS_PER_SEC);
    let nanos = ns.rem_euclid(NS_PER_SEC);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    (
        year,
        month,
        day,
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        nanos,
    )
}

/// `2026-11-21 22:55:48.123` (UTC).
pub(crate) fn time(ns: i64) -> String {
    let (year, month, day, hour, minute, second, nanos) = split(ns);
    format!(
        "{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}.{:03}",
        nanos / 1_000_000
    )
}

/// `22:55:48.123` (UTC), for rows that share a date.
pub(crate) fn clock(ns: i64) -> String {
    let (_, _, _, hour, minute, second, nanos) = split(ns);
    format!("{hour:02}:{minute:02}:{second:02}.{:03}", nanos / 1_000_000)
}

/// `2026-11-21T22:55:48`, the value an `<input type="datetime-local" step="1">` takes.
pub(crate) fn datetime_local(ns: i64) -> String {
    let (year, month, day, hour, minute, second, _) = split(ns);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}")
}

/// Parses `YYYY-MM-DDTHH:MM[:SS[.fff]]` (a space may replace the `T`) as UTC.
pub(crate) fn parse_datetime(text: &str) -> Option<i64> {
    let text = text.trim().trim_end_matches('Z');
    let (date, clock) = text.split_once(['T', ' '])?;
    let mut date_parts = date.split('-');
    let year: i64 = date_parts.next()?.parse().ok()?;
    let month: u32 = date_parts.next()?.parse().ok()?;
    let day: u32 = date_parts.next()?.parse().ok()?;
    if date_parts.next().is_some() || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut clock_parts = clock.split(':');
    let hour: i64 = clock_parts.next()?.parse().ok()?;
    let minute: i64 = clock_parts.next()?.parse().ok()?;
    let seconds: f64 = match clock_parts.next() {
        Some(text) => text.parse().ok()?,
        None => 0.0,
    };
    if clock_parts.next().is_some() || hour > 23 || minute > 59 || !(0.0..60.0).contains(&seconds) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let whole = (days * 86_400 + hour * 3600 + minute * 60) * NS_PER_SEC;
    Some(whole + (seconds * 1e9).round() as i64)
}

/// `1.23 s`, `45.6 ms`, `789 µs`, `12 ns`.
pub(crate) fn duration(ns: f64) -> String {
    let ns = ns.max(0.0);
    if ns >= 60e9 {
        let minutes = (ns / 60e9).floor();
        format!("{minutes:.0} min {:.0} s", (ns - minutes * 60e9) / 1e9)
    } else if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.1} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.0} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// A percentage with one decimal, `0` when there is no denominator.
pub(crate) fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "0%".to_string();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

/// A rate per second with a sensible number of digits.
pub(crate) fn rate(count: u64, window_ns: i64) -> String {
    let per_sec = count as f64 / (window_ns.max(1) as f64 / 1e9);
    if per_sec >= 100.0 {
        format!("{per_sec:.0}/s")
    } else if per_sec >= 1.0 {
        format!("{per_sec:.1}/s")
    } else {
        format!("{:.1}/min", per_sec * 60.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        let ns = 1_763_765_748_123_000_000;
        assert_eq!(time(ns), "2025-11-21 22:55:48.123");
        assert_eq!(datetime_local(ns), "2025-11-21T22:55:48");
        assert_eq!(
            parse_datetime("2025-11-21T22:55:48.123"),
            Some(ns),
            "fractional seconds"
        );
        assert_eq!(
            parse_datetime("2025-11-21 22:55"),
            Some(ns - 48_123_000_000)
        );
        assert_eq!(parse_datetime("1970-01-01T00:00"), Some(0));
        assert_eq!(parse_datetime("2025-13-01T00:00"), None);
        assert_eq!(parse_datetime("yesterday"), None);
    }

    #[test]
    fn durations_pick_a_unit() {
        assert_eq!(duration(12.0), "12 ns");
        assert_eq!(duration(789_000.0), "789 µs");
        assert_eq!(duration(45_600_000.0), "45.6 ms");
        assert_eq!(duration(1_230_000_000.0), "1.23 s");
        assert_eq!(duration(90e9), "1 min 30 s");
    }

    #[test]
    fn rates_and_percentages() {
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(1, 0), "0%");
        assert_eq!(rate(600, 60_000_000_000), "10.0/s");
        assert_eq!(rate(6, 60_000_000_000), "6.0/min");
    }
}
