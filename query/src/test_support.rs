//! Fixtures shared by the query crate's tests.

use periscope_storage::{IngestBatch, SpanRow, StorageConfig, Store};
use std::path::Path;

pub(crate) use periscope_storage::test_support::span_row;

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
