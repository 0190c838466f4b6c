//! Trace assembly and trace search over the `spans` table.

use std::collections::{HashMap, HashSet};

use datafusion::arrow::array::{Int64Array, RecordBatch};
use datafusion::arrow::compute::{max, min};
use periscope_storage::batch::spans_from_batch;
use periscope_storage::trace_rows::low_half;
use periscope_storage::{Signal, SnapshotFile, SpanId, SpanRow, TableSnapshot, TraceId};

use crate::Engine;
use crate::candidates::{Conditions, candidates};
use crate::error::QueryError;
use crate::filters::{AttrFilter, combined};
use crate::sql::literal;
use crate::{context, recent_rows, trace_index};

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

/// Groups spans by trace, removing duplicate deliveries of the same span; each trace's spans
/// in start order.
pub fn assemble(spans: Vec<SpanRow>) -> HashMap<TraceId, Trace> {
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

/// Looks a trace up by id; 16-hex ids are matched as the low 64 bits too. Reads only the
/// recent rows of the id's low half and, through the trace index, the rows of the files that
/// hold it: no query plan.
pub(crate) async fn trace_by_id(
    engine: &Engine,
    trace_id: TraceId,
    short_id: bool,
) -> Result<Option<Trace>, QueryError> {
    let hex = trace_id.to_hex();
    let low = low_half(&hex)
        .ok_or_else(|| QueryError::Internal(format!("trace id {hex} is not 32 hex digits")))?;
    let low_hex = recent_rows::low_half_hex(low);
    let snapshot = engine.store.snapshot_picking(Signal::Spans, |batch| {
        recent_rows::rows_of_traces(batch, &[low_hex])
    })?;
    let spans = spans_by_low_half(engine, &snapshot, &[low]).await?;
    let mut traces = assemble(spans);
    if let Some(trace) = traces.remove(&trace_id) {
        return Ok(Some(trace));
    }
    if !short_id {
        return Ok(None);
    }
    // A 64-bit id can match several traces in theory; the newest one wins.
    let newest = traces
        .values()
        .max_by_key(|trace| trace.spans.first().map(|span| span.start_time_unix_nano))
        .map(|trace| trace.trace_id);
    Ok(newest.and_then(|id| traces.remove(&id)))
}

/// The spans of `snapshot` whose trace id's low 64 bits are one of `low_halves`: its recent
/// rows (already picked by [`recent_rows::rows_of_traces`]) and the rows the trace index finds
/// in its files. Traces sharing a low half with a wanted one come along; callers pick by full
/// id.
async fn spans_by_low_half(
    engine: &Engine,
    snapshot: &TableSnapshot,
    low_halves: &[u64],
) -> Result<Vec<SpanRow>, QueryError> {
    let mut spans = Vec::new();
    for batch in &snapshot.recent {
        spans.extend(spans_from_batch(batch)?);
    }
    for batch in trace_index::rows_of_traces(engine, &snapshot.files, low_halves).await? {
        spans.extend(spans_from_batch(&batch)?);
    }
    Ok(spans)
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

/// The SQL conditions a matching span meets, split by cost: `cheap` ones read plain columns,
/// `costly` ones (tags and attribute filters) decode the attribute maps.
pub(crate) fn search_conditions(search: &TraceSearch) -> Result<Conditions, QueryError> {
    let mut conditions = vec!["true".to_string()];
    if let Some(service) = &search.service {
        conditions.push(format!("service_name = {}", literal(service)));
    }
    if let Some(operation) = &search.operation {
        conditions.push(format!("name = {}", literal(operation)));
    }
    // Cheap columns first: DataFusion evaluates the conjuncts it pushes into the Parquet
    // scan in this order, and later ones then read only the rows that passed.
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
    let mut costly: Vec<String> = search
        .tags
        .iter()
        .map(|(key, value)| tag_condition(key, value))
        .collect();
    if let Some(condition) = combined(&search.filters, search.any_filter)? {
        costly.push(condition);
    }
    Ok(Conditions {
        cheap: conditions.join(" AND "),
        costly: (!costly.is_empty()).then(|| costly.join(" AND ")),
    })
}

/// Finds matching traces, newest first, and assembles them whole.
///
/// Reads the newest data first (recent rows, then files by their latest span) in rounds of
/// doubling size, and stops once `limit` traces have a matching span newer than anything in
/// the sources not read yet: a search for the newest 20 traces reads the newest file or two,
/// not every span stored.
pub(crate) async fn search(
    engine: &Engine,
    search: &TraceSearch,
) -> Result<Vec<Trace>, QueryError> {
    let conditions = search_conditions(search)?;
    let limit = search.limit.max(1);
    let snapshot = engine.store.snapshot(Signal::Spans);
    let mut sources = newest_first(&snapshot, search.start_ns, search.end_ns).into_iter();
    let mut latest_by_trace: HashMap<String, i64> = HashMap::new();
    let mut round_size = 1;
    loop {
        let round: Vec<Source> = sources.by_ref().take(round_size).collect();
        if round.is_empty() {
            break;
        }
        round_size *= 2;
        let mut round_snapshot = TableSnapshot::default();
        for source in round {
            match source.part {
                SourcePart::Recent => round_snapshot.recent = snapshot.recent.clone(),
                SourcePart::File(file) => round_snapshot.files.push(file),
            }
        }
        let has_files = !round_snapshot.files.is_empty();
        let context = context::spans_session(
            &engine.store,
            &engine.config,
            &engine.caches,
            round_snapshot,
        )
        .await?;
        for (trace_id, latest) in candidates(&context, &conditions, limit, has_files).await? {
            let entry = latest_by_trace.entry(trace_id).or_insert(latest);
            *entry = (*entry).max(latest);
        }
        let Some(next_latest) = sources.as_slice().first().map(|source| source.max_time) else {
            break;
        };
        if kth_latest(&latest_by_trace, limit).is_some_and(|kth| kth > next_latest) {
            break;
        }
    }
    let mut ordered: Vec<(String, i64)> = latest_by_trace.into_iter().collect();
    ordered.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ordered.truncate(limit);
    if ordered.is_empty() {
        return Ok(Vec::new());
    }
    let low_halves: Vec<u64> = ordered
        .iter()
        .filter_map(|(hex, _)| low_half(hex))
        .collect();
    let mut picked = snapshot;
    picked.recent = recent_rows::pick(&picked.recent, &low_halves)?;
    let mut traces = assemble(spans_by_low_half(engine, &picked, &low_halves).await?);
    Ok(ordered
        .iter()
        .filter_map(|(hex, _)| TraceId::from_hex(hex).and_then(|id| traces.remove(&id)))
        .collect())
}

/// The `k`-th largest latest start among the candidates, if there are `k`.
pub(crate) fn kth_latest(latest_by_trace: &HashMap<String, i64>, k: usize) -> Option<i64> {
    if latest_by_trace.len() < k {
        return None;
    }
    let mut latest: Vec<i64> = latest_by_trace.values().copied().collect();
    latest.sort_unstable_by(|a, b| b.cmp(a));
    latest.get(k - 1).copied()
}

enum SourcePart {
    Recent,
    File(SnapshotFile),
}

/// One part of the spans table and the latest span start it can hold.
struct Source {
    part: SourcePart,
    max_time: i64,
}

/// The parts of `snapshot` that can hold spans starting in `[start, end]`, latest first.
fn newest_first(snapshot: &TableSnapshot, start: Option<i64>, end: Option<i64>) -> Vec<Source> {
    let start = start.unwrap_or(i64::MIN);
    let end = end.unwrap_or(i64::MAX);
    let mut sources: Vec<Source> = snapshot
        .files
        .iter()
        .filter(|file| file.max_time_unix_nano >= start && file.min_time_unix_nano <= end)
        .map(|file| Source {
            max_time: file.max_time_unix_nano,
            part: SourcePart::File(file.clone()),
        })
        .collect();
    if let Some((min_time, max_time)) = recent_time_range(&snapshot.recent)
        && max_time >= start
        && min_time <= end
    {
        sources.push(Source {
            part: SourcePart::Recent,
            max_time,
        });
    }
    sources.sort_by_key(|source| std::cmp::Reverse(source.max_time));
    sources
}

/// Earliest and latest span start among the recent rows, if any.
fn recent_time_range(batches: &[RecordBatch]) -> Option<(i64, i64)> {
    let mut range: Option<(i64, i64)> = None;
    for batch in batches {
        let Some(times) = batch
            .column_by_name("start_time_unix_nano")
            .and_then(|column| column.as_any().downcast_ref::<Int64Array>())
        else {
            continue;
        };
        if let (Some(min), Some(max)) = (min(times), max(times)) {
            range = Some(match range {
                Some((low, high)) => (low.min(min), high.max(max)),
                None => (min, max),
            });
        }
    }
    range
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::QueryConfig;
    use crate::test_support::{span_row, store_with_parts};

    fn span(trace_id: [u8; 16], span: u64, start: i64) -> SpanRow {
        span_row(trace_id, span.to_be_bytes(), start, "shop")
    }

    fn id(high: u64, low: u64) -> [u8; 16] {
        ((u128::from(high) << 64) | u128::from(low)).to_be_bytes()
    }

    fn span_ids(trace: &Trace) -> Vec<u64> {
        trace
            .spans
            .iter()
            .map(|span| u64::from_be_bytes(span.span_id.0))
            .collect()
    }

    /// One trace spread over two files and the recent rows (one span delivered twice), a
    /// newer trace sharing its low 64 bits, and 100 other traces in every part: a lookup by the
    /// full id returns exactly the first trace's spans, each once, in start order; a lookup by
    /// the low half returns the newest trace having it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lookup_by_id_gathers_a_trace_from_files_and_recent_rows() {
        let dir = tempfile::tempdir().unwrap();
        let wanted = id(0xaaaa, 0x1234);
        let twin = id(0xbbbb, 0x1234);
        let parts = [
            vec![span(wanted, 1, 10), span(wanted, 2, 20)],
            vec![span(wanted, 3, 30), span(twin, 9, 90)],
            vec![span(wanted, 4, 15), span(wanted, 2, 20)],
        ];
        let parts = parts
            .into_iter()
            .enumerate()
            .map(|(index, mut rows)| {
                rows.extend(
                    (0..100).map(|trace| span(id(trace, trace + 1), 1000 + index as u64, 5)),
                );
                rows
            })
            .collect();
        let store = store_with_parts(dir.path(), parts).await;
        let engine = crate::Engine::new(store.clone(), QueryConfig::default()).unwrap();

        let trace = engine.trace(TraceId(wanted), false).await.unwrap().unwrap();
        assert_eq!(trace.trace_id, TraceId(wanted));
        assert_eq!(
            span_ids(&trace),
            [1, 4, 2, 3],
            "each span once, in start order"
        );

        let by_low = engine.trace(TraceId(id(0, 0x1234)), true).await.unwrap();
        assert_eq!(
            by_low.unwrap().trace_id,
            TraceId(twin),
            "the newest trace wins"
        );
        let exact_only = engine.trace(TraceId(id(0, 0x1234)), false).await.unwrap();
        assert!(exact_only.is_none(), "a full id matches only itself");
        let missing = engine
            .trace(TraceId(id(0xaaaa, 0x9999)), true)
            .await
            .unwrap();
        assert!(missing.is_none());
    }

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
