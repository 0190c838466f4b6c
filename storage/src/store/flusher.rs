//! The flusher thread: turns the recent buffer of spans and metrics into immutable Parquet
//! files, publishes them in the catalog, and only then drops the rows from memory, so the
//! WAL can be truncated below them.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use arrow::array::{Array, Int64Array, RecordBatch};
use parquet::file::metadata::KeyValue;
use tracing::warn;

use super::{FlusherCommand, Inner};
use crate::catalog::{FileEntry, save_catalog};
use crate::error::StorageError;
use crate::model::Signal;
use crate::parquet_file::write_parquet_with_footer;
use crate::span_stats::{FOOTER_KEY, encode, summarize_flush};

const FILE_SIGNALS: [Signal; 2] = [Signal::Spans, Signal::Metrics];

pub(crate) fn run_flusher(inner: Arc<Inner>, commands: Receiver<FlusherCommand>) {
    loop {
        let (force, stop, done) = match commands.recv_timeout(Duration::from_millis(500)) {
            Ok(FlusherCommand::FlushNow(done)) => (true, false, Some(done)),
            Ok(FlusherCommand::Shutdown) | Err(RecvTimeoutError::Disconnected) => {
                (true, true, None)
            }
            Err(RecvTimeoutError::Timeout) => (false, false, None),
        };
        for signal in FILE_SIGNALS {
            if (force || flush_due(&inner, signal))
                && let Err(err) = flush_signal(&inner, signal)
            {
                inner.stats.flush_errors.fetch_add(1, Ordering::Relaxed);
                warn!(signal = signal.as_str(), error = %err, "flush failed; rows stay buffered");
            }
            update_lag(&inner, signal);
        }
        if let Some(done) = done {
            let _ = done.send(());
        }
        if stop {
            break;
        }
    }
}

fn flush_due(inner: &Inner, signal: Signal) -> bool {
    let tables = inner.lock_tables();
    let recent = tables.recent(signal);
    let Some(oldest) = recent.front() else {
        return false;
    };
    oldest.received_at.elapsed() >= Duration::from_secs(inner.config.flush_interval_secs)
        || tables.recent_rows(signal) >= inner.config.flush_max_rows
}

fn update_lag(inner: &Inner, signal: Signal) {
    let lag_ms = inner
        .lock_tables()
        .recent(signal)
        .front()
        .map_or(0, |chunk| chunk.received_at.elapsed().as_millis() as u64);
    inner.stats.set_flush_lag(signal, lag_ms);
}

fn time_range(batches: &[RecordBatch], column: &str) -> (i64, i64) {
    let mut min = i64::MAX;
    let mut max = i64::MIN;
    for batch in batches {
        let Some(times) = batch.column_by_name(column) else {
            continue;
        };
        let Some(times) = times.as_any().downcast_ref::<Int64Array>() else {
            continue;
        };
        if times.is_empty() {
            continue;
        }
        if let Some(value) = arrow::compute::min(times) {
            min = min.min(value);
        }
        if let Some(value) = arrow::compute::max(times) {
            max = max.max(value);
        }
    }
    (min, max)
}

/// Writes every buffered chunk of `signal` into one Parquet file and publishes it.
pub(crate) fn flush_signal(inner: &Inner, signal: Signal) -> Result<(), StorageError> {
    let chunks: Vec<_> = inner.lock_tables().recent(signal).iter().cloned().collect();
    let Some(last) = chunks.last() else {
        return Ok(());
    };
    let last_seq = last.seq;
    let batches: Vec<RecordBatch> = chunks.iter().map(|chunk| chunk.batch.clone()).collect();
    let dir = inner.data_dir.join(signal.as_str());
    let file_name = format!("{last_seq:020}.parquet");
    // Only the flusher replaces the carry, so the one read here is still current at publish.
    let mut next_carry = None;
    let mut footer = Vec::new();
    if signal == Signal::Spans {
        let carry = inner.lock_tables().edge_carry.clone();
        let (stats, carry) = summarize_flush(&batches, &carry)?;
        footer.push(KeyValue::new(FOOTER_KEY.to_string(), encode(&stats)));
        next_carry = Some(carry);
    }
    let written = write_parquet_with_footer(
        &dir,
        &file_name,
        signal,
        &batches,
        inner.config.parquet_zstd_level,
        footer,
    )?;
    let time_column = if signal == Signal::Spans {
        "start_time_unix_nano"
    } else {
        "time_unix_nano"
    };
    let (min_time, max_time) = time_range(&batches, time_column);
    let entry = FileEntry {
        signal,
        path: format!("{}/{file_name}", signal.as_str()),
        num_rows: written.num_rows,
        num_bytes: written.num_bytes,
        min_time_unix_nano: min_time,
        max_time_unix_nano: max_time,
        last_seq,
        layout: written.layout,
    };
    {
        let mut tables = inner.lock_tables();
        let mut catalog = tables.catalog.clone();
        catalog.files.push(entry);
        catalog.set_persisted_through(signal, last_seq);
        if let Err(err) = save_catalog(&inner.data_dir, &catalog) {
            drop(tables);
            let _ = std::fs::remove_file(&written.path);
            return Err(err);
        }
        tables.catalog = catalog;
        if let Some(carry) = next_carry {
            tables.edge_carry = carry;
        }
        let recent = tables.recent_mut(signal);
        recent.drain(..chunks.len());
    }
    inner.progress.set_persisted(signal, last_seq);
    inner.stats.files_written.fetch_add(1, Ordering::Relaxed);
    Ok(())
}
