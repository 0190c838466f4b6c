//! Immutable Parquet files for spans and metrics: written to a temp name in the same
//! directory, synced, renamed, and the directory synced, so a crash leaves either the
//! whole file or nothing under its final name.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::compute::{SortColumn, concat, interleave_record_batch, lexsort_to_indices};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::batch::stored_schema_for;
use crate::catalog::FileLayout;
use crate::error::StorageError;
use crate::model::Signal;

/// What a written file holds, for the catalog.
#[derive(Debug, Clone)]
pub struct WrittenFile {
    /// Final path.
    pub path: PathBuf,
    /// Rows in the file.
    pub num_rows: u64,
    /// Size on disk.
    pub num_bytes: u64,
    /// How its columns are laid out.
    pub layout: FileLayout,
}

/// Rows written per `ArrowWriter::write` call: one row group, so the sorted copy of a flush
/// never exists whole in memory (a million-row copy cost more in page faults than in copying).
const ROW_GROUP_ROWS: usize = 64 * 1024;

/// Where each output row comes from, in file order: (batch index, row index). Sorted by the
/// columns queries filter on first: spans by trace id then start (a lookup by id touches one
/// small range, and the bloom filter sees clustered values), metrics by name then time.
fn sorted_positions(
    signal: Signal,
    batches: &[RecordBatch],
) -> Result<Vec<(usize, usize)>, StorageError> {
    if signal == Signal::Spans {
        return spans_by_trace_id(batches);
    }
    let keys: &[&str] = match signal {
        Signal::Metrics => &["metric_name", "time_unix_nano"],
        Signal::Spans | Signal::Logs => &["time_unix_nano"],
    };
    let mut positions = Vec::new();
    let mut sort_columns = Vec::with_capacity(keys.len());
    for key in keys {
        let mut parts = Vec::with_capacity(batches.len());
        for batch in batches {
            parts.push(
                batch
                    .column_by_name(key)
                    .ok_or_else(|| StorageError::Corrupt(format!("sort column {key} is missing")))?
                    .as_ref(),
            );
        }
        sort_columns.push(SortColumn {
            values: concat(&parts)?,
            options: None,
        });
    }
    for (batch_index, batch) in batches.iter().enumerate() {
        positions.extend((0..batch.num_rows()).map(|row| (batch_index, row)));
    }
    let indices = lexsort_to_indices(&sort_columns, None)?;
    Ok(indices
        .values()
        .iter()
        .map(|&index| positions[index as usize])
        .collect())
}

/// Spans sorted by (trace id, start). The hex ids are compared as 128-bit numbers (same
/// order as the lowercase text): string comparison was the flusher's largest cost.
fn spans_by_trace_id(batches: &[RecordBatch]) -> Result<Vec<(usize, usize)>, StorageError> {
    let rows = batches.iter().map(RecordBatch::num_rows).sum();
    let mut keys: Vec<(u128, i64, u32, u32)> = Vec::with_capacity(rows);
    for (batch_index, batch) in batches.iter().enumerate() {
        let columns = crate::batch::columns::Columns::new(batch);
        let trace_ids = columns.strings("trace_id")?;
        let starts = columns.i64s("start_time_unix_nano")?;
        for row in 0..batch.num_rows() {
            let trace_id = u128::from_str_radix(trace_ids.value(row), 16).map_err(|_| {
                StorageError::Corrupt(format!("bad trace_id {:?}", trace_ids.value(row)))
            })?;
            keys.push((trace_id, starts.value(row), batch_index as u32, row as u32));
        }
    }
    keys.sort_unstable();
    Ok(keys
        .into_iter()
        .map(|(_, _, batch, row)| (batch as usize, row as usize))
        .collect())
}

/// Encodings for columns that dictionaries serve badly (measured on the standard trace
/// workload, zstd 3; docs/benchmarks.md). Random hex ids: with their lengths stored apart,
/// zstd sees pure hex and gets near 4 bits a character (span_id 11.3 → 8.2 B/span).
/// Nanosecond times: split into byte planes, the slowly changing high bytes compress to
/// almost nothing (6.0 → 3.9 B/span each). Together 56 → 45 B/span.
fn column_encodings(signal: Signal) -> &'static [(&'static str, Encoding)] {
    match signal {
        Signal::Spans => &[
            // Sorted by trace id, each id repeats over its trace's rows, which zstd finds
            // without a dictionary; the dictionary (~140 KB a row group) had to be read and
            // decoded whole by every lookup by id (44.1 vs 45.1 B/span without it).
            ("trace_id", Encoding::DELTA_LENGTH_BYTE_ARRAY),
            ("span_id", Encoding::DELTA_LENGTH_BYTE_ARRAY),
            ("parent_span_id", Encoding::DELTA_LENGTH_BYTE_ARRAY),
            ("start_time_unix_nano", Encoding::BYTE_STREAM_SPLIT),
            ("end_time_unix_nano", Encoding::BYTE_STREAM_SPLIT),
            ("duration_ns", Encoding::BYTE_STREAM_SPLIT),
            // Event lists as JSON, one span in ten: nearly every value is distinct, so the
            // dictionary (~1 MB decoded a row group) only cost lookups time.
            ("events", Encoding::DELTA_LENGTH_BYTE_ARRAY),
            // A span's attribute values together (ids, urls, sequence numbers) are nearly
            // always distinct: interning them only costs the flush a hash per row. Their keys,
            // and a resource's values, repeat row after row and keep the dictionary.
            ("attributes_values", Encoding::DELTA_LENGTH_BYTE_ARRAY),
        ],
        Signal::Metrics | Signal::Logs => &[],
    }
}

