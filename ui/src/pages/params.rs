//! Query strings of pages, read as a list of pairs so that repeated keys (one per
//! attribute filter) survive.

use axum::extract::RawQuery;

use super::page_error::PageError;
use super::time_range::TimeRange;

/// The decoded pairs of a page's query string.
#[derive(Debug, Default)]
pub(crate) struct PageParams {
    pairs: Vec<(String, String)>,
}

impl PageParams {
    pub(crate) fn parse(raw: RawQuery) -> Result<PageParams, PageError> {
        let Some(text) = raw.0 else {
            return Ok(PageParams::default());
        };
        let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(&text)
            .map_err(|err| PageError::bad_request(format!("unreadable query string: {err}")))?;
        Ok(PageParams { pairs })
    }

    /// The first value of `name`, trimmed, if not empty.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
    }

    /// Every value of `name`, in order (empty ones included, to keep rows aligned).
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// The first value of `name` as text, empty when absent.
    pub(crate) fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_string()
    }

    pub(crate) fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some("1" | "on" | "true"))
    }

    pub(crate) fn range(&self) -> Result<TimeRange, PageError> {
        TimeRange::from_params(self.get("range"), self.get("start"), self.get("end"))
    }

    /// A positive number no larger than `max`, or `default`.
    pub(crate) fn limit(&self, name: &str, default: usize, max: usize) -> Result<usize, PageError> {
        match self.get(name) {
            None => Ok(default),
            Some(text) => match text.parse::<usize>() {
                Ok(value) if (1..=max).contains(&value) => Ok(value),
                _ => Err(PageError::bad_request(format!(
                    "{name} must be a number from 1 to {max}, got {text:?}"
                ))),
            },
        }
    }
}
