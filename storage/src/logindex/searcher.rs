//! Searching the last committed state of the log index.

use std::sync::Arc;

use tantivy::collector::{Count, TopDocs};
use tantivy::query::{EnableScoring, QueryParser};
use tantivy::{DocSet, Index, IndexReader, Order, Searcher, TERMINATED, TantivyDocument};

use super::document::document_to_row;
use super::errors::{index_error, search_error};
use super::origin_set::OriginSetCache;
use super::origins::{OriginCache, origin_document_term};
use super::query::build_query;
use super::schema::{LogFields, TIMESTAMP};
use crate::error::StorageError;
use crate::model::LogRow;

/// Doc-store blocks each segment keeps decompressed during a scan. Rows are read in doc-id
/// order, so consecutive rows share a block and a small cache suffices.
const SCAN_STORE_CACHE_BLOCKS: usize = 4;

/// A log search request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogQuery {
    /// Lucene-like query; empty or `*` matches every record.
    pub query: String,
    /// Earliest `time_unix_nano` included, if any.
    pub start_ns: Option<i64>,
    /// Latest `time_unix_nano` included, if any.
    pub end_ns: Option<i64>,
    /// Most rows returned (0: count only).
    pub limit: usize,
}

/// A page of search results.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogHits {
    /// Every matching record, not capped by the limit.
    pub total: u64,
    /// The newest matching records, newest first.
    pub rows: Vec<LogRow>,
}

/// Searches the last committed state. Cheap to clone, `Send + Sync`; every clone sees a commit
/// as soon as the writer has reloaded after it.
#[derive(Clone)]
pub struct LogSearcher {
    reader: IndexReader,
    parser: Arc<QueryParser>,
    fields: LogFields,
    origins: Arc<OriginCache>,
    origin_sets: Arc<OriginSetCache>,
}

impl LogSearcher {
    pub(crate) fn new(index: &Index, reader: IndexReader, fields: LogFields) -> LogSearcher {
        // Bare terms search the body only: matching them in attributes too would make
        // `timeout` hit every record with a `timeout_ms` setting; `key:value` reaches attributes.
        let mut parser = QueryParser::for_index(index, vec![fields.body]);
        // `error timeout` means both words, as in every log search UI.
        parser.set_conjunction_by_default();
        LogSearcher {
            reader,
            parser: Arc::new(parser),
            fields,
            origins: Arc::default(),
            origin_sets: Arc::default(),
        }
    }

    /// Rebuilds the row of a record document found by `searcher`.
    fn row(
        &self,
        searcher: &Searcher,
        doc: &TantivyDocument,
        time_unix_nano: i64,
    ) -> Result<LogRow, StorageError> {
        document_to_row(doc, &self.fields, time_unix_nano, |id| {
            self.origins.get(searcher, &self.fields, id)
        })
    }