/// Span columns no query prunes on, written without statistics. Computing a page's min and
/// max compares every value (a `memcmp` per attribute key and value in the map layout): 14 %
/// of the flush's instructions, for statistics nothing reads (callgrind, docs/benchmarks.md).
/// Packed attributes have no usable statistics, and random span ids none worth keeping.
const SPAN_COLUMNS_WITHOUT_STATISTICS: &[&[&str]] = &[
    &["span_id"],
    &["parent_span_id"],
    &["trace_state"],
    &["status_message"],
    &["attributes_keys"],
    &["attributes_values"],
    &["attributes_typed"],
    &["events"],
    &["links"],
    &["resource_attributes_keys"],
    &["resource_attributes_values"],
    &["resource_attributes_typed"],
    &["scope_attributes"],
];

/// Rows per data page of span files at most.
const SPAN_PAGE_ROWS: usize = 2048;

fn writer_properties(signal: Signal, zstd_level: i32) -> Result<WriterProperties, StorageError> {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(zstd_level)?))
        // Page statistics plus the trace-id sort let a lookup read one small page range;
        // 64k-row groups keep what a bloom-filter hit must decode small.
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS));
    if signal == Signal::Spans {
        // A bloom filter lets a lookup by trace id skip row groups (and files) that do not hold it.
        // Small pages: with page statistics on the sorted trace id, a lookup decodes only the
        // pages holding its rows; at the 1 MiB default a trace_id page held ~30k rows, so every
        // lookup decoded ~30k rows of every column.
        builder = builder
            .set_data_page_row_count_limit(SPAN_PAGE_ROWS)
            .set_write_batch_size(SPAN_PAGE_ROWS)
            .set_column_bloom_filter_enabled(ColumnPath::from("trace_id"), true)
            .set_column_bloom_filter_fpp(ColumnPath::from("trace_id"), 0.01);
        for parts in SPAN_COLUMNS_WITHOUT_STATISTICS {
            // A nested column's path has one part per level: `ColumnPath::from("a.b")` would
            // name a top-level column called "a.b" and silently match nothing.
            let path = ColumnPath::new(parts.iter().map(|part| part.to_string()).collect());
            builder = builder.set_column_statistics_enabled(path, EnabledStatistics::None);
        }
    }
    for (column, encoding) in column_encodings(signal) {
        let path = ColumnPath::from(*column);
        builder = builder
            .set_column_dictionary_enabled(path.clone(), false)
            .set_column_encoding(path, *encoding);
    }
    Ok(builder.build())
}

/// Writes `batches` (all of `signal`'s schema) as one sorted Parquet file named `file_name`
/// inside `dir`.
pub fn write_parquet(
    dir: &Path,
    file_name: &str,
    signal: Signal,
    batches: &[RecordBatch],
    zstd_level: i32,
) -> Result<WrittenFile, StorageError> {
    write_parquet_with_footer(dir, file_name, signal, batches, zstd_level, Vec::new())
}

/// As [`write_parquet`], with `footer` added to the file's key-value metadata (what the
/// flusher precomputed about the rows, read back without reading any row).
pub fn write_parquet_with_footer(
    dir: &Path,
    file_name: &str,
    signal: Signal,
    batches: &[RecordBatch],
    zstd_level: i32,
    footer: Vec<KeyValue>,
) -> Result<WrittenFile, StorageError> {
    let layout = FileLayout::for_new_files(signal);
    let schema = stored_schema_for(signal);
    if let Some(batch) = batches
        .iter()
        .find(|batch| batch.schema().fields() != schema.fields())
    {
        return Err(StorageError::Corrupt(format!(
            "a {} batch to write has {} columns, not the {} of its stored layout",
            signal.as_str(),
            batch.num_columns(),
            schema.fields().len()
        )));
    }
    let positions = sorted_positions(signal, batches)?;
    let batch_refs: Vec<&RecordBatch> = batches.iter().collect();
    fs::create_dir_all(dir)?;
    let final_path = dir.join(file_name);
    let temp_path = dir.join(format!(".{file_name}.tmp"));
    let file = File::create(&temp_path)?;
    let mut writer =
        ArrowWriter::try_new(file, schema, Some(writer_properties(signal, zstd_level)?))?;
    for slice in positions.chunks(ROW_GROUP_ROWS) {
        writer.write(&interleave_record_batch(&batch_refs, slice)?)?;
    }
    for entry in footer {
        writer.append_key_value_metadata(entry);
    }
    let file = writer.into_inner()?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temp_path, &final_path)?;
    sync_dir(dir)?;
    let num_bytes = fs::metadata(&final_path)?.len();
    Ok(WrittenFile {
        path: final_path,
        num_rows: positions.len() as u64,
        num_bytes,
        layout,
    })
}

