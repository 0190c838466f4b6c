//! The time range every page takes from its URL: relative (`range=1h`) or absolute
//! (`start=2026-11-21T10:00&end=2026-11-21T11:00`, UTC, or epoch numbers in any unit).

use std::time::{SystemTime, UNIX_EPOCH};

use periscope_query::TimeWindow;

use super::format::{datetime_local, parse_datetime};
use super::page_error::PageError;
use crate::params::parse_time_ns;

/// Relative ranges offered by the picker: (URL value, label, ns).
pub(crate) const RELATIVE: [(&str, &str, i64); 7] = [
    ("5m", "Last 5 minutes", 300_000_000_000),
    ("15m", "Last 15 minutes", 900_000_000_000),
    ("1h", "Last hour", 3_600_000_000_000),
    ("6h", "Last 6 hours", 21_600_000_000_000),
    ("24h", "Last 24 hours", 86_400_000_000_000),
    ("7d", "Last 7 days", 604_800_000_000_000),
    ("30d", "Last 30 days", 2_592_000_000_000_000),
];

/// Default when the URL names no range.
pub(crate) const DEFAULT_RANGE: &str = "1h";

/// A resolved range plus how the URL spelled it.
#[derive(Debug, Clone)]
pub(crate) struct TimeRange {
    /// First ns included.
    pub(crate) start_ns: i64,
    /// Last ns included.
    pub(crate) end_ns: i64,
    /// `Some("1h")` for a relative range; `None` for an absolute one.
    pub(crate) relative: Option<&'static str>,
}

pub(crate) fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as i64)
}

fn absolute(name: &str, text: &str) -> Result<i64, PageError> {
    if let Some(ns) = parse_datetime(text) {
        return Ok(ns);
    }
    parse_time_ns(name, text).map_err(|_| {
        PageError::bad_request(format!(
            "{name} must be a date and time like 2026-11-21T10:00 (UTC) or an epoch number, got {text:?}"
        ))
    })
}

impl TimeRange {
    /// From the `range`, `start` and `end` query parameters. An absolute `start` wins over
    /// `range`; a missing `end` means now.
    pub(crate) fn from_params(
        range: Option<&str>,
        start: Option<&str>,
        end: Option<&str>,
    ) -> Result<TimeRange, PageError> {
        let now = now_ns();
        let start = start.map(str::trim).filter(|text| !text.is_empty());
        let end = end.map(str::trim).filter(|text| !text.is_empty());
        let range = range.map(str::trim).filter(|text| !text.is_empty());
        if let Some(start_text) = start
            && range.is_none_or(|value| value == "custom")
        {
            let start_ns = absolute("start", start_text)?;
            let end_ns = match end {
                Some(text) => absolute("end", text)?,
                None => now,
            };
            if end_ns <= start_ns {
                return Err(PageError::bad_request("end must be after start"));
            }
            return Ok(TimeRange {
                start_ns,
                end_ns,
                relative: None,
            });
        }
        let wanted = range.unwrap_or(DEFAULT_RANGE);
        let Some(&(name, _, length)) = RELATIVE.iter().find(|(name, _, _)| *name == wanted) else {
            let known: Vec<&str> = RELATIVE.iter().map(|(name, _, _)| *name).collect();
            return Err(PageError::bad_request(format!(
                "range must be one of {}, got {wanted:?}",
                known.join(", ")
            )));
        };
        Ok(TimeRange {
            start_ns: now - length,
            end_ns: now,
            relative: Some(name),
        })
    }

    /// An absolute range (zooming in on a chart).
    pub(crate) fn absolute(start_ns: i64, end_ns: i64) -> TimeRange {
        TimeRange {
            start_ns,
            end_ns: end_ns.max(start_ns + 1),
            relative: None,
        }
    }

    pub(crate) fn window(&self) -> TimeWindow {
        TimeWindow {
            start_ns: self.start_ns,
            end_ns: self.end_ns,
        }
    }

    pub(crate) fn len_ns(&self) -> i64 {
        (self.end_ns - self.start_ns).max(1)
    }

    /// The query parameters that reproduce this range in a link.
    pub(crate) fn params(&self) -> Vec<(&'static str, String)> {
        match self.relative {
            Some(name) => vec![("range", name.to_string())],
            None => vec![
                ("range", "custom".to_string()),
                ("start", datetime_local(self.start_ns)),
                ("end", datetime_local(self.end_ns)),
            ],
        }
    }

    /// The selected value of the picker's select.
    pub(crate) fn selected(&self) -> &'static str {
        self.relative.unwrap_or("custom")
    }

    /// Values for the picker's absolute inputs.
    pub(crate) fn start_input(&self) -> String {
        datetime_local(self.start_ns)
    }

    pub(crate) fn end_input(&self) -> String {
        datetime_local(self.end_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_and_absolute_ranges() {
        let default = TimeRange::from_params(None, None, None).unwrap();
        assert_eq!(default.relative, Some("1h"));
        assert_eq!(default.len_ns(), 3_600_000_000_000);
        let absolute = TimeRange::from_params(
            Some("custom"),
            Some("2026-11-21T10:00"),
            Some("2026-11-21T11:00:30"),
        )
        .unwrap();
        assert_eq!(absolute.relative, None);
        assert_eq!(absolute.len_ns(), 3_630_000_000_000);
        assert_eq!(
            absolute.params()[1],
            ("start", "2026-11-21T10:00:00".to_string())
        );
        assert!(TimeRange::from_params(Some("3y"), None, None).is_err());
        assert!(
            TimeRange::from_params(None, Some("2026-11-21T11:00"), Some("2026-11-21T10:00"))
                .is_err()
        );
    }
}
