//! Fixtures shared by the query crate's tests.

use std::path::Path;
use std::sync::Arc;

use periscope_storage::{IngestBatch, Origin, SpanId, SpanRow, StorageConfig, Store, TraceId};

/// A server span of `service`, 1 µs long, named "op"; tests change what they need with
/// struct update syntax.
pub(crate) fn span_row(trace_id: [u8; 16], span_id: u64, start: i64, service: &str) -> SpanRow {
    SpanRow {
        trace_id: TraceId(trace_id),
        span_id: SpanId(span_id.to_be_bytes()),
        parent_span_id: None,
        trace_state: String::new(),
        flags: 0,
        name: "op".to_string(),
        kind: 2,
        start_time_unix_nano: start,
        end_time_unix_nano: start + 1_000,
        status_code: 0,
        status_message: String::new(),
        attributes: Vec::new(),
        dropped_attributes_count: 0,
        events: Vec::new(),
        dropped_events_count: 0,
        links: Vec::new(),
        dropped_links_count: 0,
        origin: Arc::new(Origin {
            service_name: service.to_string(),
            ..Origin::default()
        }),
    }
}

/// A store in `dir` holding `parts` appended in order: each part but the last flushed to a
/// file of its own, the last left in the recent rows (no timed flush interferes).
pub(crate) async fn store_with_parts(dir: &Path, parts: Vec<Vec<SpanRow>>) -> Store {
    let config = StorageConfig {
        flush_interval_secs: 3600,
        ..StorageConfig::default()
    };
    let store = Store::open(dir, config).unwrap();
    let last = parts.len().saturating_sub(1);
    for (index, rows) in parts.into_iter().enumerate() {
        let prepared = Store::prepare(IngestBatch::Spans(rows)).unwrap();
        store.append(prepared).await.unwrap();
        if index < last {
            store.flush_now().unwrap();
        }
    }
    store
}
