//! The `metrics` table: one row per data point.

use std::sync::{Arc, OnceLock};

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, UInt64Array};
use arrow::datatypes::{DataType, Schema, SchemaRef};

use super::columns::{
    Columns, ResourceLayout, attribute_columns, attributes_type, field, i32s, i64s, opt_str,
    origin_columns, origin_fields, u32s, utf8, utf8_opt,
};
use crate::error::StorageError;
use crate::model::{MetricRow, MetricType};

/// Schema of the `metrics` table.
pub fn metrics_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let mut fields = vec![
                field("metric_name", DataType::Utf8, false),
                field("metric_type", DataType::Utf8, false),
                field("description", DataType::Utf8, false),
                field("unit", DataType::Utf8, false),
                field("temporality", DataType::Int32, false),
                field("is_monotonic", DataType::Boolean, false),
                field("time_unix_nano", DataType::Int64, false),
                field("start_time_unix_nano", DataType::Int64, false),
                field("value", DataType::Float64, true),
                field("value_int", DataType::Int64, true),
                field("count", DataType::UInt64, true),
                field("sum", DataType::Float64, true),
                field("min", DataType::Float64, true),
                field("max", DataType::Float64, true),
                field("distribution", DataType::Utf8, true),
                field("exemplars", DataType::Utf8, true),
                field("flags", DataType::UInt32, false),
                field("attributes", attributes_type(), false),
                field("attributes_typed", DataType::Utf8, true),
            ];
            fields.extend(origin_fields());
            Arc::new(Schema::new(fields))
        })
        .clone()
}

fn f64_opt(values: impl Iterator<Item = Option<f64>>) -> ArrayRef {
    Arc::new(Float64Array::from(values.collect::<Vec<_>>()))
}

/// Builds one batch from data points.
pub fn metrics_to_batch(rows: &[MetricRow]) -> Result<RecordBatch, StorageError> {
    let (attributes, attributes_typed) = attribute_columns(rows.iter().map(|row| &row.attributes));
    let mut columns: Vec<ArrayRef> = vec![
        utf8(rows.iter().map(|row| row.metric_name.as_str())),
        utf8(rows.iter().map(|row| row.metric_type.as_str())),
        utf8(rows.iter().map(|row| row.description.as_str())),
        utf8(rows.iter().map(|row| row.unit.as_str())),
        i32s(rows.iter().map(|row| row.temporality)),
        Arc::new(BooleanArray::from(
            rows.iter().map(|row| row.is_monotonic).collect::<Vec<_>>(),
        )),
        i64s(rows.iter().map(|row| row.time_unix_nano)),
        i64s(rows.iter().map(|row| row.start_time_unix_nano)),
        f64_opt(rows.iter().map(|row| row.value)),
        Arc::new(Int64Array::from(
            rows.iter().map(|row| row.value_int).collect::<Vec<_>>(),
        )),
        Arc::new(UInt64Array::from(
            rows.iter().map(|row| row.count).collect::<Vec<_>>(),
        )),
        f64_opt(rows.iter().map(|row| row.sum)),
        f64_opt(rows.iter().map(|row| row.min)),
        f64_opt(rows.iter().map(|row| row.max)),
        utf8_opt(rows.iter().map(|row| row.distribution_json.clone())),
        utf8_opt(rows.iter().map(|row| row.exemplars_json.clone())),
        u32s(rows.iter().map(|row| row.flags)),
        attributes,
        attributes_typed,
    ];
    columns.extend(origin_columns(
        rows.iter().map(|row| row.origin.as_ref()),
        ResourceLayout::Map,
    )?);
    Ok(RecordBatch::try_new(metrics_schema(), columns)?)
}

fn opt<T: arrow::datatypes::ArrowPrimitiveType>(
    array: &arrow::array::PrimitiveArray<T>,
    row: usize,
) -> Option<T::Native> {
    use arrow::array::Array;
    (!array.is_null(row)).then(|| array.value(row))
}

/// Reads data points back from a batch with the `metrics` columns.
pub fn metrics_from_batch(batch: &RecordBatch) -> Result<Vec<MetricRow>, StorageError> {
    let columns = Columns::new(batch);
    let name = columns.strings("metric_name")?;
    let metric_type = columns.strings("metric_type")?;
    let description = columns.strings("description")?;
    let unit = columns.strings("unit")?;
    let temporality = columns.i32s("temporality")?;
    let is_monotonic = columns.bools("is_monotonic")?;
    let time = columns.i64s("time_unix_nano")?;
    let start = columns.i64s("start_time_unix_nano")?;
    let value = columns.f64s("value")?;
    let value_int = columns.i64s("value_int")?;
    let count = columns.u64s("count")?;
    let sum = columns.f64s("sum")?;
    let min = columns.f64s("min")?;
    let max = columns.f64s("max")?;
    let distribution = columns.strings("distribution")?;
    let exemplars = columns.strings("exemplars")?;
    let flags = columns.u32s("flags")?;
    let attributes = columns.attributes("attributes")?;
    let origins = columns.origins()?;

    let mut rows = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let metric_type = MetricType::parse(metric_type.value(row))
            .ok_or_else(|| StorageError::Corrupt("unknown metric_type".to_string()))?;
        rows.push(MetricRow {
            metric_name: name.value(row).to_string(),
            description: description.value(row).to_string(),
            unit: unit.value(row).to_string(),
            metric_type,
            temporality: temporality.value(row),
            is_monotonic: is_monotonic.value(row),
            time_unix_nano: time.value(row),
            start_time_unix_nano: start.value(row),
            value: opt(&value, row),
            value_int: opt(&value_int, row),
            count: opt(&count, row),
            sum: opt(&sum, row),
            min: opt(&min, row),
            max: opt(&max, row),
            distribution_json: opt_str(&distribution, row).map(str::to_string),
            exemplars_json: opt_str(&exemplars, row).map(str::to_string),
            flags: flags.value(row),
            attributes: attributes.row(row),
            origin: origins.row(row),
        });
    }
    Ok(rows)
}
