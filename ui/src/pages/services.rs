//! Services: every service with request rate, error rate and latency percentiles over the
//! range plus a sparkline, the dependency graph; and one service's page with its
//! operations and its callers and callees.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, RawQuery, State};
use periscope_query::RequestStats;

use super::charts::{Sparkline, sparkline};
use super::format;
use super::graph::{Graph, layout};
use super::layout::{Chrome, RangeChoice, link, range_choices, segment};
use super::logs::quoted;
use super::page_error::PageError;
use super::params::PageParams;
use super::summary::service_class;
use super::time_range::TimeRange;
use crate::state::UiState;

const SPARK_BUCKETS: usize = 30;

pub(crate) struct StatsRow {
    pub(crate) name: String,
    pub(crate) class: String,
    pub(crate) href: String,
    pub(crate) requests: u64,
    pub(crate) rate: String,
    pub(crate) error_rate: String,
    pub(crate) has_errors: bool,
    pub(crate) p50: String,
    pub(crate) p95: String,
    pub(crate) p99: String,
    pub(crate) spark: Option<Sparkline>,
}

fn stats_row(stats: &RequestStats, range: &TimeRange, href: String) -> StatsRow {
    StatsRow {
        name: stats.name.clone(),
        class: service_class(&stats.name),
        href,
        requests: stats.requests,
        rate: format::rate(stats.requests, range.len_ns()),
        error_rate: format::percent(stats.errors, stats.requests),
        has_errors: stats.errors > 0,
        p50: format::duration(stats.p50_ns),
        p95: format::duration(stats.p95_ns),
        p99: format::duration(stats.p99_ns),
        spark: (!stats.series.is_empty()).then(|| sparkline(&stats.series)),
    }
}

fn service_href(name: &str, range: &TimeRange) -> String {
    link(&format!("/services/{}", segment(name)), &range.params())
}

#[derive(Template, WebTemplate)]
#[template(path = "services.html")]
pub(crate) struct ServicesPage {
    chrome: Chrome,
    range: TimeRange,
    range_choices: Vec<RangeChoice>,
    rows: Vec<StatsRow>,
    graph: Graph,
    no_data: bool,
}

/// `GET /services`.
pub(crate) async fn services_page(
    State(state): State<UiState>,
    raw: RawQuery,
) -> Result<ServicesPage, PageError> {
    let params = PageParams::parse(raw)?;
    let range = params.range()?;
    // Independent queries: run them side by side.
    let (stats, edges) = tokio::try_join!(
        state
            .engine
            .service_stats(range.window(), SPARK_BUCKETS, None),
        state.engine.dependencies(range.window()),
    )?;
    let no_data = stats.is_empty() && state.engine.services().await?.is_empty();
    let rows = stats
        .iter()
        .map(|stats| stats_row(stats, &range, service_href(&stats.name, &range)))
        .collect();
    Ok(ServicesPage {
        chrome: Chrome::new("services", "").with_range(&range),
        range_choices: range_choices(&range),
        graph: layout(&edges, |name| service_href(name, &range)),
        rows,
        no_data,
        range,
    })
}

pub(crate) struct Neighbour {
    pub(crate) name: String,
    pub(crate) class: String,
    pub(crate) href: String,
    pub(crate) calls: u64,
    pub(crate) errors: u64,
}

#[derive(Template, WebTemplate)]
#[template(path = "service.html")]
pub(crate) struct ServicePage {
    chrome: Chrome,
    range: TimeRange,
    range_choices: Vec<RangeChoice>,
    name: String,
    class: String,
    summary: Option<StatsRow>,
    operations: Vec<StatsRow>,
    callers: Vec<Neighbour>,
    callees: Vec<Neighbour>,
    traces_href: String,
    errors_href: String,
    logs_href: String,
}

/// `GET /services/{service}`.
pub(crate) async fn service_page(
    State(state): State<UiState>,
    Path(name): Path<String>,
    raw: RawQuery,
) -> Result<ServicePage, PageError> {
    let params = PageParams::parse(raw)?;
    let range = params.range()?;
    let (all, operation_stats, edges) = tokio::try_join!(
        state
            .engine
            .service_stats(range.window(), SPARK_BUCKETS, Some(&name)),
        state.engine.operation_stats(&name, range.window()),
        state.engine.dependencies(range.window()),
    )?;
    let summary = all
        .iter()
        .find(|stats| stats.name == name)
        .map(|stats| stats_row(stats, &range, service_href(&stats.name, &range)));
    let mut traces_params = vec![("service", name.clone())];
    traces_params.extend(range.params());
    let operations = operation_stats
        .iter()
        .map(|stats| {
            let mut params = traces_params.clone();
            params.push(("operation", stats.name.clone()));
            stats_row(stats, &range, link("/traces", &params))
        })
        .collect();
    let neighbour = |other: &str, calls: u64, errors: u64| Neighbour {
        name: other.to_string(),
        class: service_class(other),
        href: service_href(other, &range),
        calls,
        errors,
    };
    let callers = edges
        .iter()
        .filter(|edge| edge.callee == name)
        .map(|edge| neighbour(&edge.caller, edge.calls, edge.errors))
        .collect();
    let callees = edges
        .iter()
        .filter(|edge| edge.caller == name)
        .map(|edge| neighbour(&edge.callee, edge.calls, edge.errors))
        .collect();
    let mut errors_params = traces_params.clone();
    errors_params.push(("errors", "1".to_string()));
    let mut logs_params = vec![("q", format!("service:{}", quoted(&name)))];
    logs_params.extend(range.params());
    Ok(ServicePage {
        chrome: Chrome::new("services", "").with_range(&range),
        range_choices: range_choices(&range),
        class: service_class(&name),
        traces_href: link("/traces", &traces_params),
        errors_href: link("/traces", &errors_params),
        logs_href: link("/logs", &logs_params),
        name,
        summary,
        operations,
        callers,
        callees,
        range,
    })
}
