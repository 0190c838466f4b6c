//! The query crate's one error enum. Expected errors (the caller's bad query, a missing
//! trace) keep their category so the HTTP layer can answer 4xx; everything else is internal.

use datafusion::error::DataFusionError;
use periscope_storage::StorageError;

/// Errors from queries.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The query is malformed or not allowed (400).
    #[error("{0}")]
    InvalidQuery(String),
    /// Nothing matches an id lookup (404).
    #[error("{0}")]
    NotFound(String),
    /// The query hit its time limit (504).
    #[error("query timed out after {0} s")]
    Timeout(u64),
    /// The query hit its memory limit (429).
    #[error("query exceeded its resources: {0}")]
    ResourcesExhausted(String),
    /// A broken invariant or storage failure (500, details logged not sent).
    #[error("internal query error: {0}")]
    Internal(String),
}

impl From<DataFusionError> for QueryError {
    fn from(err: DataFusionError) -> Self {
        match err.find_root() {
            DataFusionError::SQL(..)
            | DataFusionError::Plan(_)
            | DataFusionError::SchemaError(..) => QueryError::InvalidQuery(err.to_string()),
            DataFusionError::ResourcesExhausted(message) => {
                QueryError::ResourcesExhausted(message.clone())
            }
            DataFusionError::NotImplemented(message) => {
                QueryError::InvalidQuery(format!("not supported: {message}"))
            }
            DataFusionError::Execution(message) if message.contains("Cannot cast") => {
                QueryError::InvalidQuery(message.clone())
            }
            _ => QueryError::Internal(err.to_string()),
        }
    }
}

impl From<StorageError> for QueryError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::InvalidQuery(message) => QueryError::InvalidQuery(message),
            other => QueryError::Internal(other.to_string()),
        }
    }
}

impl From<datafusion::arrow::error::ArrowError> for QueryError {
    /// Arrow errors come from reading our own result columns: a broken invariant.
    fn from(err: datafusion::arrow::error::ArrowError) -> Self {
        QueryError::Internal(err.to_string())
    }
}
