//! Service health computed from spans: request rate, error rate and latency percentiles per
//! service and per operation, request counts over time, and the service dependency graph
//! (parent/child spans that cross services).
//!
//! A service's requests are its entry spans (SERVER or CONSUMER kind, or roots); a service
//! that has none (a database seen only through its own client spans, say) is measured over
//! all of its spans instead.

use std::collections::{BTreeMap, HashMap};

use datafusion::arrow::array::{Array, Int32Array, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
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
const ERRORS: &str = "sum(CASE WHEN status_code = 2 THEN 1 ELSE 0 END)";

/// Latency histogram buckets per doubling of duration: a bucket is 2^(1/16) ≈ 4.4 % wide, so
/// a percentile read from its middle is within ~2.2 % of the true value.
const BUCKETS_PER_OCTAVE: f64 = 16.0;

/// The latency histogram bucket of a span, in SQL.
fn latency_bucket_sql() -> String {
    format!(
        "CAST(floor(log2(CAST(greatest(duration_ns, 1) AS DOUBLE)) * {BUCKETS_PER_OCTAVE}) AS BIGINT)"
    )
}

/// Counts, errors and a latency histogram of one service or operation. Percentiles come from
/// the histogram: one pass with a small GROUP BY instead of a t-digest per group.
#[derive(Debug, Default)]
struct Accumulator {
    requests: u64,
    errors: u64,
    latency: BTreeMap<i64, u64>,
    series: Vec<u64>,
}

impl Accumulator {
    fn add(&mut self, latency_bucket: i64, requests: u64, errors: u64) {
        self.requests += requests;
        self.errors += errors;
        *self.latency.entry(latency_bucket).or_default() += requests;
    }

    /// The `q` quantile (0..=1), ns: the middle of the bucket holding that rank.
    fn percentile(&self, q: f64) -> f64 {
        let rank = ((q * self.requests as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (bucket, count) in &self.latency {
            seen += count;
            if seen >= rank {
                return 2f64.powf((*bucket as f64 + 0.5) / BUCKETS_PER_OCTAVE);
            }
        }
        0.0
    }

    fn into_stats(self, name: String) -> RequestStats {
        RequestStats {
            name,
            requests: self.requests,
            errors: self.errors,
            p50_ns: self.percentile(0.5),
            p95_ns: self.percentile(0.95),
            p99_ns: self.percentile(0.99),
            series: self.series,
        }
    }
}

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

fn signed(value: &Value) -> i64 {
    value.as_i64().unwrap_or_else(|| number(value) as i64)
}

fn number(value: &Value) -> f64 {
    match value {
        Value::Number(number) => number.as_f64().unwrap_or(0.0),
        Value::String(text) => text.parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// Per service (or only `service`), with a request count series of `buckets` buckets
/// (0: none). One scan: counts per service, entry flag, time bucket and latency bucket.
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
    let bucket_ns = (window.len_ns() / buckets.max(1) as i64).max(1);
    let time_bucket = if buckets > 0 {
        format!(
            "CAST((start_time_unix_nano - {start}) / {bucket_ns} AS BIGINT)",
            start = window.start_ns
        )
    } else {
        "0".to_string()
    };
    let sql = format!(
        "SELECT service_name, {ENTRY} AS entry, {time_bucket} AS bucket, {latency} AS latency, \
         count(*) AS n, {ERRORS} AS errors FROM spans WHERE {condition} GROUP BY 1, 2, 3, 4",
        latency = latency_bucket_sql()
    );
    // Per service: entry spans, and the others.
    let mut by_service: BTreeMap<String, [Accumulator; 2]> = BTreeMap::new();
    for row in rows(context, &sql).await? {
        let entry = row[1].as_bool().unwrap_or(false);
        let accumulators = by_service.entry(text(&row[0])).or_default();
        let accumulator = &mut accumulators[usize::from(entry)];
        let requests = count(&row[4]);
        accumulator.add(signed(&row[3]), requests, count(&row[5]));
        if buckets > 0 {
            if accumulator.series.is_empty() {
                accumulator.series = vec![0; buckets];
            }
            let index = (count(&row[2]) as usize).min(buckets - 1);
            accumulator.series[index] += requests;
        }
    }
    Ok(by_service
        .into_iter()
        .map(|(name, [others, entries])| {
            // Entry-span stats win over all-span stats for the same service.
            let mut chosen = if entries.requests > 0 {
                entries
            } else {
                others
            };
            if buckets > 0 && chosen.series.is_empty() {
                chosen.series = vec![0; buckets];
            }
            chosen.into_stats(name)
        })
        .collect())
}

/// Per operation (span name) of one service, over all its spans, busiest first.
pub(crate) async fn operation_stats(
    context: &SessionContext,
    service: &str,
    window: TimeWindow,
) -> Result<Vec<RequestStats>, QueryError> {
    let sql = format!(
        "SELECT name, {latency} AS latency, count(*) AS n, {ERRORS} AS errors FROM spans \
         WHERE service_name = {service} AND {condition} GROUP BY 1, 2",
        latency = latency_bucket_sql(),
        service = literal(service),
        condition = window.condition()
    );
    let mut by_name: BTreeMap<String, Accumulator> = BTreeMap::new();
    for row in rows(context, &sql).await? {
        by_name.entry(text(&row[0])).or_default().add(
            signed(&row[1]),
            count(&row[2]),
            count(&row[3]),
        );
    }
    let mut stats: Vec<RequestStats> = by_name
        .into_iter()
        .map(|(name, accumulator)| accumulator.into_stats(name))
        .collect();
    busiest_first(&mut stats);
    Ok(stats)
}

/// Service-to-service edges, busiest first. A hash join in Rust on (trace id, span id) read
/// as integers: DataFusion's join on the hex text columns cost seconds at 1M spans.
pub(crate) async fn dependencies(
    context: &SessionContext,
    window: TimeWindow,
) -> Result<Vec<DependencyEdge>, QueryError> {
    let sql = format!(
        "SELECT trace_id, span_id, parent_span_id, service_name, status_code FROM spans \
         WHERE {}",
        window.condition()
    );
    let mut stream = context.sql(&sql).await?.execute_stream().await?;
    let mut services: Vec<String> = Vec::new();
    let mut service_index: HashMap<String, u32> = HashMap::new();
    let mut span_service: HashMap<(u128, u64), u32, IdHasher> = HashMap::default();
    // By (trace, span): (parent span, service, failed). Keyed so a span delivered twice
    // counts once.
    let mut children: HashMap<(u128, u64), (u64, u32, bool), IdHasher> = HashMap::default();
    while let Some(batch) = stream.try_next().await? {
        let trace_ids = utf8_column(&batch, 0)?;
        let span_ids = utf8_column(&batch, 1)?;
        let parent_ids = utf8_column(&batch, 2)?;
        let service_names = utf8_column(&batch, 3)?;
        let status = cast(batch.column(4), &DataType::Int32)?;
        let status = status
            .as_any()
            .downcast_ref::<Int32Array>()
            .ok_or_else(|| QueryError::Internal("status_code is not Int32".to_string()))?;
        for row in 0..batch.num_rows() {
            let (Some(trace), Some(span)) = (
                parse_hex_u128(trace_ids.value(row)),
                parse_hex_u64(span_ids.value(row)),
            ) else {
                continue;
            };
            let name = service_names.value(row);
            let service = match service_index.get(name) {
                Some(index) => *index,
                None => {
                    let index = services.len() as u32;
                    services.push(name.to_string());
                    service_index.insert(name.to_string(), index);
                    index
                }
            };
            span_service.insert((trace, span), service);
            if parent_ids.is_valid(row)
                && let Some(parent) = parse_hex_u64(parent_ids.value(row))
            {
                children.insert((trace, span), (parent, service, status.value(row) == 2));
            }
        }
    }
    let mut edges: HashMap<(u32, u32), (u64, u64)> = HashMap::new();
    for ((trace, _), (parent, child_service, failed)) in children {
        let Some(&parent_service) = span_service.get(&(trace, parent)) else {
            continue;
        };
        if parent_service == child_service {
            continue;
        }
        let edge = edges.entry((parent_service, child_service)).or_default();
        edge.0 += 1;
        edge.1 += u64::from(failed);
    }
    let mut out: Vec<DependencyEdge> = edges
        .into_iter()
        .map(|((caller, callee), (calls, errors))| DependencyEdge {
            caller: services[caller as usize].clone(),
            callee: services[callee as usize].clone(),
            calls,
            errors,
        })
        .collect();
    busiest_edges_first(&mut out);
    Ok(out)
}

fn utf8_column(batch: &RecordBatch, index: usize) -> Result<StringArray, QueryError> {
    let column = cast(batch.column(index), &DataType::Utf8)?;
    column
        .as_any()
        .downcast_ref::<StringArray>()
        .cloned()
        .ok_or_else(|| QueryError::Internal(format!("column {index} is not text")))
}

/// Hashes (trace id, span id) keys: the ids are random already, so folding their bits and one
/// multiply spreads them well, several times cheaper than the default SipHash on 1M spans.
#[derive(Default, Clone, Copy)]
struct IdHasher;

impl std::hash::BuildHasher for IdHasher {
    type Hasher = FoldHasher;

    fn build_hasher(&self) -> FoldHasher {
        FoldHasher(0)
    }
}

struct FoldHasher(u64);

impl std::hash::Hasher for FoldHasher {
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = self.0.rotate_left(5) ^ value;
    }

    fn write_u128(&mut self, value: u128) {
        self.write_u64(value as u64 ^ (value >> 64) as u64);
    }
}

fn parse_hex_u128(text: &str) -> Option<u128> {
    u128::from_str_radix(text, 16).ok()
}

fn parse_hex_u64(text: &str) -> Option<u64> {
    u64::from_str_radix(text, 16).ok()
}

/// Most requests first, then by name: the order of every stats table.
pub(crate) fn busiest_first(stats: &mut [RequestStats]) {
    stats.sort_by(|a, b| {
        b.requests
            .cmp(&a.requests)
            .then_with(|| a.name.cmp(&b.name))
    });
}

/// Most calls first, then by caller and callee: the order of every dependency graph.
pub(crate) fn busiest_edges_first(edges: &mut [DependencyEdge]) {
    edges.sort_by(|a, b| {
        b.calls
            .cmp(&a.calls)
            .then_with(|| a.caller.cmp(&b.caller))
            .then_with(|| a.callee.cmp(&b.callee))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_bucket_holding_the_rank() {
        let mut accumulator = Accumulator::default();
        // 90 fast requests (~1 ms) and 10 slow ones (~1 s).
        let fast = (1_000_000f64.log2() * BUCKETS_PER_OCTAVE).floor() as i64;
        let slow = (1_000_000_000f64.log2() * BUCKETS_PER_OCTAVE).floor() as i64;
        accumulator.add(fast, 90, 0);
        accumulator.add(slow, 10, 3);
        assert_eq!(accumulator.requests, 100);
        assert_eq!(accumulator.errors, 3);
        let p50 = accumulator.percentile(0.5);
        let p95 = accumulator.percentile(0.95);
        assert!((p50 / 1_000_000.0 - 1.0).abs() < 0.05, "{p50}");
        assert!((p95 / 1_000_000_000.0 - 1.0).abs() < 0.05, "{p95}");
        assert_eq!(Accumulator::default().percentile(0.99), 0.0);
    }
}
