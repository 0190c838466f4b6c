//! Service and operation names per Parquet file, computed once per file: files never change,
//! so the trace search page's service and operation lists read a small in-memory summary
//! per file plus the recent rows, instead of every stored span on each page load.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use periscope_storage::{Signal, TableSnapshot};

use crate::Engine;
use crate::context;
use crate::error::QueryError;

/// Span names by service.
pub(crate) type Names = BTreeMap<String, BTreeSet<String>>;

/// Summaries of published files, by path. Entries of files no longer published are dropped
/// when the next summary is taken.
#[derive(Clone, Default)]
pub(crate) struct FileSummaries {
    by_file: Arc<Mutex<HashMap<PathBuf, Arc<Names>>>>,
}

impl FileSummaries {
    fn cached(&self, path: &PathBuf) -> Option<Arc<Names>> {
        self.lock().get(path).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Arc<Names>>> {
        // Plain data: a panic elsewhere cannot leave it half-updated in a harmful way.
        self.by_file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Every service and its span names over all stored spans.
pub(crate) async fn names(engine: &Engine) -> Result<Names, QueryError> {
    let snapshot = engine.store.snapshot(Signal::Spans);
    let mut all = Names::new();
    for file in &snapshot.files {
        let summary = match engine.summaries.cached(&file.path) {
            Some(summary) => summary,
            None => {
                let one_file = TableSnapshot {
                    files: vec![file.clone()],
                    recent: Vec::new(),
                };
                let summary = Arc::new(names_of(engine, one_file).await?);
                engine
                    .summaries
                    .lock()
                    .insert(file.path.clone(), summary.clone());
                summary
            }
        };
        merge(&mut all, &summary);
    }
    if !snapshot.recent.is_empty() {
        let recent = TableSnapshot {
            files: Vec::new(),
            recent: snapshot.recent.clone(),
        };
        merge(&mut all, &names_of(engine, recent).await?);
    }
    let published: std::collections::HashSet<&PathBuf> =
        snapshot.files.iter().map(|file| &file.path).collect();
    engine
        .summaries
        .lock()
        .retain(|path, _| published.contains(path));
    Ok(all)
}

fn merge(all: &mut Names, part: &Names) {
    for (service, operations) in part {
        all.entry(service.clone())
            .or_default()
            .extend(operations.iter().cloned());
    }
}

async fn names_of(engine: &Engine, spans: TableSnapshot) -> Result<Names, QueryError> {
    let context =
        context::spans_session(&engine.store, &engine.config, &engine.caches, spans).await?;
    let sql = "SELECT DISTINCT service_name, name FROM spans";
    let mut names = Names::new();
    for row in crate::services::rows(&context, sql).await? {
        if let (serde_json::Value::String(service), serde_json::Value::String(name)) =
            (&row[0], &row[1])
        {
            names
                .entry(service.clone())
                .or_default()
                .insert(name.clone());
        }
    }
    Ok(names)
}
