//! Trace assembly and trace search over the `spans` table.

use std::collections::{HashMap, HashSet};

use datafusion::prelude::SessionContext;
use futures::TryStreamExt;
use periscope_storage::batch::spans_from_batch;
use periscope_storage::{SpanId, SpanRow, TraceId};

use crate::error::QueryError;
use crate::filters::{AttrFilter, combined};
use crate::sql::literal;

/// All spans of one trace, in start order, each `(trace_id, span_id)` once.
#[derive(Debug, Clone)]
pub struct Trace {
    /// The trace id.
    pub trace_id: TraceId,
    /// Its spans.
    pub spans: Vec<SpanRow>,
}

/// Trace search filters, as Jaeger's `/api/traces` takes them (already in our units).
#[derive(Debug, Clone, Default)]
pub struct TraceSearch {
    /// Service that must have a matching span.
    pub service: Option<String>,
    /// Operation (span name) of the matching span.
    pub operation: Option<String>,
    /// Attribute equalities on the matching span (span or resource attributes).
    pub tags: Vec<(String, String)>,
    /// Matching span's minimum duration, ns.
    pub min_duration_ns: Option<i64>,
    /// Matching span's maximum duration, ns.
    pub max_duration_ns: Option<i64>,
    /// Matching span starts at or after, ns.
    pub start_ns: Option<i64>,
    /// Matching span starts at or before, ns.
    pub end_ns: Option<i64>,
    /// Attribute filters on the matching span (the UI's richer form of `tags`).
    pub filters: Vec<AttrFilter>,
    /// Join `filters` with OR instead of AND.
    pub any_filter: bool,
    /// Only spans with status ERROR match.
    pub errors_only: bool,
    /// Traces returned at most, newest first.
    pub limit: usize,
}

pub(crate) async fn collect_spans(
    context: &SessionContext,
    sql: &str,
) -> Result<Vec<SpanRow>, QueryError> {
    let frame = context.sql(sql).await?;
    let batches: Vec<_> = frame.execute_stream().await?.try_collect().await?;
    let mut spans = Vec::new();
    for batch in &batches {
        spans.extend(spans_from_batch(batch)?);
    }
    Ok(spans)
}

/// Groups spans by trace, removing duplicate deliveries of the same span.
pub(crate) fn assemble(spans: Vec<SpanRow>) -> HashMap<TraceId, Trace> {
    let mut seen: HashSet<(TraceId, SpanId)> = HashSet::new();
    let mut traces: HashMap<TraceId, Trace> = HashMap::new();
    for span in spans {
        if !seen.insert((span.trace_id, span.span_id)) {
            continue;
        }
        traces
            .entry(span.trace_id)
            .or_insert_with(|| Trace {
                trace_id: span.trace_id,
                spans: Vec::new(),
            })
            .spans
            .push(span);
    }
    for trace in traces.values_mut() {
        trace
            .spans
            .sort_by_key(|span| (span.start_time_unix_nano, span.span_id));
    }
    traces
}

/// Looks a trace up by id; 16-hex ids are matched as the low 64 bits too.
pub(crate) async fn trace_by_id(
    context: &SessionContext,
    trace_id: TraceId,
    short_id: bool,
) -> Result<Option<Trace>, QueryError> {
    let hex = trace_id.to_hex();
    let sql = format!("SELECT * FROM spans WHERE trace_id = {}", literal(&hex));
    let mut spans = collect_spans(context, &sql).await?;
    if spans.is_empty() && short_id {
        let low = &hex[16..];
        let sql = format!(
            "SELECT * FROM spans WHERE substr(trace_id, 17) = {}",
            literal(low)
        );
        spans = collect_spans(context, &sql).await?;
    }
    let mut traces = assemble(spans);
    // A 64-bit id can match several traces in theory; the newest one wins.
    let newest = traces
        .values()
        .max_by_key(|trace| trace.spans.first().map(|span| span.start_time_unix_nano))
        .map(|trace| trace.trace_id);
    Ok(newest.and_then(|id| traces.remove(&id)))
}

/// Lowercase OTLP span kind names by kind number, as Jaeger's `span.kind` tag spells them.
pub const SPAN_KIND_NAMES: [&str; 6] = [
    "unspecified",
    "internal",
    "server",
    "client",
    "producer",
    "consumer",
];

