//! Rows ⇄ Arrow record batches. One schema per signal; the same batches go to the WAL
//! (Arrow IPC), the recent in-memory buffer and the Parquet files, so what SQL sees is
//! exactly what was stored.

pub(crate) mod columns;
mod logs;
mod metrics;
mod packed;
mod span_builder;
mod spans;

pub use logs::{logs_from_batch, logs_schema, logs_to_batch};
pub use metrics::{metrics_from_batch, metrics_schema, metrics_to_batch};
pub use packed::{
    PACKED_MAP_COLUMNS, PackingGather, packed_keys_name, packed_spans_schema, packed_values_name,
    unpack_map, unpack_spans,
};
pub use span_builder::{SpanBatch, SpanBatchBuilder, SpanFields};
pub use spans::{spans_from_batch, spans_schema, spans_to_batch};

use arrow::datatypes::SchemaRef;

use crate::model::Signal;

/// The Arrow schema of a signal's table.
pub fn schema_for(signal: Signal) -> SchemaRef {
    match signal {
        Signal::Spans => spans_schema(),
        Signal::Logs => logs_schema(),
        Signal::Metrics => metrics_schema(),
    }
}
