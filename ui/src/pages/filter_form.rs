//! The attribute filter rows shared by the trace search and metrics forms: key, operator and
//! value, repeated in the URL as `fk`, `fo` and `fv`, aligned by position.

use periscope_query::{AttrFilter, FilterOp};

use super::page_error::PageError;
use super::params::PageParams;

/// An `<option>`.
pub(crate) struct Choice {
    pub(crate) value: String,
    pub(crate) label: String,
    pub(crate) selected: bool,
}

/// One attribute filter row of the form.
pub(crate) struct FilterRow {
    pub(crate) key: String,
    pub(crate) value: String,
    pub(crate) ops: Vec<Choice>,
}

const OPS: [(FilterOp, &str); 5] = [
    (FilterOp::Eq, "="),
    (FilterOp::Ne, "≠"),
    (FilterOp::Regex, "matches regex"),
    (FilterOp::Exists, "exists"),
    (FilterOp::NotExists, "does not exist"),
];

pub(crate) fn filter_row(key: &str, op: FilterOp, value: &str) -> FilterRow {
    FilterRow {
        key: key.to_string(),
        value: value.to_string(),
        ops: OPS
            .iter()
            .map(|(candidate, label)| Choice {
                value: candidate.as_str().to_string(),
                label: (*label).to_string(),
                selected: *candidate == op,
            })
            .collect(),
    }
}

/// The form rows for `filters`, plus an empty one to add a filter.
pub(crate) fn filter_rows(filters: &[AttrFilter]) -> Vec<FilterRow> {
    let mut rows: Vec<FilterRow> = filters
        .iter()
        .map(|filter| filter_row(&filter.key, filter.op, &filter.value))
        .collect();
    rows.push(filter_row("", FilterOp::Eq, ""));
    rows
}

pub(crate) fn choices(values: Vec<String>, selected: &str, all_label: &str) -> Vec<Choice> {
    let mut out = vec![Choice {
        value: String::new(),
        label: all_label.to_string(),
        selected: selected.is_empty(),
    }];
    out.extend(values.into_iter().map(|value| Choice {
        selected: value == selected,
        label: value.clone(),
        value,
    }));
    out
}

/// The attribute filters of the URL (`fk`, `fo`, `fv` repeated, aligned by position).
pub(crate) fn parse_filters(params: &PageParams) -> Result<Vec<AttrFilter>, PageError> {
    let keys = params.all("fk");
    let ops = params.all("fo");
    let values = params.all("fv");
    let mut filters = Vec::new();
    for (index, key) in keys.iter().enumerate() {
        let key = key.trim();
        if key.is_empty() {
            continue;
        }
        let op_text = ops.get(index).copied().unwrap_or("eq");
        let op = FilterOp::parse(op_text).ok_or_else(|| {
            PageError::bad_request(format!("unknown filter operator {op_text:?}"))
        })?;
        filters.push(AttrFilter {
            key: key.to_string(),
            op,
            value: values.get(index).copied().unwrap_or_default().to_string(),
        });
    }
    Ok(filters)
}
