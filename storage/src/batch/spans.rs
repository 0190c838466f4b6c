//! The `spans` table: one row per span.

use std::sync::{Arc, OnceLock};

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Schema, SchemaRef};

use super::columns::{Columns, attributes_type, field, opt_str, origin_fields};
use super::span_builder::{SpanBatchBuilder, SpanFields};
use crate::error::StorageError;
use crate::model::{SpanId, SpanRow, TraceId};

/// Schema of the `spans` table. Ids are lowercase hex text so SQL users can compare them.
pub fn spans_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let mut fields = vec![
                field("trace_id", DataType::Utf8, false),
                field("span_id", DataType::Utf8, false),
                field("parent_span_id", DataType::Utf8, true),
                field("trace_state", DataType::Utf8, false),
                field("flags", DataType::UInt32, false),
                field("name", DataType::Utf8, false),
                field("kind", DataType::Int32, false),
                field("start_time_unix_nano", DataType::Int64, false),
                field("end_time_unix_nano", DataType::Int64, false),
                field("duration_ns", DataType::Int64, false),
                field("status_code", DataType::Int32, false),
                field("status_message", DataType::Utf8, false),
                field("attributes", attributes_type(), false),
                field("attributes_typed", DataType::Utf8, true),
                field("dropped_attributes_count", DataType::UInt32, false),
                field("events", DataType::Utf8, true),
                field("dropped_events_count", DataType::UInt32, false),
                field("links", DataType::Utf8, true),
                field("dropped_links_count", DataType::UInt32, false),
            ];
            fields.extend(origin_fields());
            Arc::new(Schema::new(fields))
        })
        .clone()
}

/// Builds one batch from spans.
pub fn spans_to_batch(rows: &[SpanRow]) -> Result<RecordBatch, StorageError> {
    let mut builder = SpanBatchBuilder::with_capacity(rows.len());
    for row in rows {
        let fields = SpanFields {
            trace_id: row.trace_id.0,
            span_id: row.span_id.0,
            parent_span_id: row.parent_span_id.map(|id| id.0),
            trace_state: &row.trace_state,
            flags: row.flags,
            name: &row.name,
            kind: row.kind,
            start_time_unix_nano: row.start_time_unix_nano,
            end_time_unix_nano: row.end_time_unix_nano,
            status_code: row.status_code,
            status_message: &row.status_message,
            dropped_attributes_count: row.dropped_attributes_count,
            dropped_events_count: row.dropped_events_count,
            dropped_links_count: row.dropped_links_count,
        };
        builder.append(
            &fields,
            row.attributes
                .iter()
                .map(|(key, value)| (key.as_str(), value.as_ref())),
            &row.events,
            &row.links,
            &row.origin,
        );
    }
    Ok(builder.finish()?.into_inner())
}

/// Reads spans back from a batch with (at least) the `spans` columns.
pub fn spans_from_batch(batch: &RecordBatch) -> Result<Vec<SpanRow>, StorageError> {
    let columns = Columns::new(batch);
    let trace_id = columns.strings("trace_id")?;
    let span_id = columns.strings("span_id")?;
    let parent_span_id = columns.strings("parent_span_id")?;
    let trace_state = columns.strings("trace_state")?;
    let flags = columns.u32s("flags")?;
    let name = columns.strings("name")?;
    let kind = columns.i32s("kind")?;
    let start = columns.i64s("start_time_unix_nano")?;
    let end = columns.i64s("end_time_unix_nano")?;
    let status_code = columns.i32s("status_code")?;
    let status_message = columns.strings("status_message")?;
    let attributes = columns.attributes("attributes")?;
    let dropped_attributes = columns.u32s("dropped_attributes_count")?;
    let events = columns.strings("events")?;
    let dropped_events = columns.u32s("dropped_events_count")?;
    let links = columns.strings("links")?;
    let dropped_links = columns.u32s("dropped_links_count")?;
    let origins = columns.origins()?;

    let mut rows = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let trace_id = TraceId::from_hex(trace_id.value(row))
            .ok_or_else(|| StorageError::Corrupt("bad trace_id in spans".to_string()))?;
        let span_id = SpanId::from_hex(span_id.value(row))
            .ok_or_else(|| StorageError::Corrupt("bad span_id in spans".to_string()))?;
        rows.push(SpanRow {
            trace_id,
            span_id,
            parent_span_id: opt_str(&parent_span_id, row).and_then(SpanId::from_hex),
            trace_state: trace_state.value(row).to_string(),
            flags: flags.value(row),
            name: name.value(row).to_string(),
            kind: kind.value(row),
            start_time_unix_nano: start.value(row),
            end_time_unix_nano: end.value(row),
            status_code: status_code.value(row),
            status_message: status_message.value(row).to_string(),
            attributes: attributes.row(row),
            dropped_attributes_count: dropped_attributes.value(row),
            events: opt_str(&events, row)
                .map(serde_json::from_str)
                .transpose()?
                .unwrap_or_default(),
            dropped_events_count: dropped_events.value(row),
            links: opt_str(&links, row)
                .map(serde_json::from_str)
                .transpose()?
                .unwrap_or_default(),
            dropped_links_count: dropped_links.value(row),
            origin: origins.row(row),
        });
    }
    Ok(rows)
}
