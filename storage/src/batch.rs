//! Rows ⇄ Arrow record batches. One schema per signal; the same batches go to the WAL
//! (Arrow IPC), the recent in-memory buffer and the Parquet files, so what SQL sees is
//! exactly what was stored. Spans are stored with their attribute maps packed
//! ([`stored_schema_for`]); SQL sees the maps ([`schema_for`]).

pub(crate) mod columns;
mod logs;
mod metrics;
mod packed;
mod packed_builder;
mod span_builder;
mod spans;

pub use logs::{logs_from_batch, logs_schema, logs_to_batch};
pub use metrics::{metrics_from_batch, metrics_schema, metrics_to_batch};
pub use packed::{
    PACKED_MAP_COLUMNS, pack_spans, packed_keys_name, packed_spans_schema, packed_value,
    packed_values_name, unpack_map, unpack_spans,
};
pub use span_builder::{SpanBatch, SpanBatchBuilder, SpanFields};
pub use spans::{spans_from_batch, spans_schema, spans_to_batch};

use arrow::datatypes::SchemaRef;

use crate::model::Signal;

/// The Arrow schema of a signal's rows in memory, in IPC records of the WAL and in new files:
/// spans with their attribute maps packed.
pub fn stored_schema_for(signal: Signal) -> SchemaRef {
    match signal {
        Signal::Spans => packed_spans_schema(),
        other => schema_for(other),
    }
}

/// The Arrow schema of a signal's table, as SQL sees it.
pub fn schema_for(signal: Signal) -> SchemaRef {
    match signal {
        Signal::Spans => spans_schema(),
        Signal::Logs => logs_schema(),
        Signal::Metrics => metrics_schema(),
    }
}
