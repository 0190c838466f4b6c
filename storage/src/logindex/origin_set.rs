//! The records of a set of origins, as a query.
//!
//! A resource leaf that several origins satisfy (`resource.host.name:web-1` when two services
//! run on that host) matches the records of all of them. As a union of one posting list per
//! origin, every search re-merged those lists: the logs page's Host facet took 12–40 ms over
//! 1M records where one posting list had taken 2 ms. Segments never change, so the merged
//! matches are computed once per segment as a bitset and reused by every later search (what
//! Elasticsearch's filter cache does for the same reason). A segment whose records all match
//! answers with tantivy's "all documents" scorer, which an intersection skips entirely.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use tantivy::index::SegmentId;
use tantivy::query::{
    AllScorer, BitSetDocSet, ConstScorer, EmptyScorer, EnableScoring, Explanation, Query, Scorer,
    TermQuery, Weight,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{BitSet, DocId, DocSet, Score, SegmentReader, TantivyError, Term};

use super::origins::ORIGIN_DOCUMENT;

/// Bytes of bitsets the cache holds before it starts over. A bitset costs a bit per document
/// of its segment: 1.2 MiB for a segment of 10M records.
const CACHE_BUDGET_BYTES: usize = 32 * 1024 * 1024;

/// Most ids whose document frequencies a search adds up per segment to tell "no record" and
/// "every record" apart before it reads posting lists; a term lookup each.
const MAX_COUNTED_IDS: usize = 64;

/// Entries the cache holds before it starts over, however small: the newest segments are
/// small, merged away within seconds, and would otherwise pile up as keys.
const CACHE_MAX_ENTRIES: usize = 4096;

/// The matches of origin sets, by segment.
#[derive(Default)]
pub(crate) struct OriginSetCache {
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    entries: HashMap<(SegmentId, Arc<[u64]>), Arc<BitSet>>,
    bytes: usize,
}

impl CacheState {
    /// Adds an entry of `size` bytes, first starting over if it would take the cache past
    /// `budget_bytes` or `max_entries`.
    fn insert(
        &mut self,
        key: (SegmentId, Arc<[u64]>),
        docs: Arc<BitSet>,
        size: usize,
        budget_bytes: usize,
        max_entries: usize,
    ) {
        // Two searches may have computed the same entry: the second changes nothing.
        if self.entries.contains_key(&key) {
            return;
        }
        if self.bytes + size > budget_bytes || self.entries.len() >= max_entries {
            self.entries.clear();
            self.bytes = 0;
        }
        self.entries.insert(key, docs);
        self.bytes += size;
    }
}

impl OriginSetCache {
    /// The documents of `segment` whose origin is one of `ids`, computed on first use.
    fn matches(
        &self,
        segment: &SegmentReader,
        field: Field,
        ids: &Arc<[u64]>,
    ) -> tantivy::Result<Arc<BitSet>> {
        let key = (segment.segment_id(), ids.clone());
        if let Some(docs) = self.lock().entries.get(&key) {
            return Ok(docs.clone());
        }
        // Computed without the lock: another search may compute the same entry meanwhile,
        // which costs time once but never a wrong answer.
        let docs = Arc::new(documents_of_origins(segment, field, ids)?);
        let size = bitset_bytes(segment.max_doc());
        self.lock().insert(
            key,
            docs.clone(),
            size,
            CACHE_BUDGET_BYTES,
            CACHE_MAX_ENTRIES,
        );
        Ok(docs)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState> {
        // Entries are inserted whole and the byte count right after: a panic elsewhere cannot
        // leave them inconsistent beyond a miscount the next clearing resets.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().entries.len()
    }
}

fn bitset_bytes(max_doc: DocId) -> usize {
    (max_doc as usize).div_ceil(64) * 8
}

/// Marks every document indexing one of `ids` in `field`.
fn documents_of_origins(
    segment: &SegmentReader,
    field: Field,
    ids: &[u64],
) -> tantivy::Result<BitSet> {
    let mut docs = BitSet::with_max_value(segment.max_doc());
    let inverted_index = segment.inverted_index(field)?;
    for &id in ids {
        let term = Term::from_field_u64(field, id);
        let Some(term_info) = inverted_index.get_term_info(&term)? else {
            continue;
        };
        let mut postings = inverted_index
            .read_block_postings_from_terminfo(&term_info, IndexRecordOption::Basic)?;
        loop {
            let block = postings.docs();
            if block.is_empty() {
                break;
            }
            for &doc in block {
                docs.insert(doc);
            }
            postings.advance();
        }
    }
    Ok(docs)
}

/// The scorer of a leaf matching `matched` of a segment's `records`, when that is none or all
/// of them. All: tantivy drops such a clause from an intersection (`info AND
/// resource.host.name:web-1` then costs what `info` does). It also matches the segment's
/// origin documents, which a query holding a resource leaf always excludes (`query.rs`).
fn none_or_all(matched: u32, records: u32, segment: &SegmentReader) -> Option<Box<dyn Scorer>> {
    if matched == 0 {
        Some(Box::new(EmptyScorer))
    } else if matched == records {
        Some(Box::new(AllScorer::new(segment.max_doc())))
    } else {
        None
    }
}

/// Matches the records of any of the origins `ids` (`field` holds a record's origin id).
#[derive(Clone)]
pub(crate) struct OriginSetQuery {
    field: Field,
    ids: Arc<[u64]>,
    cache: Arc<OriginSetCache>,
}

impl OriginSetQuery {
    pub(crate) fn new(field: Field, mut ids: Vec<u64>, cache: Arc<OriginSetCache>) -> Self {
        // One key per set, whatever order the origins were found in.
        ids.sort_unstable();
        ids.dedup();
        OriginSetQuery {
            field,
            ids: ids.into(),
            cache,
        }
    }
}

impl fmt::Debug for OriginSetQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OriginSetQuery")
            .field("field", &self.field)
            .field("ids", &self.ids)
            .finish()
    }
}

