//! The read-only SQL API. Parse first and allow exactly one `SELECT` / `WITH` / `EXPLAIN`
//! of such; then plan with DDL, DML and statements switched off, run under a timeout, a
//! memory pool and a row cap (shared/RELIABILITY.md §5, "SQL").

use std::time::Duration;

use datafusion::execution::context::SQLOptions;
use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::Statement;
use futures::StreamExt;
use serde::Serialize;

use crate::config::QueryConfig;
use crate::error::QueryError;
use crate::json::cell;

/// Result of `/api/sql`.
#[derive(Debug, Serialize)]
pub struct SqlResult {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Rows of JSON values.
    pub rows: Vec<Vec<serde_json::Value>>,
    /// True when the row cap cut the result.
    pub truncated: bool,
}

/// Checks that `sql` is one read-only statement.
pub(crate) fn check_read_only(sql: &str, config: &QueryConfig) -> Result<(), QueryError> {
    if sql.len() > config.max_sql_bytes {
        return Err(QueryError::InvalidQuery(format!(
            "sql is {} bytes; the limit is {} (query.max_sql_bytes)",
            sql.len(),
            config.max_sql_bytes
        )));
    }
    let statements =
        DFParser::parse_sql(sql).map_err(|err| QueryError::InvalidQuery(err.to_string()))?;
    if statements.len() != 1 {
        return Err(QueryError::InvalidQuery(format!(
            "expected exactly one statement, found {}",
            statements.len()
        )));
    }
    if !is_read_only(&statements[0]) {
        return Err(QueryError::InvalidQuery(format!(
            "only SELECT, WITH and EXPLAIN queries are allowed; refused: {}",
            statement_kind(&statements[0])
        )));
    }
    Ok(())
}

/// A query, or an EXPLAIN of a query (DataFusion parses EXPLAIN into its own wrapper).
fn is_read_only(statement: &DfStatement) -> bool {
    match statement {
        DfStatement::Statement(inner) => match inner.as_ref() {
            Statement::Query(_) => true,
            Statement::Explain { statement, .. } => {
                matches!(statement.as_ref(), Statement::Query(_))
            }
            _ => false,
        },
        DfStatement::Explain(explain) => is_read_only(&explain.statement),
        _ => false,
    }
}

fn statement_kind(statement: &DfStatement) -> String {
    let text = statement.to_string();
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs checked SQL on a session, collecting at most `max_rows` rows.
pub(crate) async fn run_sql(
    context: &datafusion::prelude::SessionContext,
    sql: &str,
    config: &QueryConfig,
) -> Result<SqlResult, QueryError> {
    let options = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    let run = async {
        let frame = context.sql_with_options(sql, options).await?;
        let columns: Vec<String> = frame
            .schema()
            .fields()
            .iter()
            .map(|field| field.name().clone())
            .collect();
        let mut stream = frame.execute_stream().await?;
        let mut rows = Vec::new();
        let mut truncated = false;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            for row in 0..batch.num_rows() {
                if rows.len() >= config.max_rows {
                    truncated = true;
                    break;
                }
                rows.push(
                    batch
                        .columns()
                        .iter()
                        .map(|column| cell(column, row))
                        .collect(),
                );
            }
            if truncated {
                break;
            }
        }
        Ok::<_, QueryError>(SqlResult {
            columns,
            rows,
            truncated,
        })
    };
    tokio::time::timeout(Duration::from_secs(config.timeout_secs), run)
        .await
        .map_err(|_| QueryError::Timeout(config.timeout_secs))?
}

/// Quotes a string as a SQL literal (for the queries we build ourselves).
pub(crate) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_single_read_only_statements_pass() {
        let config = QueryConfig::default();
        for ok in [
            "SELECT 1",
            "WITH a AS (SELECT 1) SELECT * FROM a",
            "EXPLAIN SELECT 1",
        ] {
            assert!(check_read_only(ok, &config).is_ok(), "{ok}");
        }
        for bad in [
            "CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/etc/passwd'",
            "COPY (SELECT 1) TO '/tmp/x.csv'",
            "INSERT INTO spans VALUES (1)",
            "SET datafusion.execution.batch_size = 1",
            "DROP TABLE spans",
            "SELECT 1; SELECT 2",
            "EXPLAIN CREATE TABLE x (a INT)",
        ] {
            assert!(
                matches!(
                    check_read_only(bad, &config),
                    Err(QueryError::InvalidQuery(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn literals_escape_quotes() {
        assert_eq!(literal("o'neil"), "'o''neil'");
    }
}
