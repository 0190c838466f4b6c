//! Timestamps: RFC 3339 text and epoch numbers → nanoseconds since the epoch.

use serde_json::Value;

use crate::config::TimestampFormat;

/// Reads a timestamp field; `None` when it is not a timestamp in the given format.
pub(crate) fn parse(value: &Value, format: TimestampFormat) -> Option<u64> {
    match format {
        TimestampFormat::Auto => match value {
            Value::Number(_) => epoch_auto(value.as_f64()?),
            Value::String(text) => rfc3339(text).or_else(|| epoch_auto(text.trim().parse().ok()?)),
            _ => None,
        },
        TimestampFormat::Rfc3339 => rfc3339(value.as_str()?),
        TimestampFormat::UnixS => scaled(value, 1e9),
        TimestampFormat::UnixMs => scaled(value, 1e6),
        TimestampFormat::UnixUs => scaled(value, 1e3),
        TimestampFormat::UnixNs => match value {
            Value::String(text) => text.trim().parse().ok(),
            _ => value.as_u64().or_else(|| to_nanos(value.as_f64()?, 1.0)),
        },
    }
}

fn scaled(value: &Value, nanos_per_unit: f64) -> Option<u64> {
    let number = match value {
        Value::String(text) => text.trim().parse().ok()?,
        _ => value.as_f64()?,
    };
    to_nanos(number, nanos_per_unit)
}

/// Seconds, milliseconds, microseconds or nanoseconds, told apart by magnitude (years
/// 1973..5138 in any of the units).
fn epoch_auto(number: f64) -> Option<u64> {
    let magnitude = number.abs();
    let unit = if magnitude < 1e11 {
        1e9
    } else if magnitude < 1e14 {
        1e6
    } else if magnitude < 1e17 {
        1e3
    } else {
        1.0
    };
    to_nanos(number, unit)
}

fn to_nanos(number: f64, nanos_per_unit: f64) -> Option<u64> {
    let nanos = number * nanos_per_unit;
    (nanos.is_finite() && nanos > 0.0 && nanos < u64::MAX as f64).then_some(nanos as u64)
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.fraction](Z|±HH:MM|±HHMM)?`; no offset means UTC.
pub(crate) fn rfc3339(text: &str) -> Option<u64> {
    let b = text.trim().as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = b.get(range)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(digits).ok()?.parse().ok()
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut nanos: i64 = 0;
    if b.get(i) == Some(&b'.') || b.get(i) == Some(&b',') {
        i += 1;
        let mut scale = 100_000_000;
        let start = i;
        while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
            nanos += i64::from(d - b'0') * scale;
            scale /= 10;
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset_secs = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) => {
            let rest = &b[i + 1..];
            let (h, m) = match rest.len() {
                5 if rest[2] == b':' => (num(i + 1..i + 3)?, num(i + 4..i + 6)?),
                4 => (num(i + 1..i + 3)?, num(i + 3..i + 5)?),
                2 => (num(i + 1..i + 3)?, 0),
                _ => return None,
            };
            let secs = h * 3600 + m * 60;
            if *sign == b'+' { secs } else { -secs }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    let total = i128::from(secs) * 1_000_000_000 + i128::from(nanos);
    u64::try_from(total).ok().filter(|n| *n > 0)
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_variants() {
        assert_eq!(rfc3339("1970-01-01T00:00:01Z"), Some(1_000_000_000));
        assert_eq!(
            rfc3339("2024-05-01T12:00:00.123Z"),
            Some(1_714_564_800_123_000_000)
        );
        assert_eq!(
            rfc3339("2024-05-01 14:00:00.123+02:00"),
            Some(1_714_564_800_123_000_000)
        );
        assert_eq!(
            rfc3339("2024-05-01T07:00:00-0500"),
            Some(1_714_564_800_000_000_000)
        );
        assert_eq!(
            rfc3339("2024-05-01T12:00:00"),
            Some(1_714_564_800_000_000_000)
        );
        assert_eq!(rfc3339("2024-13-01T12:00:00Z"), None);
        assert_eq!(rfc3339("yesterday"), None);
    }

    #[test]
    fn epoch_numbers_by_magnitude_and_format() {
        let want = 1_714_564_800_000_000_000u64;
        for value in [
            serde_json::json!(1_714_564_800),
            serde_json::json!(1_714_564_800_000u64),
            serde_json::json!(1_714_564_800_000_000u64),
            serde_json::json!(want),
            serde_json::json!("1714564800"),
        ] {
            assert_eq!(parse(&value, TimestampFormat::Auto), Some(want), "{value}");
        }
        assert_eq!(
            parse(&serde_json::json!(1_714_564_800.5), TimestampFormat::UnixS),
            Some(want + 500_000_000)
        );
        assert_eq!(
            parse(&serde_json::json!("1714564800000"), TimestampFormat::UnixMs),
            Some(want)
        );
        assert_eq!(parse(&serde_json::json!(true), TimestampFormat::Auto), None);
    }
}
