//! The collector's one error enum, and the one place each category becomes an HTTP status
//! and a gRPC code (shared/RELIABILITY.md §1.3).

use periscope_storage::StorageError;

/// Why a whole request was refused.
#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    /// Undecodable body: 400 / INVALID_ARGUMENT, never retried.
    #[error("{0}")]
    InvalidArgument(String),
    /// Too large, raw or decompressed, or too many records: 413 / RESOURCE_EXHAUSTED
    /// without RetryInfo, never retried.
    #[error("{0}")]
    TooLarge(String),
    /// Unsupported content type or encoding: 415 / UNIMPLEMENTED.
    #[error("{0}")]
    Unsupported(String),
    /// Transient: overload, WAL trouble, shutdown. 503 + Retry-After / UNAVAILABLE + RetryInfo.
    #[error("{reason}")]
    Unavailable {
        /// Shown to the client.
        reason: String,
        /// Back-off hint.
        retry_after_secs: u64,
    },
    /// A broken invariant on our side. Logged; the client gets a generic message and 503,
    /// because OTLP clients drop data on 500 but retry 503.
    #[error("internal error: {0}")]
    Internal(String),
    /// A configuration value is out of range.
    #[error("invalid ingest config: {0}")]
    Config(String),
}

impl CollectorError {
    /// HTTP status for OTLP/HTTP.
    pub fn http_status(&self) -> u16 {
        match self {
            CollectorError::InvalidArgument(_) => 400,
            CollectorError::TooLarge(_) => 413,
            CollectorError::Unsupported(_) => 415,
            CollectorError::Unavailable { .. } | CollectorError::Internal(_) => 503,
            CollectorError::Config(_) => 500,
        }
    }

    /// gRPC status code number.
    pub fn grpc_code(&self) -> i32 {
        match self {
            CollectorError::InvalidArgument(_) => 3,
            CollectorError::TooLarge(_) => 8,
            CollectorError::Unsupported(_) => 12,
            CollectorError::Unavailable { .. } | CollectorError::Internal(_) => 14,
            CollectorError::Config(_) => 13,
        }
    }

    /// Seconds a client should wait before retrying, for retryable errors only.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            CollectorError::Unavailable {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            CollectorError::Internal(_) => Some(1),
            _ => None,
        }
    }

    /// The message sent to the client (internal details stay in our logs).
    pub fn client_message(&self) -> String {
        match self {
            CollectorError::Internal(_) => "internal error; retry later".to_string(),
            other => other.to_string(),
        }
    }

    /// Metric label for this refusal.
    pub fn reason_label(&self) -> &'static str {
        match self {
            CollectorError::InvalidArgument(_) => "malformed",
            CollectorError::TooLarge(_) => "too_large",
            CollectorError::Unsupported(_) => "unsupported",
            CollectorError::Unavailable { .. } => "unavailable",
            CollectorError::Internal(_) | CollectorError::Config(_) => "internal",
        }
    }
}

impl From<StorageError> for CollectorError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::Unavailable {
                reason,
                retry_after_secs,
            } => CollectorError::Unavailable {
                reason,
                retry_after_secs,
            },
            other => CollectorError::Internal(other.to_string()),
        }
    }
}