impl Query for OriginSetQuery {
    fn weight(&self, _scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl Weight for OriginSetQuery {
    fn scorer(&self, segment: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let inverted_index = segment.inverted_index(self.field)?;
        let origin_documents =
            inverted_index.doc_freq(&Term::from_field_u64(self.field, ORIGIN_DOCUMENT))?;
        let records = segment.max_doc() - origin_documents;
        // A record names one origin, so its ids' document frequencies add up to the records
        // the leaf matches: enough to answer "none" and "all" without reading a posting list
        // (the one-host deployment, where a host's leaf matches everything).
        if self.ids.len() <= MAX_COUNTED_IDS {
            let mut matched = 0;
            for &id in self.ids.iter() {
                matched += inverted_index.doc_freq(&Term::from_field_u64(self.field, id))?;
            }
            if let Some(scorer) = none_or_all(matched, records, segment) {
                return Ok(scorer);
            }
        }
        if let [id] = *self.ids {
            // One origin: its posting list as is, which lets a search skip through it.
            let weight = TermQuery::new(
                Term::from_field_u64(self.field, id),
                IndexRecordOption::Basic,
            )
            .weight(EnableScoring::disabled_from_schema(segment.schema()))?;
            return weight.scorer(segment, boost);
        }
        let docs = self.cache.matches(segment, self.field, &self.ids)?;
        if let Some(scorer) = none_or_all(docs.len() as u32, records, segment) {
            return Ok(scorer);
        }
        // The docset owns and consumes its bitset; a copy is a bit per document, far less
        // than recomputing it.
        let docs = BitSetDocSet::from(BitSet::clone(&docs));
        Ok(Box::new(ConstScorer::new(docs, boost)))
    }

    fn explain(&self, segment: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(segment, 1.0)?;
        if scorer.seek(doc) == doc {
            Ok(Explanation::new("OriginSetQuery", 1.0))
        } else {
            Err(TantivyError::InvalidArgument(format!(
                "document {doc} does not match"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(segment: SegmentId, ids: &[u64]) -> (SegmentId, Arc<[u64]>) {
        (segment, ids.into())
    }

    #[test]
    fn the_cache_starts_over_at_its_byte_budget_or_entry_limit() {
        let docs = Arc::new(BitSet::with_max_value(640));
        let size = bitset_bytes(640);
        assert_eq!(size, 80);
        let (first, second) = (SegmentId::generate_random(), SegmentId::generate_random());

        let mut state = CacheState::default();
        state.insert(key(first, &[1, 2]), docs.clone(), size, 200, 10);
        state.insert(key(second, &[1, 2]), docs.clone(), size, 200, 10);
        // The same entry again (two searches computed it) is counted once.
        state.insert(key(second, &[1, 2]), docs.clone(), size, 200, 10);
        assert_eq!((state.entries.len(), state.bytes), (2, 160));
        // A third would pass 200 bytes: the cache starts over with it alone.
        state.insert(key(first, &[3, 4]), docs.clone(), size, 200, 10);
        assert_eq!((state.entries.len(), state.bytes), (1, 80));
        assert!(state.entries.contains_key(&key(first, &[3, 4])));

        let mut state = CacheState::default();
        for ids in [[1, 2], [3, 4], [5, 6]] {
            state.insert(key(first, &ids), docs.clone(), size, usize::MAX, 2);
        }
        assert_eq!(state.entries.len(), 1, "two entries at most");
    }
}