    /// Newest first (by time_unix_nano desc), total = number of matches (not capped by limit).
    pub fn search(&self, query: &LogQuery) -> Result<LogHits, StorageError> {
        let searcher = self.reader.searcher();
        let tantivy_query = build_query(
            &self.parser,
            &searcher,
            &self.fields,
            &self.origin_sets,
            &query.query,
            query.start_ns,
            query.end_ns,
        )?;
        // More rows than documents cannot come back, and the top-k collector allocates for its
        // limit up front, so a huge requested limit must not reach it.
        let limit =
            usize::try_from(searcher.num_docs()).map_or(query.limit, |docs| query.limit.min(docs));
        if limit == 0 {
            let total = searcher
                .search(&*tantivy_query, &Count)
                .map_err(search_error)?;
            return Ok(LogHits {
                total: total as u64,
                rows: Vec::new(),
            });
        }
        let newest = TopDocs::with_limit(limit).order_by_fast_field::<i64>(TIMESTAMP, Order::Desc);
        let (total, top) = searcher
            .search(&*tantivy_query, &(Count, newest))
            .map_err(search_error)?;
        let rows = top
            .into_iter()
            .map(|(time, address)| {
                let doc: TantivyDocument = searcher
                    .doc(address)
                    .map_err(|err| index_error("read stored log", err))?;
                // Every document has a timestamp, so the sort value is always there.
                let time = time.ok_or_else(|| {
                    StorageError::Corrupt("log index document has no timestamp".to_string())
                })?;
                self.row(&searcher, &doc, time)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LogHits {
            total: total as u64,
            rows,
        })
    }

    /// Every stored row with time in [start, end] (both optional), up to max_rows, any order (for SQL).
    pub fn scan(
        &self,
        start_ns: Option<i64>,
        end_ns: Option<i64>,
        max_rows: usize,
    ) -> Result<Vec<LogRow>, StorageError> {
        let mut rows = Vec::new();
        if max_rows == 0 {
            return Ok(rows);
        }
        let searcher = self.reader.searcher();
        let query = build_query(
            &self.parser,
            &searcher,
            &self.fields,
            &self.origin_sets,
            "",
            start_ns,
            end_ns,
        )?;
        let weight = query
            .weight(EnableScoring::disabled_from_searcher(&searcher))
            .map_err(search_error)?;
        // Walking the matches segment by segment (rather than through a collector) lets the
        // scan stop as soon as it has `max_rows`, without first gathering every address.
        for segment in searcher.segment_readers() {
            let mut matches = weight.scorer(segment, 1.0).map_err(search_error)?;
            let store = segment
                .get_store_reader(SCAN_STORE_CACHE_BLOCKS)
                .map_err(|err| index_error("open doc store", err))?;
            let times = segment
                .fast_fields()
                .i64(TIMESTAMP)
                .map_err(|err| index_error("open timestamp column", err))?;
            let mut doc_id = matches.doc();
            while doc_id != TERMINATED {
                if !segment.is_deleted(doc_id) {
                    let doc: TantivyDocument = store
                        .get(doc_id)
                        .map_err(|err| index_error("read stored log", err))?;
                    let time = times.first(doc_id).ok_or_else(|| {
                        StorageError::Corrupt("log index document has no timestamp".to_string())
                    })?;
                    rows.push(self.row(&searcher, &doc, time)?);
                    if rows.len() >= max_rows {
                        return Ok(rows);
                    }
                }
                doc_id = matches.advance();
            }
        }
        Ok(rows)
    }

    /// Matching records per time bucket: `buckets` equal buckets over `[start_ns, end_ns]`,
    /// oldest first, the last one running to `end_ns`. One pass over the matches reading
    /// their timestamps, instead of one count per bucket.
    pub fn histogram(
        &self,
        query: &str,
        start_ns: i64,
        end_ns: i64,
        buckets: usize,
    ) -> Result<Vec<u64>, StorageError> {
        let mut counts = vec![0u64; buckets];
        if buckets == 0 || end_ns < start_ns {
            return Ok(counts);
        }
        let bucket_ns = ((end_ns - start_ns).max(1) / buckets as i64).max(1);
        let searcher = self.reader.searcher();
        let tantivy_query = build_query(
            &self.parser,
            &searcher,
            &self.fields,
            &self.origin_sets,
            query,
            Some(start_ns),
            Some(end_ns),
        )?;
        let weight = tantivy_query
            .weight(EnableScoring::disabled_from_searcher(&searcher))
            .map_err(search_error)?;
        for segment in searcher.segment_readers() {
            let timestamps = segment
                .fast_fields()
                .i64(TIMESTAMP)
                .map_err(|err| index_error("open timestamp column", err))?;
            let mut matches = weight.scorer(segment, 1.0).map_err(search_error)?;
            let mut doc_id = matches.doc();
            while doc_id != TERMINATED {
                if !segment.is_deleted(doc_id)
                    && let Some(time) = timestamps.first(doc_id)
                {
                    let index = ((time - start_ns) / bucket_ns).clamp(0, buckets as i64 - 1);
                    counts[index as usize] += 1;
                }
                doc_id = matches.advance();
            }
        }
        Ok(counts)
    }

    /// Origin sets whose matches are cached, for tests.
    #[cfg(test)]
    pub(crate) fn cached_origin_sets(&self) -> usize {
        self.origin_sets.len()
    }

    /// Records in the last committed state (origin documents are not records).
    pub fn num_docs(&self) -> u64 {
        let searcher = self.reader.searcher();
        // Nothing is ever deleted from the index, so the term's document frequency counts
        // the origin documents exactly.
        let origins = searcher
            .doc_freq(&origin_document_term(&self.fields))
            .unwrap_or(0);
        searcher.num_docs().saturating_sub(origins)
    }
}
