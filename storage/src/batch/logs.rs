//! The `logs` table: one row per log record.

use std::sync::{Arc, OnceLock};

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, Schema, SchemaRef};

use super::columns::{
    Columns, ResourceLayout, attribute_columns, attributes_type, field, hex_ids, i32s, i64s,
    opt_str, origin_columns, origin_fields, u32s, utf8, utf8_opt,
};
use crate::error::StorageError;
use crate::model::{LogRow, SpanId, TraceId};
use crate::value::AttrValue;

/// Schema of the `logs` table.
pub fn logs_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let mut fields = vec![
                field("time_unix_nano", DataType::Int64, false),
                field("observed_time_unix_nano", DataType::Int64, false),
                field("severity_number", DataType::Int32, false),
                field("severity_text", DataType::Utf8, false),
                field("body", DataType::Utf8, false),
                field("body_typed", DataType::Utf8, true),
                field("trace_id", DataType::Utf8, true),
                field("span_id", DataType::Utf8, true),
                field("flags", DataType::UInt32, false),
                field("event_name", DataType::Utf8, false),
                field("attributes", attributes_type(), false),
                field("attributes_typed", DataType::Utf8, true),
                field("dropped_attributes_count", DataType::UInt32, false),
            ];
            fields.extend(origin_fields());
            Arc::new(Schema::new(fields))
        })
        .clone()
}

/// Builds one batch from log records.
pub fn logs_to_batch(rows: &[LogRow]) -> Result<RecordBatch, StorageError> {
    let (attributes, attributes_typed) = attribute_columns(rows.iter().map(|row| &row.attributes));
    let mut columns: Vec<ArrayRef> = vec![
        i64s(rows.iter().map(|row| row.time_unix_nano)),
        i64s(rows.iter().map(|row| row.observed_time_unix_nano)),
        i32s(rows.iter().map(|row| row.severity_number)),
        utf8(rows.iter().map(|row| row.severity_text.as_str())),
        utf8_opt(rows.iter().map(|row| Some(row.body_text()))),
        utf8_opt(rows.iter().map(|row| match &row.body {
            AttrValue::Str(_) => None,
            other => serde_json::to_string(other).ok(),
        })),
        hex_ids(rows.iter().map(|row| row.trace_id.as_ref().map(|id| &id.0))),
        hex_ids(rows.iter().map(|row| row.span_id.as_ref().map(|id| &id.0))),
        u32s(rows.iter().map(|row| row.flags)),
        utf8(rows.iter().map(|row| row.event_name.as_str())),
        attributes,
        attributes_typed,
        u32s(rows.iter().map(|row| row.dropped_attributes_count)),
    ];
    columns.extend(origin_columns(
        rows.iter().map(|row| row.origin.as_ref()),
        ResourceLayout::Map,
    )?);
    Ok(RecordBatch::try_new(logs_schema(), columns)?)
}

/// Reads log records back from a batch with the `logs` columns.
pub fn logs_from_batch(batch: &RecordBatch) -> Result<Vec<LogRow>, StorageError> {
    let columns = Columns::new(batch);
    let time = columns.i64s("time_unix_nano")?;
    let observed = columns.i64s("observed_time_unix_nano")?;
    let severity_number = columns.i32s("severity_number")?;
    let severity_text = columns.strings("severity_text")?;
    let body = columns.strings("body")?;
    let body_typed = columns.strings("body_typed")?;
    let trace_id = columns.strings("trace_id")?;
    let span_id = columns.strings("span_id")?;
    let flags = columns.u32s("flags")?;
    let event_name = columns.strings("event_name")?;
    let attributes = columns.attributes("attributes")?;
    let dropped_attributes = columns.u32s("dropped_attributes_count")?;
    let origins = columns.origins()?;

    let mut rows = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let body = match opt_str(&body_typed, row) {
            Some(typed) => serde_json::from_str(typed)?,
            None => AttrValue::Str(body.value(row).to_string()),
        };
        rows.push(LogRow {
            time_unix_nano: time.value(row),
            observed_time_unix_nano: observed.value(row),
            severity_number: severity_number.value(row),
            severity_text: severity_text.value(row).to_string(),
            body,
            attributes: attributes.row(row),
            dropped_attributes_count: dropped_attributes.value(row),
            trace_id: opt_str(&trace_id, row).and_then(TraceId::from_hex),
            span_id: opt_str(&span_id, row).and_then(SpanId::from_hex),
            flags: flags.value(row),
            event_name: event_name.value(row).to_string(),
            origin: origins.row(row),
        });
    }
    Ok(rows)
}
