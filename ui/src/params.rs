//! Parsing of user-supplied ids, times and durations, in the forms Jaeger, Grafana and
//! people paste (shared/COMPAT.md §6 and §12).

use periscope_query::TraceId;

use crate::error::ApiError;

/// A trace id as typed: 32 hex, 16 hex (64-bit ids), 1–31 hex (left-padded), a W3C
/// `traceparent`, with whitespace, quotes, `0x` and UUID dashes stripped. Returns the id
/// and whether only 64 bits were given.
pub fn parse_trace_id(input: &str) -> Result<(TraceId, bool), ApiError> {
    let trimmed = input.trim().trim_matches(|c| c == '"' || c == '\'');
    let parts: Vec<&str> = trimmed.split('-').collect();
    let candidate = if parts.len() == 4 && parts[0].len() == 2 && parts[1].len() == 32 {
        // traceparent: version-traceid-spanid-flags
        if parts[0].eq_ignore_ascii_case("ff") {
            return Err(ApiError::bad_request("invalid traceparent version ff"));
        }
        parts[1].to_string()
    } else {
        let without_prefix = trimmed.strip_prefix("0x").unwrap_or(trimmed);
        without_prefix
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect()
    };
    if candidate.is_empty()
        || candidate.len() > 32
        || !candidate.chars().all(|c| c.is_ascii_hexdigit())
    {
        return Err(ApiError::bad_request(format!(
            "invalid trace id {input:?}: expected 32 or 16 hex digits or a traceparent"
        )));
    }
    let short = candidate.len() <= 16;
    let padded = format!("{candidate:0>32}").to_ascii_lowercase();
    let id = TraceId::from_hex(&padded)
        .ok_or_else(|| ApiError::bad_request(format!("invalid trace id {input:?}")))?;
    if id.0 == [0; 16] {
        return Err(ApiError::bad_request("invalid trace ID (all zeros)"));
    }
    Ok((id, short))
}

/// A time as a number in s, ms, µs or ns, told apart by magnitude (as Jaeger clients vary).
pub fn parse_time_ns(name: &str, text: &str) -> Result<i64, ApiError> {
    let value: i64 = text.trim().parse().map_err(|_| {
        ApiError::bad_request(format!(
            "{name} must be an integer epoch time, got {text:?}"
        ))
    })?;
    let magnitude = value.unsigned_abs();
    let nanos = if magnitude < 100_000_000_000 {
        value.saturating_mul(1_000_000_000)
    } else if magnitude < 100_000_000_000_000 {
        value.saturating_mul(1_000_000)
    } else if magnitude < 100_000_000_000_000_000 {
        value.saturating_mul(1_000)
    } else {
        value
    };
    Ok(nanos)
}

/// A Go duration (`100ms`, `1.5s`, `1m30s`, `250us`, `2h`) or a bare number of µs.
pub fn parse_duration_ns(name: &str, text: &str) -> Result<i64, ApiError> {
    let text = text.trim();
    if let Ok(micros) = text.parse::<i64>() {
        return Ok(micros.saturating_mul(1000));
    }
    let invalid = || {
        ApiError::bad_request(format!(
            "{name} must be a duration like 100ms or 1.5s, got {text:?}"
        ))
    };
    let mut total = 0f64;
    let mut rest = text;
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let number: f64 = rest[..number_end].parse().map_err(|_| invalid())?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(invalid()),
        };
        total += number * scale;
        rest = &rest[unit_end..];
    }
    Ok(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_in_common_forms() {
        let full = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(parse_trace_id(full).unwrap().0.to_hex(), full);
        assert_eq!(
            parse_trace_id(&full.to_uppercase()).unwrap().0.to_hex(),
            full
        );
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(parse_trace_id(parent).unwrap().0.to_hex(), full);
        let (short, is_short) = parse_trace_id("a3ce929d0e0e4736").unwrap();
        assert!(is_short);
        assert_eq!(short.to_hex(), "0000000000000000a3ce929d0e0e4736");
        assert_eq!(
            parse_trace_id("4bf92f35-77b3-4da6-a3ce-929d0e0e4736")
                .unwrap()
                .0
                .to_hex(),
            full
        );
        assert!(parse_trace_id("00000000000000000000000000000000").is_err());
        assert!(parse_trace_id("not an id").is_err());
    }

    #[test]
    fn times_by_magnitude() {
        assert_eq!(
            parse_time_ns("t", "1700000000").unwrap(),
            1_700_000_000_000_000_000
        );
        assert_eq!(
            parse_time_ns("t", "1700000000000").unwrap(),
            1_700_000_000_000_000_000
        );
        assert_eq!(
            parse_time_ns("t", "1700000000000000").unwrap(),
            1_700_000_000_000_000_000
        );
        assert_eq!(
            parse_time_ns("t", "1700000000000000000").unwrap(),
            1_700_000_000_000_000_000
        );
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration_ns("d", "100ms").unwrap(), 100_000_000);
        assert_eq!(parse_duration_ns("d", "1.2s").unwrap(), 1_200_000_000);
        assert_eq!(parse_duration_ns("d", "1m30s").unwrap(), 90_000_000_000);
        assert_eq!(parse_duration_ns("d", "250us").unwrap(), 250_000);
        assert!(parse_duration_ns("d", "fast").is_err());
    }
}
