//! Origins (resource and scope) of log records, each kept once in the index.
//!
//! The records of one service instance all carry the same resource: six attributes in the
//! bench workload, dozens with Kubernetes metadata. Indexing it with every record was a fifth
//! of log ingest's CPU (S3, docs/benchmarks.md). Instead the first record of an origin adds
//! an *origin document*, which indexes the resource and stores the encoded origin, and every
//! record indexes and stores only its origin's id. A query on `resource.*` is answered in two
//! steps: the leaf runs against the origin documents, then becomes a query for the records of
//! the origins it found (`origin_set.rs` when there are several).
//!
//! An origin document reaches the index in the same commit as the first records that name
//! it, so a crash never leaves a record without its origin: WAL replay adds both again.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tantivy::query::{EmptyQuery, EnableScoring, Query, QueryParser, TermQuery};
use tantivy::query_grammar::{UserInputAst, UserInputLeaf};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{DocSet, Searcher, TERMINATED, TantivyDocument, Term};

use super::errors::{index_error, query_error, search_error};
use super::origin_set::{OriginSetCache, OriginSetQuery};
use super::schema::{LogFields, RESOURCE};
use super::stored_row::decode_origin;
use crate::error::StorageError;
use crate::model::Origin;

/// What origin documents index in the `origin` field, where records index their origin's id.
/// [`origin_id`] never returns it.
pub(crate) const ORIGIN_DOCUMENT: u64 = 0;

/// Origins a searcher keeps decoded. A page of results names few; the cap only bounds memory
/// when a client sends a new resource with every request.
const CACHED_ORIGINS: usize = 4096;

