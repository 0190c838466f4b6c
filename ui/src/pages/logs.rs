//! Log search: the query box (the API's Lucene-like syntax, with help on the page), a hits
//! histogram over time whose bars zoom in, facet counts for service, severity and host, and
//! the newest matching records, each expandable to every field.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use periscope_query::{LogHits, LogQuery, LogRow, QueryError};

use super::charts::{Histogram, histogram};
use super::layout::{Chrome, RangeChoice, link, range_choices};
use super::logs_view::{LogLine, log_lines};
use super::page_error::PageError;
use super::params::PageParams;
use super::summary::service_class;
use super::time_range::TimeRange;
use crate::state::UiState;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;
/// Newest matches the facet values are picked from (their counts are exact).
const FACET_SAMPLE: usize = 1000;
const HISTOGRAM_BUCKETS: usize = 60;
const FACET_VALUES: usize = 8;

/// One value of a facet with its count and the query that narrows to it.
pub(crate) struct FacetValue {
    pub(crate) label: String,
    pub(crate) count: u64,
    pub(crate) href: String,
    pub(crate) class: String,
}

pub(crate) struct Facet {
    pub(crate) title: &'static str,
    pub(crate) values: Vec<FacetValue>,
}

#[derive(Template, WebTemplate)]
#[template(path = "logs.html")]
pub(crate) struct LogsPage {
    chrome: Chrome,
    range: TimeRange,
    range_choices: Vec<RangeChoice>,
    query: String,
    limit: usize,
    total: u64,
    sampled: usize,
    histogram: Histogram,
    facets: Vec<Facet>,
    logs: Vec<LogLine>,
    export_ndjson: String,
    export_csv: String,
    tail_href: String,
    no_data: bool,
    /// Why the query was refused, shown above the (empty) results.
    error: Option<String>,
}

/// A query term matching `value` exactly as a phrase: quotes and backslashes escaped.
pub(crate) fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for character in value.chars() {
        if matches!(character, '"' | '\\') {
            out.push('\\');
        }
        out.push(character);
    }
    out.push('"');
    out
}

/// `query AND clause`, or `clause` alone when the query is empty.
pub(crate) fn narrowed(query: &str, clause: &str) -> String {
    let query = query.trim();
    if query.is_empty() || query == "*" {
        clause.to_string()
    } else {
        format!("({query}) AND {clause}")
    }
}

fn host_of(row: &LogRow) -> Option<String> {
    row.origin
        .resource_attributes
        .iter()
        .find(|(key, _)| key == "host.name")
        .map(|(_, value)| value.to_display_string())
}

/// The most frequent values among the sampled matches: the candidates whose exact counts
/// the index then gives.
fn candidates(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for value in values {
        *counts.entry(value).or_default() += 1;
    }
    let mut sorted: Vec<(String, usize)> = counts.into_iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    sorted
        .into_iter()
        .take(FACET_VALUES)
        .map(|(value, _)| value)
        .collect()
}

/// A facet: `field`, the candidate values, the query narrowed to each.
struct FacetSpec {
    title: &'static str,
    field: &'static str,
    colour: bool,
    values: Vec<String>,
}

impl FacetSpec {
    fn clause(&self, value: &str) -> String {
        format!("{}:{}", self.field, quoted(value))
    }
}

/// Exact counts for every candidate of every facet, in one blocking pass.
async fn facets(
    state: &UiState,
    query: &str,
    range: &TimeRange,
    specs: Vec<FacetSpec>,
    link_for: &(dyn Fn(String) -> String + Sync),
) -> Result<Vec<Facet>, PageError> {
    let queries: Vec<String> = specs
        .iter()
        .flat_map(|spec| {
            spec.values
                .iter()
                .map(|value| narrowed(query, &spec.clause(value)))
        })
        .collect();
    let mut counts = state
        .engine
        .count_logs(queries, range.window())
        .await?
        .into_iter();
    let mut out = Vec::new();
    for spec in specs {
        let mut values: Vec<FacetValue> = spec
            .values
            .iter()
            .map(|label| FacetValue {
                href: link_for(spec.clause(label)),
                class: if spec.colour {
                    service_class(label)
                } else {
                    String::new()
                },
                count: counts.next().unwrap_or(0),
                label: label.clone(),
            })
            .filter(|value| value.count > 0)
            .collect();
        values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.label.cmp(&b.label)));
        out.push(Facet {
            title: spec.title,
            values,
        });
    }
    Ok(out)
}

