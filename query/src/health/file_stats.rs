//! The service health summaries of span files, read from their footers once per file (files
//! never change) and kept in memory: a few KB per file.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
use periscope_storage::SnapshotFile;
use periscope_storage::span_stats::{FOOTER_KEY, SpanStats, decode};

use crate::error::QueryError;

/// A file's summary; `None` for files written before summaries existed (they are scanned).
pub(crate) type FileSummary = Option<Arc<SpanStats>>;

/// Summaries of published span files, by path.
#[derive(Clone, Default)]
pub(crate) struct FileStats {
    by_file: Arc<Mutex<HashMap<PathBuf, FileSummary>>>,
}

impl FileStats {
    fn lock(&self) -> MutexGuard<'_, HashMap<PathBuf, FileSummary>> {
        // Plain data: a panic elsewhere cannot leave an entry half-written.
        self.by_file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The summary of each of `files`, in order, reading the footers not read before (on a
    /// blocking thread), and forgetting files no longer published.
    pub(crate) async fn of(&self, files: &[SnapshotFile]) -> Result<Vec<FileSummary>, QueryError> {
        let missing: Vec<PathBuf> = {
            let cached = self.lock();
            files
                .iter()
                .filter(|file| !cached.contains_key(&file.path))
                .map(|file| file.path.clone())
                .collect()
        };
        if !missing.is_empty() {
            let read = tokio::task::spawn_blocking(move || {
                missing
                    .into_iter()
                    .map(|path| read_summary(&path).map(|summary| (path, summary)))
                    .collect::<Result<Vec<_>, QueryError>>()
            })
            .await
            .map_err(|err| QueryError::Internal(format!("footer read task failed: {err}")))??;
            self.lock().extend(read);
        }
        let mut cached = self.lock();
        let published: HashSet<&PathBuf> = files.iter().map(|file| &file.path).collect();
        cached.retain(|path, _| published.contains(path));
        Ok(files
            .iter()
            .map(|file| cached.get(&file.path).cloned().flatten())
            .collect())
    }
}

fn read_summary(path: &PathBuf) -> Result<FileSummary, QueryError> {
    let file = std::fs::File::open(path)
        .map_err(|err| QueryError::Internal(format!("open {}: {err}", path.display())))?;
    let reader = SerializedFileReader::new(file)
        .map_err(|err| QueryError::Internal(format!("footer of {}: {err}", path.display())))?;
    let Some(entries) = reader.metadata().file_metadata().key_value_metadata() else {
        return Ok(None);
    };
    let Some(value) = entries
        .iter()
        .find(|entry| entry.key == FOOTER_KEY)
        .and_then(|entry| entry.value.as_deref())
    else {
        return Ok(None);
    };
    match decode(value) {
        Ok(stats) => Ok(stats.map(Arc::new)),
        // The rows are still good: scan them rather than fail the page.
        Err(err) => {
            tracing::warn!(path = %path.display(), error = %err, "unreadable span stats; scanning the file");
            Ok(None)
        }
    }
}