/// Turns one Jaeger tag filter into a SQL condition. Special tags map to span fields.
fn tag_condition(key: &str, value: &str) -> String {
    let value_lower = value.to_ascii_lowercase();
    match (key, value_lower.as_str()) {
        ("error", "true") => "status_code = 2".to_string(),
        ("error", "false") => "status_code <> 2".to_string(),
        ("otel.status_code", "error") => "status_code = 2".to_string(),
        ("otel.status_code", "ok") => "status_code = 1".to_string(),
        ("span.kind", kind) => {
            let number = [
                "unspecified",
                "internal",
                "server",
                "client",
                "producer",
                "consumer",
            ]
            .iter()
            .position(|name| *name == kind)
            .map_or(-1, |pos| pos as i64);
            format!("kind = {number}")
        }
        _ => format!(
            "(attributes[{key}] = {value} OR resource_attributes[{key}] = {value})",
            key = literal(key),
            value = literal(value)
        ),
    }
}

/// Finds matching traces, newest first, and assembles them whole.
pub(crate) async fn search(
    context: &SessionContext,
    search: &TraceSearch,
) -> Result<Vec<Trace>, QueryError> {
    let mut conditions = vec!["true".to_string()];
    if let Some(service) = &search.service {
        conditions.push(format!("service_name = {}", literal(service)));
    }
    if let Some(operation) = &search.operation {
        conditions.push(format!("name = {}", literal(operation)));
    }
    for (key, value) in &search.tags {
        conditions.push(tag_condition(key, value));
    }
    if let Some(condition) = combined(&search.filters, search.any_filter)? {
        conditions.push(condition);
    }
    if search.errors_only {
        conditions.push("status_code = 2".to_string());
    }
    if let Some(min) = search.min_duration_ns {
        conditions.push(format!("duration_ns >= {min}"));
    }
    if let Some(max) = search.max_duration_ns {
        conditions.push(format!("duration_ns <= {max}"));
    }
    if let Some(start) = search.start_ns {
        conditions.push(format!("start_time_unix_nano >= {start}"));
    }
    if let Some(end) = search.end_ns {
        conditions.push(format!("start_time_unix_nano <= {end}"));
    }
    let candidates_sql = format!(
        "SELECT trace_id, max(start_time_unix_nano) AS latest FROM spans WHERE {} \
         GROUP BY trace_id ORDER BY latest DESC LIMIT {}",
        conditions.join(" AND "),
        search.limit.max(1)
    );
    let frame = context.sql(&candidates_sql).await?;
    let batches: Vec<_> = frame.execute_stream().await?.try_collect().await?;
    let mut ordered_ids = Vec::new();
    for batch in &batches {
        let column = batch.column(0);
        for row in 0..batch.num_rows() {
            if let serde_json::Value::String(hex) = crate::json::cell(column, row) {
                ordered_ids.push(hex);
            }
        }
    }
    if ordered_ids.is_empty() {
        return Ok(Vec::new());
    }
    let id_list: Vec<String> = ordered_ids.iter().map(|id| literal(id)).collect();
    let spans_sql = format!(
        "SELECT * FROM spans WHERE trace_id IN ({})",
        id_list.join(", ")
    );
    let mut traces = assemble(collect_spans(context, &spans_sql).await?);
    Ok(ordered_ids
        .iter()
        .filter_map(|hex| TraceId::from_hex(hex).and_then(|id| traces.remove(&id)))
        .collect())
}

/// Distinct values of one text column, sorted.
pub(crate) async fn distinct_strings(
    context: &SessionContext,
    sql: &str,
) -> Result<Vec<String>, QueryError> {
    let frame = context.sql(sql).await?;
    let batches: Vec<_> = frame.execute_stream().await?.try_collect().await?;
    let mut values = Vec::new();
    for batch in &batches {
        for row in 0..batch.num_rows() {
            if let serde_json::Value::String(text) = crate::json::cell(batch.column(0), row) {
                values.push(text);
            }
        }
    }
    values.sort();
    values.dedup();
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_tags_map_to_span_fields() {
        assert_eq!(tag_condition("error", "true"), "status_code = 2");
        assert_eq!(tag_condition("span.kind", "server"), "kind = 2");
        assert_eq!(
            tag_condition("http.method", "G'ET"),
            "(attributes['http.method'] = 'G''ET' OR resource_attributes['http.method'] = 'G''ET')"
        );
    }
}