/// `GET /logs?q=…&range=…&limit=…`.
pub(crate) async fn logs_page(
    State(state): State<UiState>,
    raw: RawQuery,
) -> Result<(StatusCode, LogsPage), PageError> {
    let params = PageParams::parse(raw)?;
    let range = params.range()?;
    let query = params.text("q");
    let limit = params.limit("limit", DEFAULT_LIMIT, MAX_LIMIT)?;
    let searched = state
        .engine
        .search_logs(LogQuery {
            query: query.clone(),
            start_ns: Some(range.start_ns),
            end_ns: Some(range.end_ns),
            limit: limit.max(FACET_SAMPLE),
        })
        .await;
    // A query the parser refuses keeps the page (and the query box) with the message.
    let (hits, error) = match searched {
        Ok(hits) => (hits, None),
        Err(QueryError::InvalidQuery(message)) => (LogHits::default(), Some(message)),
        Err(other) => return Err(other.into()),
    };
    let counts = if error.is_some() {
        vec![0; HISTOGRAM_BUCKETS]
    } else {
        state
            .engine
            .log_histogram(&query, range.window(), HISTOGRAM_BUCKETS)
            .await?
    };
    let page_link = |query_text: &str, range: &TimeRange| {
        let mut pairs = vec![("q", query_text.to_string())];
        pairs.extend(range.params());
        if limit != DEFAULT_LIMIT {
            pairs.push(("limit", limit.to_string()));
        }
        link("/logs", &pairs)
    };
    let chart = histogram(&counts, range.start_ns, range.end_ns, |start, end| {
        page_link(&query, &TimeRange::absolute(start, end))
    });
    let narrow = |clause: String| page_link(&narrowed(&query, &clause), &range);
    let specs = vec![
        FacetSpec {
            title: "Service",
            field: "service",
            colour: true,
            values: candidates(hits.rows.iter().map(|row| row.origin.service_name.clone())),
        },
        FacetSpec {
            title: "Severity",
            field: "severity",
            colour: false,
            values: candidates(
                hits.rows
                    .iter()
                    .filter(|row| !row.severity_text.is_empty())
                    .map(|row| row.severity_text.to_ascii_uppercase()),
            ),
        },
        FacetSpec {
            title: "Host",
            field: "resource.host.name",
            colour: false,
            values: candidates(hits.rows.iter().filter_map(host_of)),
        },
    ];
    let facets = facets(&state, &query, &range, specs, &narrow).await?;
    let range_params = range.params();
    let shown = &hits.rows[..hits.rows.len().min(limit)];
    let mut export = vec![("q", query.clone())];
    export.extend(range_params.iter().cloned());
    let mut ndjson = export.clone();
    ndjson.push(("format", "ndjson".to_string()));
    let mut csv = export.clone();
    csv.push(("format", "csv".to_string()));
    let no_data = hits.total == 0 && query.is_empty() && state.engine.services().await?.is_empty();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = LogsPage {
        chrome: Chrome::new("logs", &query).with_range(&range),
        range_choices: range_choices(&range),
        total: hits.total,
        sampled: hits.rows.len(),
        histogram: chart,
        facets,
        logs: log_lines(shown, &range_params),
        export_ndjson: link("/logs/export", &ndjson),
        export_csv: link("/logs/export", &csv),
        tail_href: link("/logs/tail", &[("q", query.clone())]),
        query,
        limit,
        no_data,
        error,
        range,
    };
    Ok((status, page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facet_clauses_quote_and_combine() {
        assert_eq!(quoted(r#"a "b" \c"#), r#""a \"b\" \\c""#);
        assert_eq!(narrowed("", "service:\"x\""), "service:\"x\"");
        assert_eq!(
            narrowed("error OR warn", "service:\"x\""),
            "(error OR warn) AND service:\"x\""
        );
    }
}
