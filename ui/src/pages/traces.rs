//! Trace search: service and operation (filled from the data), attribute filters, duration
//! bounds, errors only, limit; a results table and a duration-over-time scatter.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use periscope_query::{QueryError, TraceSearch};

use super::charts::{Sample, Scatter, scatter};
use super::filter_form::{Choice, FilterRow, choices, filter_rows, parse_filters};
use super::format;
use super::layout::{Chrome, RangeChoice, link, range_choices};
use super::page_error::PageError;
use super::params::PageParams;
use super::summary::TraceSummary;
use super::time_range::TimeRange;
use crate::params::parse_duration_ns;
use crate::state::UiState;

const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 200;

/// A row of the results table.
pub(crate) struct ResultRow {
    pub(crate) summary: TraceSummary,
    pub(crate) href: String,
    pub(crate) start: String,
    pub(crate) duration: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "traces.html")]
pub(crate) struct TracesPage {
    chrome: Chrome,
    range: TimeRange,
    range_choices: Vec<RangeChoice>,
    services: Vec<Choice>,
    operations: Vec<Choice>,
    filters: Vec<FilterRow>,
    any_filter: bool,
    min_duration: String,
    max_duration: String,
    errors_only: bool,
    limit: usize,
    results: Vec<ResultRow>,
    scatter: Scatter,
    no_data: bool,
    logs_href: String,
    /// Filters that could not be used, shown above the (empty) results.
    errors: Vec<String>,
}

/// The scatter's time axis: the results' extent with a margin (within the range), so a
/// burst of recent traces is not squeezed against the right edge of a long range.
fn scatter_domain(samples: &[Sample], range: &TimeRange) -> (i64, i64) {
    let starts = samples.iter().map(|sample| sample.start_ns);
    let (Some(first), Some(last)) = (starts.clone().min(), starts.max()) else {
        return (range.start_ns, range.end_ns);
    };
    let margin = ((last - first) / 20).max(1_000_000_000);
    (
        (first - margin).max(range.start_ns),
        (last + margin).min(range.end_ns).max(first + 1),
    )
}

/// A duration bound; a malformed one is reported on the page and ignored.
fn duration_param(params: &PageParams, name: &str, errors: &mut Vec<String>) -> Option<i64> {
    let text = params.get(name)?;
    match parse_duration_ns(name, text) {
        Ok(ns) => Some(ns),
        Err(err) => {
            errors.push(err.message().to_string());
            None
        }
    }
}

/// `GET /` and `GET /traces`.
pub(crate) async fn traces_page(
    State(state): State<UiState>,
    raw: RawQuery,
) -> Result<(StatusCode, TracesPage), PageError> {
    let params = PageParams::parse(raw)?;
    let range = params.range()?;
    let mut errors = Vec::new();
    let service = params.text("service");
    let operation = params.text("operation");
    let filters = parse_filters(&params)?;
    let any_filter = params.get("match") == Some("any");
    let errors_only = params.flag("errors");
    let limit = params.limit("limit", DEFAULT_LIMIT, MAX_LIMIT)?;
    let search = TraceSearch {
        service: (!service.is_empty()).then(|| service.clone()),
        operation: (!operation.is_empty()).then(|| operation.clone()),
        min_duration_ns: duration_param(&params, "min", &mut errors),
        max_duration_ns: duration_param(&params, "max", &mut errors),
        start_ns: Some(range.start_ns),
        end_ns: Some(range.end_ns),
        filters: filters.clone(),
        any_filter,
        errors_only,
        limit,
        ..TraceSearch::default()
    };
    let services = state.engine.services().await?;
    let no_data = services.is_empty();
    let operations = if service.is_empty() {
        Vec::new()
    } else {
        state.engine.operations(&service).await?
    };
    let traces = if no_data || !errors.is_empty() {
        Vec::new()
    } else {
        match state.engine.search_traces(&search).await {
            Ok(traces) => traces,
            // A bad regex, say: keep the form, say what is wrong.
            Err(QueryError::InvalidQuery(message)) => {
                errors.push(message);
                Vec::new()
            }
            Err(other) => return Err(other.into()),
        }
    };
    let range_params = range.params();
    let results: Vec<ResultRow> = traces
        .iter()
        .map(|trace| {
            let summary = TraceSummary::of(trace);
            let href = link(&format!("/trace/{}", summary.trace_id), &range_params);
            ResultRow {
                start: format::time(summary.start_ns),
                duration: format::duration(summary.duration_ns as f64),
                href,
                summary,
            }
        })
        .collect();
    let samples: Vec<Sample> = results
        .iter()
        .map(|row| Sample {
            start_ns: row.summary.start_ns,
            duration_ns: row.summary.duration_ns,
            href: row.href.clone(),
            title: format!(
                "{}: {} · {} · {} spans{}",
                row.summary.root_service,
                row.summary.root_name,
                row.duration,
                row.summary.num_spans,
                if row.summary.num_errors > 0 {
                    format!(" · {} errors", row.summary.num_errors)
                } else {
                    String::new()
                }
            ),
            error: row.summary.num_errors > 0,
            spans: row.summary.num_spans,
        })
        .collect();
    let mut logs_query = vec![(
        "q",
        if service.is_empty() {
            String::new()
        } else {
            format!("service:\"{}\"", service.replace('"', "\\\""))
        },
    )];
    logs_query.extend(range.params());
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let page = TracesPage {
        chrome: Chrome::new("traces", "").with_range(&range),
        range_choices: range_choices(&range),
        scatter: {
            let (from, to) = scatter_domain(&samples, &range);
            scatter(&samples, from, to)
        },
        services: choices(services, &service, "All services"),
        operations: choices(operations, &operation, "All operations"),
        filters: filter_rows(&filters),
        any_filter,
        min_duration: params.text("min"),
        max_duration: params.text("max"),
        errors_only,
        limit,
        results,
        no_data,
        logs_href: link("/logs", &logs_query),
        errors,
        range,
    };
    Ok((status, page))
}

#[derive(Template, WebTemplate)]
#[template(path = "operation_options.html")]
pub(crate) struct OperationOptions {
    operations: Vec<Choice>,
}

/// `GET /ui/operations?service=…`: the `<option>`s of the operation select (htmx).
pub(crate) async fn operation_options(
    State(state): State<UiState>,
    raw: RawQuery,
) -> Result<OperationOptions, PageError> {
    let params = PageParams::parse(raw)?;
    let service = params.text("service");
    let operations = if service.is_empty() {
        Vec::new()
    } else {
        state.engine.operations(&service).await?
    };
    Ok(OperationOptions {
        operations: choices(operations, "", "All operations"),
    })
}