/// Makes a rename or unlink in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use parquet::file::reader::{FileReader, SerializedFileReader};

    use super::*;
    use crate::batch::{spans_from_batch, spans_to_batch, unpack_spans};
    use crate::model::SpanRow;
    use crate::test_support::span_row;
    use crate::value::AttrValue;

    fn span(trace: u8, span: u8, start: i64) -> SpanRow {
        SpanRow {
            name: format!("op {span}"),
            kind: 1,
            end_time_unix_nano: start + 10,
            ..span_row([trace; 16], [span; 8], start, "")
        }
    }

    #[test]
    fn spans_from_many_batches_are_written_sorted_by_trace_then_start() {
        let dir = tempfile::tempdir().unwrap();
        let first = spans_to_batch(&[span(0xf0, 1, 30), span(0x01, 2, 20)]).unwrap();
        let second =
            spans_to_batch(&[span(0x01, 3, 10), span(0xab, 4, 5), span(0xf0, 5, 1)]).unwrap();
        let written =
            write_parquet(dir.path(), "a.parquet", Signal::Spans, &[first, second], 3).unwrap();
        assert_eq!(written.num_rows, 5);
        assert_eq!(written.layout, FileLayout::PackedAttributes);

        let file = File::open(&written.path).unwrap();
        let reader =
            parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file, 1024).unwrap();
        let rows: Vec<SpanRow> = reader
            .flat_map(|batch| spans_from_batch(&unpack_spans(batch.unwrap()).unwrap()).unwrap())
            .collect();
        let order: Vec<u8> = rows.iter().map(|row| row.span_id.0[0]).collect();
        assert_eq!(order, [3, 2, 4, 5, 1]);
    }

    #[test]
    fn random_ids_and_times_skip_the_dictionary() {
        let dir = tempfile::tempdir().unwrap();
        let batch = spans_to_batch(&[span(1, 1, 1), span(2, 2, 2)]).unwrap();
        let written = write_parquet(dir.path(), "b.parquet", Signal::Spans, &[batch], 3).unwrap();
        let reader = SerializedFileReader::new(File::open(&written.path).unwrap()).unwrap();
        let row_group = reader.metadata().row_group(0);
        for column in row_group.columns() {
            let name = column.column_path().string();
            let encodings: Vec<Encoding> = column.encodings().collect();
            match name.as_str() {
                "span_id" | "parent_span_id" | "attributes_values" => {
                    assert!(
                        encodings.contains(&Encoding::DELTA_LENGTH_BYTE_ARRAY),
                        "{name}"
                    )
                }
                "start_time_unix_nano" | "end_time_unix_nano" | "duration_ns" => {
                    assert!(encodings.contains(&Encoding::BYTE_STREAM_SPLIT), "{name}")
                }
                _ => {}
            }
            if name == "span_id" || name == "attributes_values" {
                assert!(!encodings.contains(&Encoding::RLE_DICTIONARY));
            }
        }
    }

    #[test]
    fn only_columns_queries_prune_on_carry_statistics() {
        let dir = tempfile::tempdir().unwrap();
        let mut row = span(1, 1, 1);
        row.attributes = vec![("http.route".into(), AttrValue::Str("/cart".into()))];
        let batch = spans_to_batch(&[row]).unwrap();
        let written = write_parquet(dir.path(), "c.parquet", Signal::Spans, &[batch], 3).unwrap();
        let reader = SerializedFileReader::new(File::open(&written.path).unwrap()).unwrap();
        let row_group = reader.metadata().row_group(0);
        let has_statistics = |name: &str| {
            let column = row_group
                .columns()
                .iter()
                .find(|column| column.column_path().string() == name)
                .unwrap_or_else(|| panic!("no column {name}"));
            column.statistics().is_some()
        };
        for pruned_on in ["trace_id", "start_time_unix_nano", "service_name", "name"] {
            assert!(has_statistics(pruned_on), "{pruned_on}");
        }
        for parts in SPAN_COLUMNS_WITHOUT_STATISTICS {
            let name = parts.join(".");
            assert!(!has_statistics(&name), "{name}");
        }
    }
}
