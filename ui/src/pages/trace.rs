//! The trace view: summary, waterfall (coloured by service, collapsible, critical path
//! outlined), the span panel, and the logs of the trace. Subtrees of large traces load when
//! opened (`/trace/{id}/subtree/{span}`).

use std::collections::HashSet;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, RawQuery, State};
use periscope_query::{LogQuery, SpanId, Trace};

use super::format;
use super::layout::{Chrome, link};
use super::logs_view::{LogLine, log_lines};
use super::page_error::PageError;
use super::params::PageParams;
use super::span_panel::SpanPanel;
use super::summary::TraceSummary;
use super::trace_tree::{EAGER_DEPTH, RowPlan, SpanTree, WaterfallRow};
use crate::params::parse_trace_id;
use crate::state::UiState;

/// Log records of the trace shown under the waterfall.
const TRACE_LOG_LIMIT: usize = 200;

#[derive(Template, WebTemplate)]
#[template(path = "trace.html")]
pub(crate) struct TracePage {
    chrome: Chrome,
    summary: TraceSummary,
    start: String,
    duration: String,
    ticks: Vec<String>,
    rows: Vec<WaterfallRow>,
    subtree_base: String,
    panel: Option<SpanPanel>,
    logs: Vec<LogLine>,
    logs_total: u64,
    logs_href: String,
    search_href: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "trace_subtree.html")]
pub(crate) struct SubtreeFragment {
    rows: Vec<WaterfallRow>,
    subtree_base: String,
}

async fn load(state: &UiState, raw_id: &str) -> Result<Trace, PageError> {
    let (trace_id, short) = parse_trace_id(raw_id)?;
    state.engine.trace(trace_id, short).await?.ok_or_else(|| {
        PageError::not_found(format!(
            "no trace with id {} (yet): spans are visible about 2 seconds after they are sent",
            trace_id.to_hex()
        ))
    })
}

fn span_param(params: &PageParams) -> Result<Option<SpanId>, PageError> {
    params
        .get("span")
        .map(|text| {
            SpanId::from_hex(text).ok_or_else(|| {
                PageError::bad_request(format!("span must be 16 hex digits, got {text:?}"))
            })
        })
        .transpose()
}

/// `GET /trace/{id}?span=…`.
pub(crate) async fn trace_page(
    State(state): State<UiState>,
    Path(raw_id): Path<String>,
    raw: RawQuery,
) -> Result<TracePage, PageError> {
    let params = PageParams::parse(raw)?;
    let range = params.range()?;
    let trace = load(&state, &raw_id).await?;
    let summary = TraceSummary::of(&trace);
    let tree = SpanTree::new(&trace.spans);
    let critical = tree.critical_path();
    let selected = span_param(&params)?.and_then(|id| tree.find(id));
    let mut keep_open = HashSet::new();
    if let Some(mut node) = selected {
        while let Some(parent) = tree.parent[node] {
            keep_open.insert(parent);
            node = parent;
        }
    }
    let range_params = range.params();
    let plan = RowPlan {
        tree: &tree,
        critical: &critical,
        selected,
        keep_open,
        eager_depth: EAGER_DEPTH,
        select_base: select_base(&summary.trace_id, &range_params),
    };
    let rows = plan.rows(&tree.roots, 0);
    let panel =
        selected.map(|node| SpanPanel::of(&trace.spans[node], tree.trace_start_ns, &range_params));
    let trace_query = format!("trace_id:{}", summary.trace_id);
    let hits = state
        .engine
        .search_logs(LogQuery {
            query: trace_query.clone(),
            start_ns: None,
            end_ns: None,
            limit: TRACE_LOG_LIMIT,
        })
        .await?;
    let mut logs_params = vec![("q", trace_query)];
    logs_params.extend(range_params.iter().cloned());
    let ticks = (0..=4)
        .map(|quarter| format::duration(tree.trace_len_ns as f64 * f64::from(quarter) / 4.0))
        .collect();
    let subtree_base = format!("/trace/{}/subtree/", summary.trace_id);
    Ok(TracePage {
        chrome: Chrome::new("traces", &summary.trace_id).with_range(&range),
        start: format::time(summary.start_ns),
        duration: format::duration(summary.duration_ns as f64),
        ticks,
        rows,
        subtree_base,
        panel,
        logs: log_lines(&hits.rows, &range_params),
        logs_total: hits.total,
        logs_href: link("/logs", &logs_params),
        search_href: link("/traces", &range_params),
        summary,
    })
}

fn select_base(trace_id: &str, range_params: &[(&'static str, String)]) -> String {
    let base = link(&format!("/trace/{trace_id}"), range_params);
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}span=")
}

/// `GET /trace/{id}/subtree/{span}`: the rows under one span (htmx, when it is opened).
pub(crate) async fn subtree(
    State(state): State<UiState>,
    Path((raw_id, raw_span)): Path<(String, String)>,
    raw: RawQuery,
) -> Result<SubtreeFragment, PageError> {
    let params = PageParams::parse(raw)?;
    let range = params.range()?;
    let trace = load(&state, &raw_id).await?;
    let span_id = SpanId::from_hex(&raw_span).ok_or_else(|| {
        PageError::bad_request(format!("span must be 16 hex digits, got {raw_span:?}"))
    })?;
    let tree = SpanTree::new(&trace.spans);
    let node = tree
        .find(span_id)
        .ok_or_else(|| PageError::not_found(format!("no span {raw_span} in this trace")))?;
    let critical = tree.critical_path();
    let depth = tree.depth(node) + 1;
    let plan = RowPlan {
        tree: &tree,
        critical: &critical,
        selected: None,
        keep_open: HashSet::new(),
        eager_depth: depth + EAGER_DEPTH,
        select_base: select_base(&trace.trace_id.to_hex(), &range.params()),
    };
    Ok(SubtreeFragment {
        rows: plan.rows(&tree.children[node], depth),
        subtree_base: format!("/trace/{}/subtree/", trace.trace_id.to_hex()),
    })
}
