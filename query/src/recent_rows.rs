//! The recent (not yet flushed) span rows that can belong to given traces, picked out of the
//! per-request batches without a query plan.
//!
//! The recent rows are one small batch per export request (about 100 spans each, up to a
//! flush's worth: thousands of batches). Planning a scan over them sizes every column of
//! every batch, and filtering visits each batch: a lookup by id spent most of its time there
//! while the rows it wanted were a handful. One pass over the trace id columns here costs
//! a 16-byte comparison per row and leaves a handful of rows to decode.

use datafusion::arrow::array::{RecordBatch, StringArray, UInt32Array};
use datafusion::arrow::compute::take_record_batch;

use crate::error::QueryError;

/// The rows of `batch` whose trace id ends with one of `low_halves` (16 lowercase hex digits
/// each, sorted): every row a lookup by full ids or by their 64-bit low halves can match;
/// `None` when there are none. Null ids (none are stored) have empty values and never match.
pub(crate) fn rows_of_traces(
    batch: &RecordBatch,
    low_halves: &[[u8; 16]],
) -> Result<Option<RecordBatch>, QueryError> {
    let Some(ids) = batch
        .column_by_name("trace_id")
        .and_then(|column| column.as_any().downcast_ref::<StringArray>())
    else {
        return Err(QueryError::Internal(
            "recent spans have no text trace_id column".to_string(),
        ));
    };
    // Straight over the offsets and bytes, 16 bytes compared as one array: almost every
    // batch matches nowhere, and this runs over every recent row of every lookup.
    let offsets = ids.value_offsets();
    let bytes = ids.value_data();
    let mut rows: Vec<u32> = Vec::new();
    for (row, ends) in offsets.windows(2).enumerate() {
        let end = ends[1] as usize;
        let Some(start) = end
            .checked_sub(16)
            .filter(|start| *start >= ends[0] as usize)
        else {
            continue;
        };
        let low = &bytes[start..end];
        if low_halves
            .binary_search_by(|probe| probe[..].cmp(low))
            .is_ok()
        {
            rows.push(row as u32);
        }
    }
    if rows.is_empty() {
        return Ok(None);
    }
    Ok(Some(take_record_batch(batch, &UInt32Array::from(rows))?))
}

/// The rows of `batches` whose trace id's low 64 bits are one of `low_halves`.
pub(crate) fn pick(
    batches: &[RecordBatch],
    low_halves: &[u64],
) -> Result<Vec<RecordBatch>, QueryError> {
    let mut hex: Vec<[u8; 16]> = low_halves.iter().map(|low| low_half_hex(*low)).collect();
    hex.sort_unstable();
    batches
        .iter()
        .filter_map(|batch| rows_of_traces(batch, &hex).transpose())
        .collect()
}

/// `low` as the 16 lowercase hex digits ending a trace id.
pub(crate) fn low_half_hex(low: u64) -> [u8; 16] {
    let mut hex = [0u8; 16];
    hex.copy_from_slice(format!("{low:016x}").as_bytes());
    hex
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn batch(ids: &[&str]) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("trace_id", DataType::Utf8, false),
            Field::new("row", DataType::Int64, false),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(StringArray::from(ids.to_vec())),
                Arc::new(Int64Array::from_iter_values(0..ids.len() as i64)),
            ],
        )
        .unwrap()
    }

    #[test]
    fn keeps_only_rows_whose_id_has_the_low_half() {
        let wanted = "0123456789abcdef0011223344556677";
        let same_low = "ffffffffffffffff0011223344556677";
        let other = "0123456789abcdefffffffffffffffff";
        let batches = [
            batch(&[other, wanted, other]),
            batch(&[other, other]),
            batch(&[same_low, wanted]),
        ];
        let low: [u8; 16] = wanted.as_bytes()[16..].try_into().unwrap();
        assert_eq!(low_half_hex(0x0011223344556677), low);
        let kept: Vec<RecordBatch> = batches
            .iter()
            .filter_map(|batch| rows_of_traces(batch, &[low]).unwrap())
            .collect();
        assert_eq!(kept.len(), 2, "a batch without a match is dropped");
        let ids: Vec<String> = kept
            .iter()
            .flat_map(|batch| {
                let ids = batch
                    .column(0)
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .unwrap();
                ids.iter()
                    .map(|id| id.unwrap().to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(ids, [wanted, same_low, wanted]);
    }
}
