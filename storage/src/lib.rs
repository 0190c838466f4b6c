//! Periscope storage: the row model and its Arrow schemas, the write-ahead log, the Parquet
//! files for spans and metrics, the Tantivy index for logs, and the catalog that ties them
//! together.
//!
//! Inputs: rows from the collector (`Store::prepare` + `Store::append`). Outputs: durable
//! acknowledgements, table snapshots (files + recent rows) and log search for the query
//! crate. Never depends on DataFusion, tonic, axum or any other Periscope crate.

pub mod batch;
pub mod catalog;
pub mod config;
pub mod error;
pub mod ipc;
pub mod logindex;
pub mod model;
pub mod parquet_file;
pub mod span_stats;
pub mod store;
#[cfg(any(test, feature = "test-support"))]
pub mod test_support;
pub mod trace_rows;
pub mod value;
mod varint;

pub use config::StorageConfig;
pub use error::StorageError;
pub use logindex::{LogHits, LogQuery, LogSearcher};
pub use model::{
    LogRow, MetricRow, MetricType, Origin, Signal, SpanEvent, SpanId, SpanLink, SpanRow, TraceId,
};
pub use store::{IngestBatch, PreparedAppend, SnapshotFile, StorageStats, Store, TableSnapshot};
pub use value::{AttrValue, Attributes};

/// The write-ahead log lives in its own crate (the agent's disk buffer uses it too).
pub use periscope_wal as wal;

/// Re-exported so the query crate builds tables from our batches without naming arrow
/// itself (DataFusion re-exports the same arrow version).
pub use arrow;
