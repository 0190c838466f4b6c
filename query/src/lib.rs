//! Periscope query: the DataFusion engine over stored spans and metrics, log search through
//! the log index, trace assembly and search, and the guarded SQL API.
//!
//! Inputs: a storage handle. Outputs: typed results for the ui crate. Never depends on
//! axum, tonic, collector or ui.

mod candidates;
mod config;
mod context;
mod error;
mod filters;
mod health;
mod json;
mod logs_table;
mod metrics;
mod packed_spans;
mod packed_value;
mod recent_rows;
mod services;
mod sql;
mod summaries;
#[cfg(test)]
mod test_support;
mod trace_index;
mod traces;

pub use config::QueryConfig;
pub use error::QueryError;
pub use filters::{AttrFilter, FilterOp, MAX_REGEX_BYTES};
pub use metrics::{Aggregation, MAX_SERIES, MAX_STEPS, MetricInfo, MetricQuery, MetricSeries};
pub use services::{DependencyEdge, RequestStats, TimeWindow};
pub use sql::SqlResult;
pub use traces::{SPAN_KIND_NAMES, Trace, TraceSearch, assemble};

/// Storage types the API layer renders, re-exported so ui depends on query alone.
pub use periscope_storage::{
    AttrValue, Attributes, LogHits, LogQuery, LogRow, Origin, SpanEvent, SpanId, SpanLink, SpanRow,
    TraceId,
};

use periscope_storage::Store;

/// Cheap-to-clone query handle.
#[derive(Clone)]
pub struct Engine {
    store: Store,
    config: QueryConfig,
    caches: context::SharedCaches,
    summaries: summaries::FileSummaries,
    file_stats: health::FileStats,
    trace_index: trace_index::TraceIndex,
}

impl Engine {
    /// Builds the engine over an opened store.
    pub fn new(store: Store, config: QueryConfig) -> Result<Engine, QueryError> {
        config.validate()?;
        let caches = context::SharedCaches::new()?;
        Ok(Engine {
            store,
            config,
            caches,
            summaries: summaries::FileSummaries::default(),
            file_stats: health::FileStats::default(),
            trace_index: trace_index::TraceIndex::default(),
        })
    }

    /// The limits in force.
    pub fn config(&self) -> &QueryConfig {
        &self.config
    }

    /// A trace by id, no time range needed. `short_id`: the caller gave 16 hex digits.
    pub async fn trace(
        &self,
        trace_id: TraceId,
        short_id: bool,
    ) -> Result<Option<Trace>, QueryError> {
        self.with_timeout(traces::trace_by_id(self, trace_id, short_id))
            .await
    }

    /// Reads what lookups need from files not seen yet (the trace id index, the service
    /// health summaries, the service and operation names), so the first requests after a start do not pay for it.
    pub async fn warm_up(&self) -> Result<(), QueryError> {
        let snapshot = self.store.snapshot(periscope_storage::Signal::Spans);
        trace_index::warm(self, &snapshot.files).await?;
        self.file_stats.of(&snapshot.files).await?;
        summaries::names(self).await.map(|_| ())
    }

    /// Traces matching `search`, newest first.
    pub async fn search_traces(&self, search: &TraceSearch) -> Result<Vec<Trace>, QueryError> {
        self.with_timeout(traces::search(self, search)).await
    }

    /// Every service that sent spans.
    pub async fn services(&self) -> Result<Vec<String>, QueryError> {
        let names = self.with_timeout(summaries::names(self)).await?;
        Ok(names.into_keys().collect())
    }

    /// Span names of one service.
    pub async fn operations(&self, service: &str) -> Result<Vec<String>, QueryError> {
        let mut names = self.with_timeout(summaries::names(self)).await?;
        Ok(names
            .remove(service)
            .map(|operations| operations.into_iter().collect())
            .unwrap_or_default())
    }

    /// Log search, newest first. Runs on a blocking thread (the index is synchronous).
    pub async fn search_logs(&self, query: LogQuery) -> Result<LogHits, QueryError> {
        if query.limit > self.config.max_rows {
            return Err(QueryError::InvalidQuery(format!(
                "limit {} is above the maximum of {} (query.max_rows)",
                query.limit, self.config.max_rows
            )));
        }
        let searcher = self.store.log_searcher();
        let search = tokio::task::spawn_blocking(move || searcher.search(&query));
        let hits = self
            .with_timeout(async {
                search
                    .await
                    .map_err(|err| QueryError::Internal(format!("log search task failed: {err}")))
            })
            .await??;
        Ok(hits)
    }

