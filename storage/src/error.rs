//! The one error enum of the storage crate. Variants are categories callers match on:
//! `Unavailable` is transient (the collector answers 503 / UNAVAILABLE so clients retry),
//! `InvalidQuery` is the caller's fault, everything else is an internal failure.

use crate::wal::WalError;

/// Errors from storage.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A filesystem operation failed.
    #[error("io error: {0}")]
    Io(#[from] std::io::Error),
    /// Stored data could not be decoded.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// A user query could not be parsed or exceeds a limit.
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// The log index failed.
    #[error("log index error: {0}")]
    Index(String),
    /// JSON encoding or decoding failed.
    #[error("json error: {0}")]
    Json(#[from] serde_json::Error),
    /// Arrow failed (building or decoding a batch).
    #[error("arrow error: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// Writing or reading a Parquet file failed.
    #[error("parquet error: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// The write-ahead log failed.
    #[error("wal error: {0}")]
    Wal(#[from] WalError),
    /// Transient refusal: WAL backlog full, queue full, WAL write failed, shutting down.
    /// Nothing was acknowledged; the client should retry after `retry_after_secs`.
    #[error("storage unavailable: {reason}")]
    Unavailable {
        /// Why, for the client and the logs.
        reason: String,
        /// Suggested client back-off.
        retry_after_secs: u64,
    },
    /// A configuration value is out of range.
    #[error("invalid storage config: {0}")]
    Config(String),
}

impl StorageError {
    pub(crate) fn unavailable(reason: impl Into<String>) -> StorageError {
        StorageError::Unavailable {
            reason: reason.into(),
            retry_after_secs: 1,
        }
    }
}
