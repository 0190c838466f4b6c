//! Immutable Parquet files for spans and metrics: written to a temp name in the same
//! directory, synced, renamed, and the directory synced, so a crash leaves either the
//! whole file or nothing under its final name.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::compute::{SortColumn, concat_batches, lexsort_to_indices, take_record_batch};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

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
}

/// Sorts by the columns queries filter on first: spans by trace id (so a lookup by id
/// touches one small range, and the bloom filter sees clustered values), metrics by name.
fn sort_batch(signal: Signal, batch: &RecordBatch) -> Result<RecordBatch, StorageError> {
    let keys: &[&str] = match signal {
        Signal::Spans => &["trace_id", "start_time_unix_nano"],
        Signal::Metrics => &["metric_name", "time_unix_nano"],
        Signal::Logs => &["time_unix_nano"],
    };
    let mut sort_columns = Vec::with_capacity(keys.len());
    for key in keys {
        let column = batch
            .column_by_name(key)
            .ok_or_else(|| StorageError::Corrupt(format!("sort column {key} is missing")))?;
        sort_columns.push(SortColumn {
            values: column.clone(),
            options: None,
        });
    }
    let indices = lexsort_to_indices(&sort_columns, None)?;
    Ok(take_record_batch(batch, &indices)?)
}

/// Rows per data page of span files at most.
const SPAN_PAGE_ROWS: usize = 2048;

fn writer_properties(signal: Signal, zstd_level: i32) -> Result<WriterProperties, StorageError> {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(zstd_level)?))
        // Page statistics plus the trace-id sort let a lookup read one small page range;
        // 64k-row groups keep what a bloom-filter hit must decode small.
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(64 * 1024));
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
    let schema = crate::batch::schema_for(signal);
    let combined = concat_batches(&schema, batches)?;
    let sorted = sort_batch(signal, &combined)?;
    fs::create_dir_all(dir)?;
    let final_path = dir.join(file_name);
    let temp_path = dir.join(format!(".{file_name}.tmp"));
    let file = File::create(&temp_path)?;
    let mut writer =
        ArrowWriter::try_new(file, schema, Some(writer_properties(signal, zstd_level)?))?;
    writer.write(&sorted)?;
    let file = writer.into_inner()?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temp_path, &final_path)?;
    sync_dir(dir)?;
    let num_bytes = fs::metadata(&final_path)?.len();
    Ok(WrittenFile {
        path: final_path,
        num_rows: sorted.num_rows() as u64,
        num_bytes,
    })
}

/// Makes a rename or unlink in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)?.sync_all()?;
    Ok(())
}
