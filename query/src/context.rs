//! A DataFusion session per query over one consistent snapshot of storage: `spans` and
//! `metrics` are the union of published Parquet files and the recent in-memory rows; `logs`
//! reads from the log index on demand. A fresh session per query gives each query its own
//! memory pool, so one heavy query cannot starve the others. Queries with a time window see
//! only the files whose time range meets it (from the catalog, before any file is opened).

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::{MemTable, TableProvider};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::cache::cache_manager::{
    CacheManager, CacheManagerConfig, FileMetadataCache,
};
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use periscope_storage::batch::{packed_spans_schema, schema_for, stored_schema_for};
use periscope_storage::catalog::FileLayout;
use periscope_storage::{Signal, SnapshotFile, Store, TableSnapshot};

use crate::config::QueryConfig;
use crate::error::QueryError;
use crate::logs_table::LogsTable;
use crate::packed_spans::PackedSpansTable;
use crate::packed_value::PackedLookups;
use crate::services::TimeWindow;

/// Caches shared by every per-query session. Parquet files are immutable, so their footers
/// (schema, statistics, page index, bloom filter offsets) are read once, not per query.
#[derive(Clone)]
pub(crate) struct SharedCaches {
    file_metadata: Arc<FileMetadataCache>,
}

impl SharedCaches {
    pub(crate) fn new() -> Result<SharedCaches, QueryError> {
        let manager = CacheManager::try_new(&CacheManagerConfig::default())?;
        Ok(SharedCaches {
            file_metadata: manager.get_file_metadata_cache(),
        })
    }
}

/// Builds a session with the three tables registered over everything stored.
pub(crate) async fn session(
    store: &Store,
    config: &QueryConfig,
    caches: &SharedCaches,
) -> Result<SessionContext, QueryError> {
    let spans = store.snapshot(Signal::Spans);
    let metrics = store.snapshot(Signal::Metrics);
    session_over(store, config, caches, spans, metrics).await
}

/// As [`session`], but `spans` and `metrics` leave out files entirely outside `window`.
/// Queries must still filter on the window themselves: kept files may hold other times.
pub(crate) async fn session_in_window(
    store: &Store,
    config: &QueryConfig,
    caches: &SharedCaches,
    window: TimeWindow,
) -> Result<SessionContext, QueryError> {
    let mut spans = store.snapshot(Signal::Spans);
    spans.files.retain(|file| file_meets(file, window));
    let mut metrics = store.snapshot(Signal::Metrics);
    metrics.files.retain(|file| file_meets(file, window));
    session_over(store, config, caches, spans, metrics).await
}

fn file_meets(file: &SnapshotFile, window: TimeWindow) -> bool {
    file.max_time_unix_nano >= window.start_ns && file.min_time_unix_nano <= window.end_ns
}

/// A session whose `spans` table is exactly `spans` (files and recent rows chosen by the
/// caller) and whose `metrics` table is empty.
pub(crate) async fn spans_session(
    store: &Store,
    config: &QueryConfig,
    caches: &SharedCaches,
    spans: TableSnapshot,
) -> Result<SessionContext, QueryError> {
    session_over(store, config, caches, spans, TableSnapshot::default()).await
}

async fn session_over(
    store: &Store,
    config: &QueryConfig,
    caches: &SharedCaches,
    spans: TableSnapshot,
    metrics: TableSnapshot,
) -> Result<SessionContext, QueryError> {
    let mut session_config = SessionConfig::new()
        .with_target_partitions(2)
        .with_information_schema(false);
    // Keep plain Utf8 strings: the schemas we wrote are what users and our readers expect.
    session_config
        .options_mut()
        .execution
        .parquet
        .schema_force_view_types = false;
    session_config
        .options_mut()
        .execution
        .parquet
        .pushdown_filters = true;
    session_config
        .options_mut()
        .execution
        .parquet
        .bloom_filter_on_read = true;
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(FairSpillPool::new(config.memory_limit_bytes)))
        .with_cache_manager(
            CacheManagerConfig::default()
                .with_file_metadata_cache(Some(caches.file_metadata.clone())),
        )
        .build_arc()?;
    let state = SessionStateBuilder::new()
        .with_config(session_config)
        .with_runtime_env(runtime)
        .with_default_features()
        .with_physical_optimizer_rule(Arc::new(PackedLookups::new()))
        .build();
    let context = SessionContext::new_with_state(state);
    register_file_table(&context, Signal::Spans, spans)?;
    register_file_table(&context, Signal::Metrics, metrics)?;
    let logs = LogsTable::new(store.log_searcher(), config.sql_logs_max_rows);
    context.register_table("logs", Arc::new(logs))?;
    Ok(context)
}

fn register_file_table(
    context: &SessionContext,
    signal: Signal,
    snapshot: TableSnapshot,
) -> Result<(), QueryError> {
    let schema = schema_for(signal);
    // Recent rows are in the stored layout: spans with their attribute maps packed, read
    // through the same unpacking table as packed files.
    let recent = Arc::new(MemTable::try_new(
        stored_schema_for(signal),
        vec![snapshot.recent],
    )?);
    let recent: Arc<dyn TableProvider> = match signal {
        Signal::Spans => Arc::new(PackedSpansTable::new(recent)),
        Signal::Metrics | Signal::Logs => recent,
    };
    let mut frame = context.read_table(recent)?;
    let (maps, packed): (Vec<_>, Vec<_>) = snapshot
        .files
        .iter()
        .partition(|file| file.layout == FileLayout::Maps);
    if !maps.is_empty() {
        let files = listing_table(&maps, schema)?;
        frame = context.read_table(files)?.union(frame)?;
    }
    if !packed.is_empty() {
        let files = listing_table(&packed, packed_spans_schema())?;
        let table = PackedSpansTable::new(files);
        frame = context.read_table(Arc::new(table))?.union(frame)?;
    }
    context.register_table(signal.as_str(), frame.into_view())?;
    Ok(())
}

/// The Parquet files `files`, all with `schema`, as one table.
fn listing_table(
    files: &[&SnapshotFile],
    schema: SchemaRef,
) -> Result<Arc<ListingTable>, QueryError> {
    let mut urls = Vec::with_capacity(files.len());
    for file in files {
        let path = &file.path;
        let text = path.to_str().ok_or_else(|| {
            QueryError::Internal(format!("non-UTF-8 data path {}", path.display()))
        })?;
        urls.push(ListingTableUrl::parse(text)?);
    }
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let table_config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .with_schema(schema);
    Ok(Arc::new(ListingTable::try_new(table_config)?))
}
