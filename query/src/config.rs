//! Query limits: the `[query]` section of periscope.toml (shared/RELIABILITY.md §2.4).

use serde::{Deserialize, Serialize};

use crate::error::QueryError;

/// Validated query limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryConfig {
    /// A query running longer is cancelled (504).
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Rows returned by `/api/sql` and log search at most.
    #[serde(default = "default_max_rows")]
    pub max_rows: usize,
    /// Memory one query may use before it fails (DataFusion memory pool).
    #[serde(default = "default_memory_limit_bytes")]
    pub memory_limit_bytes: usize,
    /// Longest SQL text accepted.
    #[serde(default = "default_max_sql_bytes")]
    pub max_sql_bytes: usize,
    /// Log records the SQL `logs` table reads from the index at most per query.
    #[serde(default = "default_sql_logs_max_rows")]
    pub sql_logs_max_rows: usize,
}

fn default_timeout_secs() -> u64 {
    30
}
fn default_max_rows() -> usize {
    5000
}
fn default_memory_limit_bytes() -> usize {
    2 << 30
}
fn default_max_sql_bytes() -> usize {
    64 << 10
}
fn default_sql_logs_max_rows() -> usize {
    1_000_000
}

impl Default for QueryConfig {
    fn default() -> Self {
        QueryConfig {
            timeout_secs: default_timeout_secs(),
            max_rows: default_max_rows(),
            memory_limit_bytes: default_memory_limit_bytes(),
            max_sql_bytes: default_max_sql_bytes(),
            sql_logs_max_rows: default_sql_logs_max_rows(),
        }
    }
}

impl QueryConfig {
    /// Checks ranges; the message names the key.
    pub fn validate(&self) -> Result<(), QueryError> {
        let fail = |message: &str| Err(QueryError::InvalidQuery(message.to_string()));
        if !(1..=3600).contains(&self.timeout_secs) {
            return fail("query.timeout_secs must be between 1 and 3600");
        }
        if self.max_rows == 0 || self.sql_logs_max_rows == 0 {
            return fail("query.max_rows and query.sql_logs_max_rows must be positive");
        }
        if self.memory_limit_bytes < 16 << 20 {
            return fail("query.memory_limit_bytes must be at least 16 MiB");
        }
        if self.max_sql_bytes < 64 {
            return fail("query.max_sql_bytes must be at least 64");
        }
        Ok(())
    }
}