    /// Request rate, errors and latency per service over `window` (every service, or only
    /// `service`), each with a request count series of `buckets` buckets.
    pub async fn service_stats(
        &self,
        window: TimeWindow,
        buckets: usize,
        service: Option<&str>,
    ) -> Result<Vec<RequestStats>, QueryError> {
        self.with_timeout(health::service_stats(self, window, buckets, service))
            .await
    }

    /// Request rate, errors and latency per operation of one service.
    pub async fn operation_stats(
        &self,
        service: &str,
        window: TimeWindow,
    ) -> Result<Vec<RequestStats>, QueryError> {
        self.with_timeout(health::operation_stats(self, service, window))
            .await
    }

    /// Calls between services, from parent/child spans that cross services.
    pub async fn dependencies(
        &self,
        window: TimeWindow,
    ) -> Result<Vec<DependencyEdge>, QueryError> {
        self.with_timeout(health::dependencies(self, window)).await
    }

    /// The metrics that have points in `window`, by name.
    pub async fn metric_names(&self, window: TimeWindow) -> Result<Vec<MetricInfo>, QueryError> {
        let context = self.session_in_window(window).await?;
        self.with_timeout(metrics::metric_names(&context, window))
            .await
    }

    /// One metric aggregated per step, split into at most [`MAX_SERIES`] series.
    pub async fn metric_series(
        &self,
        query: &MetricQuery,
    ) -> Result<Vec<MetricSeries>, QueryError> {
        let context = self.session_in_window(query.window).await?;
        self.with_timeout(metrics::metric_series(&context, query))
            .await
    }

    /// Exact numbers of log records matching each query within `window`, in one pass on a
    /// blocking thread (facet counts).
    pub async fn count_logs(
        &self,
        queries: Vec<String>,
        window: TimeWindow,
    ) -> Result<Vec<u64>, QueryError> {
        let searcher = self.store.log_searcher();
        let count_all = move || -> Result<Vec<u64>, QueryError> {
            let mut counts = Vec::with_capacity(queries.len());
            for query in queries {
                let hits = searcher.search(&LogQuery {
                    query,
                    start_ns: Some(window.start_ns),
                    end_ns: Some(window.end_ns),
                    limit: 0,
                })?;
                counts.push(hits.total);
            }
            Ok(counts)
        };
        let task = tokio::task::spawn_blocking(count_all);
        self.with_timeout(async {
            task.await
                .map_err(|err| QueryError::Internal(format!("log count task failed: {err}")))
        })
        .await?
    }

    /// Matching log records per time bucket: `buckets` equal buckets over `window`, oldest
    /// first. One count per bucket, so the counts are exact.
    pub async fn log_histogram(
        &self,
        query: &str,
        window: TimeWindow,
        buckets: usize,
    ) -> Result<Vec<u64>, QueryError> {
        let searcher = self.store.log_searcher();
        let query = query.to_string();
        let count_all = move || -> Result<Vec<u64>, QueryError> {
            Ok(searcher.histogram(&query, window.start_ns, window.end_ns, buckets)?)
        };
        let task = tokio::task::spawn_blocking(count_all);
        self.with_timeout(async {
            task.await
                .map_err(|err| QueryError::Internal(format!("log histogram task failed: {err}")))
        })
        .await?
    }

    /// Read-only SQL over `spans`, `logs` and `metrics`.
    pub async fn sql(&self, sql: &str) -> Result<SqlResult, QueryError> {
        sql::check_read_only(sql, &self.config)?;
        let context = context::session(&self.store, &self.config, &self.caches).await?;
        sql::run_sql(&context, sql, &self.config).await
    }

    /// A session that skips files entirely outside `window`.
    async fn session_in_window(
        &self,
        window: TimeWindow,
    ) -> Result<datafusion::prelude::SessionContext, QueryError> {
        context::session_in_window(&self.store, &self.config, &self.caches, window).await
    }

    async fn with_timeout<T>(
        &self,
        future: impl std::future::Future<Output = Result<T, QueryError>>,
    ) -> Result<T, QueryError> {
        let limit = std::time::Duration::from_secs(self.config.timeout_secs);
        tokio::time::timeout(limit, future)
            .await
            .map_err(|_| QueryError::Timeout(self.config.timeout_secs))?
    }
}
