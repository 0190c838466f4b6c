//! Attribute filters of the trace search UI (`=`, `!=`, regex, exists, not exists), turned
//! into SQL conditions over a span's own and its resource's attributes.

use crate::error::QueryError;
use crate::sql::literal;

/// Longest regex accepted in a filter (shared/RELIABILITY.md §5, "Regex and parsers").
pub const MAX_REGEX_BYTES: usize = 1024;

/// How a filter compares an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    /// The attribute has this value (as text).
    Eq,
    /// The attribute is missing or has another value.
    Ne,
    /// The attribute's text matches this regex (unanchored).
    Regex,
    /// The attribute is present.
    Exists,
    /// The attribute is absent.
    NotExists,
}

impl FilterOp {
    /// The operator as it appears in URLs (`eq`, `ne`, `re`, `ex`, `nex`).
    pub fn as_str(self) -> &'static str {
        match self {
            FilterOp::Eq => "eq",
            FilterOp::Ne => "ne",
            FilterOp::Regex => "re",
            FilterOp::Exists => "ex",
            FilterOp::NotExists => "nex",
        }
    }

    /// Inverse of [`FilterOp::as_str`].
    pub fn parse(text: &str) -> Option<FilterOp> {
        match text {
            "eq" => Some(FilterOp::Eq),
            "ne" => Some(FilterOp::Ne),
            "re" => Some(FilterOp::Regex),
            "ex" => Some(FilterOp::Exists),
            "nex" => Some(FilterOp::NotExists),
            _ => None,
        }
    }

    /// Whether the operator compares against a value.
    pub fn takes_value(self) -> bool {
        matches!(self, FilterOp::Eq | FilterOp::Ne | FilterOp::Regex)
    }
}

/// One attribute filter on the matching span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrFilter {
    /// Attribute key (span or resource attribute).
    pub key: String,
    /// Comparison.
    pub op: FilterOp,
    /// Value or regex; ignored by `Exists` and `NotExists`.
    pub value: String,
}

impl AttrFilter {
    /// The SQL condition; a bad regex is a 400, not a failed query.
    pub(crate) fn condition(&self) -> Result<String, QueryError> {
        let key = literal(&self.key);
        let either = format!("coalesce(attributes[{key}], resource_attributes[{key}])");
        let value = literal(&self.value);
        Ok(match self.op {
            FilterOp::Eq => format!("({either} = {value})"),
            FilterOp::Ne => format!("({either} IS NULL OR {either} <> {value})"),
            FilterOp::Regex => {
                check_regex(&self.key, &self.value)?;
                format!("({either} IS NOT NULL AND regexp_like({either}, {value}))")
            }
            FilterOp::Exists => format!("({either} IS NOT NULL)"),
            FilterOp::NotExists => format!("({either} IS NULL)"),
        })
    }
}

/// Refuses a regex that is too long, too large compiled or malformed, with a message
/// naming the attribute (shared/RELIABILITY.md §5: 1 KiB, 1 MiB program, 8 MiB DFA, nesting 64).
fn check_regex(key: &str, pattern: &str) -> Result<(), QueryError> {
    if pattern.len() > MAX_REGEX_BYTES {
        return Err(QueryError::InvalidQuery(format!(
            "regex for {key} is {} bytes; the limit is {MAX_REGEX_BYTES}",
            pattern.len()
        )));
    }
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .dfa_size_limit(8 << 20)
        .nest_limit(64)
        .build()
        .map(|_| ())
        .map_err(|err| QueryError::InvalidQuery(format!("invalid regex for {key}: {err}")))
}

/// The filters joined with AND (`any` false) or OR (`any` true), or `None` when empty.
pub(crate) fn combined(filters: &[AttrFilter], any: bool) -> Result<Option<String>, QueryError> {
    if filters.is_empty() {
        return Ok(None);
    }
    let conditions = filters
        .iter()
        .map(AttrFilter::condition)
        .collect::<Result<Vec<_>, _>>()?;
    let joiner = if any { " OR " } else { " AND " };
    Ok(Some(format!("({})", conditions.join(joiner))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(key: &str, op: FilterOp, value: &str) -> AttrFilter {
        AttrFilter {
            key: key.to_string(),
            op,
            value: value.to_string(),
        }
    }

    #[test]
    fn filters_quote_keys_and_values() {
        let eq = filter("k'", FilterOp::Eq, "v'").condition().unwrap();
        assert_eq!(
            eq,
            "(coalesce(attributes['k'''], resource_attributes['k''']) = 'v''')"
        );
        let joined = combined(
            &[
                filter("a", FilterOp::Exists, ""),
                filter("b", FilterOp::NotExists, ""),
            ],
            true,
        )
        .unwrap()
        .unwrap();
        assert!(joined.contains(" OR "), "{joined}");
        assert_eq!(combined(&[], false).unwrap(), None);
    }

    #[test]
    fn bad_and_long_regexes_are_refused() {
        let long = "a".repeat(MAX_REGEX_BYTES + 1);
        for pattern in [long.as_str(), "(unclosed", "(x{1000}){1000}"] {
            assert!(
                matches!(
                    filter("k", FilterOp::Regex, pattern).condition(),
                    Err(QueryError::InvalidQuery(_))
                ),
                "{pattern}"
            );
        }
        assert!(
            filter("k", FilterOp::Regex, "^GET /items/[0-9]+$")
                .condition()
                .is_ok()
        );
    }

    #[test]
    fn ops_round_trip() {
        for op in [
            FilterOp::Eq,
            FilterOp::Ne,
            FilterOp::Regex,
            FilterOp::Exists,
            FilterOp::NotExists,
        ] {
            assert_eq!(FilterOp::parse(op.as_str()), Some(op));
        }
    }
}
