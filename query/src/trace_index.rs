//! Which Parquet files hold a trace, and where in them: per file, the row run of every trace
//! keyed by the low 64 bits of its id ([`FileTraces`]), read once per file (files never
//! change) and kept in memory (16 bytes per trace plus the file's footer). A lookup by id
//! then reads only the rows of the files that hold it, with no query plan: at 10M spans
//! (40 files) probing every file's statistics and bloom filters alone took ~30 ms, and
//! planning the scan another ~10.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use datafusion::arrow::array::RecordBatch;
use periscope_storage::SnapshotFile;
use periscope_storage::trace_rows::FileTraces;

use crate::Engine;
use crate::error::QueryError;

/// Trace runs per published file, by path.
#[derive(Clone, Default)]
pub(crate) struct TraceIndex {
    by_file: Arc<Mutex<HashMap<PathBuf, Arc<FileTraces>>>>,
}

impl TraceIndex {
    fn lock(&self) -> MutexGuard<'_, HashMap<PathBuf, Arc<FileTraces>>> {
        // Plain data: a panic elsewhere cannot leave an entry half-written.
        self.by_file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The trace runs of `file`, read on first use.
async fn traces_of(engine: &Engine, file: &SnapshotFile) -> Result<Arc<FileTraces>, QueryError> {
    if let Some(traces) = engine.trace_index.lock().get(&file.path).cloned() {
        return Ok(traces);
    }
    let path = file.path.clone();
    let traces = tokio::task::spawn_blocking(move || FileTraces::read(&path))
        .await
        .map_err(|err| QueryError::Internal(format!("trace index task failed: {err}")))??;
    let traces = Arc::new(traces);
    engine
        .trace_index
        .lock()
        .insert(file.path.clone(), traces.clone());
    Ok(traces)
}

/// The files of `files` that hold a trace whose id's low half is one of `low_halves` (exact
/// on those 64 bits), with their runs, indexing files not seen before.
async fn holding(
    engine: &Engine,
    files: &[SnapshotFile],
    low_halves: &[u64],
) -> Result<Vec<(SnapshotFile, Arc<FileTraces>)>, QueryError> {
    let mut holding = Vec::new();
    for file in files {
        let traces = traces_of(engine, file).await?;
        if traces.holds_any(low_halves) {
            holding.push((file.clone(), traces));
        }
    }
    let published: HashSet<&PathBuf> = files.iter().map(|file| &file.path).collect();
    engine
        .trace_index
        .lock()
        .retain(|path, _| published.contains(path));
    Ok(holding)
}

/// Every row of `files` whose trace id's low half is one of `low_halves`; other traces sharing
/// a low half come along, so callers compare full ids.
pub(crate) async fn rows_of_traces(
    engine: &Engine,
    files: &[SnapshotFile],
    low_halves: &[u64],
) -> Result<Vec<RecordBatch>, QueryError> {
    let holding = holding(engine, files, low_halves).await?;
    if holding.is_empty() {
        return Ok(Vec::new());
    }
    let low_halves = low_halves.to_vec();
    let read = tokio::task::spawn_blocking(move || {
        let mut batches = Vec::new();
        for (file, traces) in &holding {
            batches.extend(traces.read_rows(&file.path, &low_halves)?);
        }
        Ok::<_, QueryError>(batches)
    });
    read.await
        .map_err(|err| QueryError::Internal(format!("trace read task failed: {err}")))?
}

/// Indexes every published file not indexed yet, so the first lookups after a start do not
/// pay for it.
pub(crate) async fn warm(engine: &Engine, files: &[SnapshotFile]) -> Result<(), QueryError> {
    holding(engine, files, &[]).await.map(|_| ())
}