/// The id of an origin, from its encoding (`stored_row::encode_origin`): FNV-1a, because ids
/// are written to disk and must not change between builds (std's hasher may). Two origins
/// sharing an id would show one's resource on the other's records; with 64 bits that takes
/// billions of distinct origins.
pub(crate) fn origin_id(encoded: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in encoded {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    if hash == ORIGIN_DOCUMENT { 1 } else { hash }
}

/// The term every origin document indexes.
pub(crate) fn origin_document_term(fields: &LogFields) -> Term {
    Term::from_field_u64(fields.origin, ORIGIN_DOCUMENT)
}

/// Ids of the origin documents `query` matches (it should match only origin documents).
fn matching_origin_ids(
    searcher: &Searcher,
    query: &dyn Query,
    fields: &LogFields,
) -> Result<Vec<u64>, StorageError> {
    let weight = query
        .weight(EnableScoring::disabled_from_searcher(searcher))
        .map_err(search_error)?;
    let id_field = searcher.schema().get_field_name(fields.origin_id);
    let mut ids = Vec::new();
    for segment in searcher.segment_readers() {
        let mut matches = weight.scorer(segment, 1.0).map_err(search_error)?;
        let mut doc = matches.doc();
        // Most segments hold no origin document (each is added once, with the first records
        // of its origin), and opening a column costs more than the search: open it only
        // where there is something to read.
        if doc == TERMINATED {
            continue;
        }
        let id_column = segment
            .fast_fields()
            .u64(id_field)
            .map_err(|err| index_error("open origin id column", err))?;
        while doc != TERMINATED {
            ids.extend(id_column.first(doc));
            doc = matches.advance();
        }
    }
    Ok(ids)
}

/// Ids of every origin the searcher's index holds, for the writer to know which it must add.
pub(crate) fn committed_origin_ids(
    searcher: &Searcher,
    fields: &LogFields,
) -> Result<HashSet<u64>, StorageError> {
    let every_origin = TermQuery::new(origin_document_term(fields), IndexRecordOption::Basic);
    Ok(matching_origin_ids(searcher, &every_origin, fields)?
        .into_iter()
        .collect())
}

/// The query matching the records whose origin `leaf` (a test of the resource) matches.
pub(crate) fn resource_leaf_query(
    leaf: &UserInputLeaf,
    parser: &QueryParser,
    searcher: &Searcher,
    fields: &LogFields,
    origin_sets: &Arc<OriginSetCache>,
) -> Result<Box<dyn Query>, StorageError> {
    let query = parser
        .build_query_from_user_input_ast(UserInputAst::Leaf(Box::new(leaf.clone())))
        .map_err(|err| query_error(&err))?;
    let ids = matching_origin_ids(searcher, &*query, fields)?;
    Ok(if ids.is_empty() {
        Box::new(EmptyQuery)
    } else {
        Box::new(OriginSetQuery::new(fields.origin, ids, origin_sets.clone()))
    })
}

/// Whether `leaf` tests the resource (`resource`, `resource.*`), which only origin documents
/// index.
pub(crate) fn tests_resource(leaf: &UserInputLeaf) -> bool {
    leaf_field(leaf).is_some_and(|field| {
        field
            .strip_prefix(RESOURCE)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    })
}

/// The field `leaf` names, if any (`All` and bare words name none).
pub(crate) fn leaf_field(leaf: &UserInputLeaf) -> Option<&str> {
    match leaf {
        UserInputLeaf::Literal(literal) => literal.field_name.as_deref(),
        UserInputLeaf::Range { field, .. }
        | UserInputLeaf::Set { field, .. }
        | UserInputLeaf::Regex { field, .. } => field.as_deref(),
        UserInputLeaf::Exists { field } => Some(field.as_str()),
        UserInputLeaf::All => None,
    }
}

/// Decoded origins by id, shared by every clone of a searcher.
#[derive(Default)]
pub(crate) struct OriginCache {
    origins: Mutex<HashMap<u64, Arc<Origin>>>,
}

impl OriginCache {
    /// The origin `id` names, read from its origin document in `searcher` when not cached.
    pub(crate) fn get(
        &self,
        searcher: &Searcher,
        fields: &LogFields,
        id: u64,
    ) -> Result<Arc<Origin>, StorageError> {
        if let Some(origin) = self.lock().get(&id) {
            return Ok(origin.clone());
        }
        let origin = Arc::new(read_origin(searcher, fields, id)?);
        let mut origins = self.lock();
        if origins.len() >= CACHED_ORIGINS {
            origins.clear();
        }
        origins.insert(id, origin.clone());
        Ok(origin)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Origin>>> {
        // The map is only ever inserted into whole entries: a panic elsewhere cannot leave it
        // half-updated, so a poisoned lock is still usable.
        self.origins
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn read_origin(searcher: &Searcher, fields: &LogFields, id: u64) -> Result<Origin, StorageError> {
    let query = TermQuery::new(
        Term::from_field_u64(fields.origin_id, id),
        IndexRecordOption::Basic,
    );
    let weight = query
        .weight(EnableScoring::disabled_from_searcher(searcher))
        .map_err(search_error)?;
    for (ord, segment) in searcher.segment_readers().iter().enumerate() {
        let doc = weight.scorer(segment, 1.0).map_err(search_error)?.doc();
        if doc == TERMINATED {
            continue;
        }
        let document: TantivyDocument = searcher
            .doc(tantivy::DocAddress::new(ord as u32, doc))
            .map_err(|err| index_error("read origin", err))?;
        let bytes = document
            .get_first(fields.source)
            .and_then(|value| value.as_bytes())
            .ok_or_else(|| StorageError::Corrupt("origin document has no source".into()))?;
        return decode_origin(bytes);
    }
    Err(StorageError::Corrupt(format!(
        "log record names origin {id:016x}, which the index does not hold"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_never_the_origin_document_marker() {
        // The FNV-1a test vectors: ids are on disk, so the function must never change.
        assert_eq!(origin_id(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(origin_id(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(origin_id(b"b"), origin_id(b"a"));
    }

    #[test]
    fn only_resource_fields_are_resolved() {
        let leaf = |field: &str| UserInputLeaf::Exists {
            field: field.to_string(),
        };
        assert!(tests_resource(&leaf("resource")));
        assert!(tests_resource(&leaf("resource.host.name")));
        assert!(!tests_resource(&leaf("resources.host")));
        assert!(!tests_resource(&leaf("attributes.resource")));
        assert!(!tests_resource(&UserInputLeaf::All));
    }
}
