//! Maps tantivy's errors onto [`StorageError`] so callers never depend on tantivy types.

use std::fmt::Display;

use tantivy::TantivyError;
use tantivy::query::QueryParserError;

use crate::error::StorageError;

/// An index failure, prefixed with what we were doing so logs say which step broke.
pub(crate) fn index_error(context: &str, err: impl Display) -> StorageError {
    StorageError::Index(format!("{context}: {err}"))
}

/// A query the user wrote that tantivy refused, with tantivy's own wording.
pub(crate) fn query_error(err: &QueryParserError) -> StorageError {
    StorageError::InvalidQuery(err.to_string())
}

/// A failure while executing a search. Schema and argument errors at that stage come from the
/// shape of the query (for example `field:*` on a field that is not fast), so they are the
/// user's to fix; everything else is an index failure.
pub(crate) fn search_error(err: TantivyError) -> StorageError {
    match err {
        TantivyError::SchemaError(msg) | TantivyError::InvalidArgument(msg) => {
            StorageError::InvalidQuery(msg)
        }
        other => index_error("search", other),
    }
}
