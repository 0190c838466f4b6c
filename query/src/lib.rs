//! Periscope query: the DataFusion engine over stored spans and metrics, log search through
//! the log index, trace assembly and search, and the guarded SQL API.
//!
//! Inputs: a storage handle. Outputs: typed results for the ui crate. Never depends on
//! axum, tonic, collector or ui.

mod config;
mod context;
mod error;
mod json;
mod logs_table;
mod sql;
mod traces;

pub use config::QueryConfig;
pub use error::QueryError;
pub use sql::SqlResult;
pub use traces::{SPAN_KIND_NAMES, Trace, TraceSearch};

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
        let context = context::session(&self.store, &self.config, &self.caches).await?;
        self.with_timeout(traces::trace_by_id(&context, trace_id, short_id))
            .await
    }

    /// Traces matching `search`, newest first.
    pub async fn search_traces(&self, search: &TraceSearch) -> Result<Vec<Trace>, QueryError> {
        let context = context::session(&self.store, &self.config, &self.caches).await?;
        self.with_timeout(traces::search(&context, search)).await
    }

    /// Every service that sent spans.
    pub async fn services(&self) -> Result<Vec<String>, QueryError> {
        let context = context::session(&self.store, &self.config, &self.caches).await?;
        let sql = "SELECT DISTINCT service_name FROM spans";
        self.with_timeout(traces::distinct_strings(&context, sql))
            .await
    }

    /// Span names of one service.
    pub async fn operations(&self, service: &str) -> Result<Vec<String>, QueryError> {
        let context = context::session(&self.store, &self.config, &self.caches).await?;
        let sql = format!(
            "SELECT DISTINCT name FROM spans WHERE service_name = {}",
            sql::literal(service)
        );
        self.with_timeout(traces::distinct_strings(&context, &sql))
            .await
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

    /// Read-only SQL over `spans`, `logs` and `metrics`.
    pub async fn sql(&self, sql: &str) -> Result<SqlResult, QueryError> {
        sql::check_read_only(sql, &self.config)?;
        let context = context::session(&self.store, &self.config, &self.caches).await?;
        sql::run_sql(&context, sql, &self.config).await
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
