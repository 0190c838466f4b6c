//! What every page shares: the header (navigation, the search box that takes a trace id or
//! a log query, the time range) and helpers to build links that keep the view state.

use super::time_range::{RELATIVE, TimeRange};

/// Header state of a page.
#[derive(Debug, Clone)]
pub(crate) struct Chrome {
    /// Navigation entry to mark current: `traces`, `logs`, `services`.
    pub(crate) active: &'static str,
    /// Text of the header search box.
    pub(crate) search: String,
    /// The range as hidden fields of the header search (name, value).
    pub(crate) range_fields: Vec<(&'static str, String)>,
    /// This browser's CSRF token, sent back by htmx on every request (`hx-headers`).
    pub(crate) csrf_token: String,
}

impl Chrome {
    pub(crate) fn new(active: &'static str, search: &str) -> Chrome {
        Chrome {
            active,
            search: search.to_string(),
            range_fields: Vec::new(),
            csrf_token: crate::csrf::current(),
        }
    }

    pub(crate) fn with_range(mut self, range: &TimeRange) -> Chrome {
        self.range_fields = range.params();
        self
    }

    /// `aria-current` for a navigation entry.
    pub(crate) fn current(&self, entry: &str) -> &'static str {
        if self.active == entry {
            "page"
        } else {
            "false"
        }
    }
}

/// One choice of the range picker's select.
pub(crate) struct RangeChoice {
    pub(crate) value: &'static str,
    pub(crate) label: &'static str,
    pub(crate) selected: bool,
}

/// The choices of the range picker, with the current one selected.
pub(crate) fn range_choices(range: &TimeRange) -> Vec<RangeChoice> {
    let selected = range.selected();
    let mut choices: Vec<RangeChoice> = RELATIVE
        .iter()
        .map(|(value, label, _)| RangeChoice {
            value,
            label,
            selected: *value == selected,
        })
        .collect();
    choices.push(RangeChoice {
        value: "custom",
        label: "Absolute (from / to below)",
        selected: selected == "custom",
    });
    choices
}

/// `path?k=v&…`, every value percent-encoded.
pub(crate) fn link(path: &str, params: &[(&str, String)]) -> String {
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| (*key, value.as_str()))
        .collect();
    if pairs.is_empty() {
        return path.to_string();
    }
    match serde_urlencoded::to_string(&pairs) {
        Ok(query) => format!("{path}?{query}"),
        Err(_) => path.to_string(),
    }
}

/// A path segment, percent-encoded (service names may hold anything).
pub(crate) fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// An `href` only for http(s) URLs; anything else (`javascript:`, `data:`) is shown as text.
pub(crate) fn safe_href(url: &str) -> Option<&str> {
    let lower = url.trim_start().to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://")).then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_encode_values() {
        assert_eq!(
            link(
                "/logs",
                &[("q", "a&b c".to_string()), ("empty", String::new())]
            ),
            "/logs?q=a%26b+c"
        );
        assert_eq!(link("/logs", &[]), "/logs");
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn only_http_links() {
        assert!(safe_href("https://example.com").is_some());
        assert!(safe_href("javascript:alert(1)").is_none());
        assert!(safe_href(" JAVASCRIPT:alert(1)").is_none());
        assert!(safe_href("data:text/html,x").is_none());
    }
}
