//! Full-text index over log records, backed by tantivy.
//!
//! One [`LogIndexWriter`] (owned by a single dedicated thread) adds rows and commits them with the
//! WAL sequence number they cover, so a restart knows where to resume replaying the WAL. Any
//! number of cloned [`LogSearcher`]s search the last committed state.
//!
//! Queries are Lucene-like (`terms`, `"phrases"`, `field:value`, `AND`/`OR`/`NOT`, `+`/`-`,
//! parentheses, ranges); bare terms search the log body only. Field names are rewritten before
//! tantivy sees them: `service.name`/`service_name` mean `service`, `level`/`severity_text` mean
//! `severity`, `resource.x` searches resource attributes and any other unknown name searches the
//! record attributes (`http.method:GET` is `attributes.http.method:GET`).

mod document;
mod errors;
mod origin_set;
mod origins;
mod query;
mod query_rewrite;
mod schema;
mod searcher;
mod stored_row;
mod writer;

#[cfg(test)]
mod tests;

pub use searcher::{LogHits, LogQuery, LogSearcher};
pub(crate) use stored_row::{decode_rows, encode_rows};
pub use writer::{LogIndexWriter, open_log_index};
