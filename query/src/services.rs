//! Service health computed from spans: request rate, error rate and latency percentiles per
//! service and per operation, request counts over time, and the service dependency graph
//! (parent/child spans that cross services).
//!
//! A service's requests are its entry spans (SERVER or CONSUMER kind, or roots); a service
//! that has none (a database seen only through its own client spans, say) is measured over
//! all of its spans instead.

use std::collections::BTreeMap;

use datafusion::prelude::SessionContext;
use futures::TryStreamExt;
use serde_json::Value;

use crate::error::QueryError;
use crate::json::cell;
use crate::sql::literal;

/// A closed time range, ns since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    /// First ns included.
    pub start_ns: i64,
    /// Last ns included.
    pub end_ns: i64,
}

impl TimeWindow {
    fn condition(&self) -> String {
        format!(
            "start_time_unix_nano >= {} AND start_time_unix_nano <= {}",
            self.start_ns, self.end_ns
        )
    }

    /// Length in ns (at least 1).
    pub fn len_ns(&self) -> i64 {
        (self.end_ns - self.start_ns).max(1)
    }
}

/// Request statistics of one service or operation over a window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestStats {
    /// Service or operation name.
    pub name: String,
    /// Requests (entry spans, or all spans when there are none).
    pub requests: u64,
    /// Requests with status ERROR.
    pub errors: u64,
    /// Latency percentiles, ns.
    pub p50_ns: f64,
    /// 95th percentile, ns.
    pub p95_ns: f64,
    /// 99th percentile, ns.
    pub p99_ns: f64,
    /// Requests per time bucket, oldest first (empty unless asked for).
    pub series: Vec<u64>,
}

/// Calls from one service to another, from parent/child spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyEdge {
    /// Service of the parent span.
    pub caller: String,
    /// Service of the child span.
    pub callee: String,
    /// Child spans seen.
    pub calls: u64,
    /// Child spans with status ERROR.
    pub errors: u64,
}

const ENTRY: &str = "(kind IN (2, 5) OR parent_span_id IS NULL)";
const STATS: &str = "count(*) AS n, \
    sum(CASE WHEN status_code = 2 THEN 1 ELSE 0 END) AS errors, \
    approx_percentile_cont(duration_ns, 0.5) AS p50, \
    approx_percentile_cont(duration_ns, 0.95) AS p95, \
    approx_percentile_cont(duration_ns, 0.99) AS p99";

pub(crate) async fn rows(
    context: &SessionContext,
    sql: &str,
) -> Result<Vec<Vec<Value>>, QueryError> {
    let frame = context.sql(sql).await?;
    let batches: Vec<_> = frame.execute_stream().await?.try_collect().await?;
    let mut out = Vec::new();
    for batch in &batches {
        for row in 0..batch.num_rows() {
            out.push(
                batch
                    .columns()
                    .iter()
                    .map(|column| cell(column, row))
                    .collect(),
            );
        }
    }
    Ok(out)
}

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn count(value: &Value) -> u64 {
    value.as_u64().unwrap_or_else(|| number(value) as u64)
}

fn number(value: &Value) -> f64 {
    match value {
        Value::Number(number) => number.as_f64().unwrap_or(0.0),
        Value::String(text) => text.parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

fn stats_from(row: &[Value]) -> RequestStats {
    RequestStats {
        name: text(&row[0]),
        requests: count(&row[2]),
        errors: count(&row[3]),
        p50_ns: number(&row[4]),
        p95_ns: number(&row[5]),
        p99_ns: number(&row[6]),
        series: Vec::new(),
    }
}

/// Per service (or only `service`), with a request count series of `buckets` buckets
/// (0: none).
pub(crate) async fn service_stats(
    context: &SessionContext,
    window: TimeWindow,
    buckets: usize,
    service: Option<&str>,
) -> Result<Vec<RequestStats>, QueryError> {
    let mut condition = window.condition();
    if let Some(name) = service {
        condition.push_str(&format!(" AND service_name = {}", literal(name)));
    }
    let sql = format!(
        "SELECT service_name, {ENTRY} AS entry, {STATS} FROM spans WHERE {condition} GROUP BY 1, 2"
    );
    // Entry-span stats win over all-span stats for the same service.
    let mut by_service: BTreeMap<String, (bool, RequestStats)> = BTreeMap::new();
    for row in rows(context, &sql).await? {
        let entry = row[1].as_bool().unwrap_or(false);
        let stats = stats_from(&row);
        let keep_existing = by_service
            .get(&stats.name)
            .is_some_and(|(existing_entry, _)| *existing_entry && !entry);
        if !keep_existing {
            by_service.insert(stats.name.clone(), (entry, stats));
        }
    }
    if buckets > 0 {
        let bucket_ns = (window.len_ns() / buckets as i64).max(1);
        let sql = format!(
            "SELECT service_name, {ENTRY} AS entry, \
             CAST((start_time_unix_nano - {start}) / {bucket_ns} AS BIGINT) AS bucket, count(*) \
             FROM spans WHERE {condition} GROUP BY 1, 2, 3",
            start = window.start_ns,
        );
        for row in rows(context, &sql).await? {
            let Some((entry, stats)) = by_service.get_mut(&text(&row[0])) else {
                continue;
            };
            if row[1].as_bool().unwrap_or(false) != *entry {
                continue;
            }
            if stats.series.is_empty() {
                stats.series = vec![0; buckets];
            }
            let index = (count(&row[2]) as usize).min(buckets - 1);
            stats.series[index] += count(&row[3]);
        }
        for (_, stats) in by_service.values_mut() {
            if stats.series.is_empty() {
                stats.series = vec![0; buckets];
            }
        }
    }
    Ok(by_service.into_values().map(|(_, stats)| stats).collect())
}

/// Per operation (span name) of one service, over all its spans, busiest first.
pub(crate) async fn operation_stats(
    context: &SessionContext,
    service: &str,
    window: TimeWindow,
) -> Result<Vec<RequestStats>, QueryError> {
    let sql = format!(
        "SELECT name, true, {STATS} FROM spans WHERE service_name = {} AND {} \
         GROUP BY 1 ORDER BY n DESC, name",
        literal(service),
        window.condition()
    );
    Ok(rows(context, &sql)
        .await?
        .iter()
        .map(|row| stats_from(row))
        .collect())
}

/// Service-to-service edges, busiest first.
pub(crate) async fn dependencies(
    context: &SessionContext,
    window: TimeWindow,
) -> Result<Vec<DependencyEdge>, QueryError> {
    let sql = format!(
        "SELECT parent.service_name, child.service_name, count(*) AS calls, \
         sum(CASE WHEN child.status_code = 2 THEN 1 ELSE 0 END) \
         FROM (SELECT trace_id, parent_span_id, service_name, status_code FROM spans \
               WHERE parent_span_id IS NOT NULL AND {cond}) AS child \
         JOIN (SELECT trace_id, span_id, service_name FROM spans WHERE {cond}) AS parent \
           ON child.trace_id = parent.trace_id AND child.parent_span_id = parent.span_id \
         WHERE child.service_name <> parent.service_name \
         GROUP BY 1, 2 ORDER BY calls DESC",
        cond = window.condition()
    );
    Ok(rows(context, &sql)
        .await?
        .iter()
        .map(|row| DependencyEdge {
            caller: text(&row[0]),
            callee: text(&row[1]),
            calls: count(&row[2]),
            errors: count(&row[3]),
        })
        .collect())
}
