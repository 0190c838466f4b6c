//! The SQL `logs` table: reads stored log records from the log index when a query scans it
//! (not when the session is built), so queries that never touch `logs` pay nothing.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::datasource::{MemTable, TableProvider, TableType};
use datafusion::error::{DataFusionError, Result as DataFusionResult};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use periscope_storage::LogSearcher;
use periscope_storage::batch::{logs_schema, logs_to_batch};

pub(crate) struct LogsTable {
    searcher: LogSearcher,
    max_rows: usize,
}

impl std::fmt::Debug for LogsTable {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("LogsTable")
            .field("max_rows", &self.max_rows)
            .finish()
    }
}

impl LogsTable {
    pub(crate) fn new(searcher: LogSearcher, max_rows: usize) -> Self {
        LogsTable { searcher, max_rows }
    }
}

#[async_trait]
impl TableProvider for LogsTable {
    fn schema(&self) -> SchemaRef {
        logs_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DataFusionResult<Arc<dyn ExecutionPlan>> {
        let searcher = self.searcher.clone();
        let max_rows = self.max_rows;
        let batch = tokio::task::spawn_blocking(move || {
            let rows = searcher.scan(None, None, max_rows)?;
            logs_to_batch(&rows)
        })
        .await
        .map_err(|err| DataFusionError::External(Box::new(err)))?
        .map_err(|err| DataFusionError::External(Box::new(err)))?;
        let memory = MemTable::try_new(logs_schema(), vec![vec![batch]])?;
        memory.scan(state, projection, filters, limit).await
    }
}
