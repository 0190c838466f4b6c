//! Opening the log index, and the single writer that feeds it.

use std::path::Path;

use tantivy::directory::MmapDirectory;
use tantivy::indexer::{IndexWriterOptions, UserOperation};
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::{Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy};

use super::document::DocumentBuilder;
use super::errors::index_error;
use super::origins::committed_origin_ids;
use super::schema::{LogFields, build_schema, register_tokenizers};
use super::searcher::LogSearcher;
use crate::error::StorageError;
use crate::model::LogRow;

/// Tantivy refuses less than 15 MB per indexing thread (`MEMORY_BUDGET_NUM_BYTES_MIN`, not
/// exported), because its baseline use is about 12 MB.
const MIN_WRITER_MEMORY: usize = 15_000_000;

/// Tantivy's arena addresses are 32-bit: it refuses budgets of `u32::MAX - 1 MB` and more.
const MAX_WRITER_MEMORY: usize = u32::MAX as usize - 2_000_000;

/// Doc-store blocks: rows are compressed together, so bigger blocks find more repetition
/// (the resource shared by a request's rows, the templates of log lines) at the price of
/// decompressing more to read one row back. 128 KiB holds about a thousand rows.
const DOCSTORE_BLOCK_BYTES: usize = 128 * 1024;

/// Decompressed doc-store blocks each segment's reader keeps (tantivy's default is 100, which
/// with 128 KiB blocks would let searches pin ~13 MB per segment). Hits of one page are mostly
/// neighbours, so a few blocks serve them.
const DOCSTORE_CACHE_BLOCKS: usize = 8;

/// zstd's fastest level compresses log rows ~20 % better than lz4 and still runs at several
/// hundred MB/s, far from the bottleneck; higher levels cost CPU that ingest pays per row.
const DOCSTORE_ZSTD_LEVEL: i32 = 1;

/// Documents handed to tantivy's indexing thread per channel message. After every message
/// that thread measures its memory use by walking all its postings writers, and one
/// document a message (`add_document`) made that check and the channel hand-off a quarter
/// of log ingest's CPU (S3, 1M records: 35k -> 48-54k records per CPU-second with 16).
/// Its channel holds 10 000 messages, so at most 160 000 documents wait there.
const DOCS_PER_SEND: usize = 16;

/// Owns the single IndexWriter; lives on one dedicated thread (caller's job).
pub struct LogIndexWriter {
    writer: IndexWriter,
    /// The reader every [`LogSearcher`] clone shares; reloaded after each commit.
    reader: IndexReader,
    fields: LogFields,
    documents: DocumentBuilder,
    uncommitted: u64,
}

/// Opens or creates the index in `dir` (mmap directory). Returns the WAL seq recorded in the last
/// commit's payload (None for a fresh index).
pub fn open_log_index(
    dir: &Path,
    writer_memory_bytes: usize,
) -> Result<(LogIndexWriter, LogSearcher, Option<u64>), StorageError> {
    std::fs::create_dir_all(dir)?;
    let (schema, fields) = build_schema();
    let directory = MmapDirectory::open(dir).map_err(|err| index_error("open directory", err))?;
    let settings = IndexSettings {
        docstore_compression: Compressor::Zstd(ZstdCompressor {
            compression_level: Some(DOCSTORE_ZSTD_LEVEL),
        }),
        docstore_blocksize: DOCSTORE_BLOCK_BYTES,
        ..IndexSettings::default()
    };
    let index = Index::builder()
        .schema(schema)
        .settings(settings)
        .open_or_create(directory)
        .map_err(|err| match err {
            // The only schema an existing index can have is one an earlier layout wrote.
            tantivy::TantivyError::SchemaError(_) => StorageError::Corrupt(format!(
                "the log index in {} was written by an earlier version of Periscope with another \
                 layout; move it away to start a new one",
                dir.display()
            )),
            other => index_error("open index", other),
        })?;
    register_tokenizers(index.tokenizers());

    let metas = index
        .load_metas()
        .map_err(|err| index_error("read index metadata", err))?;
    let wal_seq = metas.payload.as_deref().map(parse_wal_seq).transpose()?;

    // One indexing thread and one merge thread: the writer lives on a single dedicated thread
    // and the server shares a small machine with ingest and queries.
    let options = IndexWriterOptions::builder()
        .memory_budget_per_thread(writer_memory_bytes.clamp(MIN_WRITER_MEMORY, MAX_WRITER_MEMORY))
        .num_worker_threads(1)
        .num_merge_threads(1)
        .build();
    let writer = index
        .writer_with_options(options)
        .map_err(|err| index_error("create index writer", err))?;
    // Manual reloads: searches see exactly what the last `commit` made visible, and no
    // background thread watches the directory.
    let reader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .doc_store_cache_num_blocks(DOCSTORE_CACHE_BLOCKS)
        .try_into()
        .map_err(|err| index_error("open index reader", err))?;
    let known_origins = committed_origin_ids(&reader.searcher(), &fields)?;
    let searcher = LogSearcher::new(&index, reader.clone(), fields);
    tracing::info!(
        dir = %dir.display(),
        docs = searcher.num_docs(),
        origins = known_origins.len(),
        wal_seq,
        "log index opened"
    );
    let writer = LogIndexWriter {
        writer,
        reader,
        fields,
        documents: DocumentBuilder::new(known_origins),
        uncommitted: 0,
    };
    Ok((writer, searcher, wal_seq))
}

fn parse_wal_seq(payload: &str) -> Result<u64, StorageError> {
    payload.trim().parse().map_err(|_| {
        StorageError::Corrupt(format!(
            "log index commit payload {payload:?} is not a WAL sequence number"
        ))
    })
}

impl LogIndexWriter {
    /// Queues `rows` for indexing; they become searchable at the next [`commit`](Self::commit).
    pub fn add(&mut self, rows: &[LogRow]) -> Result<(), StorageError> {
        let mut documents = Vec::with_capacity(DOCS_PER_SEND + 1);
        for group in rows.chunks(DOCS_PER_SEND) {
            for row in group {
                self.documents.build(row, &self.fields, &mut documents);
            }
            self.writer
                .run(documents.drain(..).map(UserOperation::Add))
                .map_err(|err| index_error("add logs", err))?;
            self.uncommitted += group.len() as u64;
        }
        Ok(())
    }

    /// Commits with payload = wal_seq (decimal text), then reloads the searcher's reader so the rows are searchable.
    pub fn commit(&mut self, wal_seq: u64) -> Result<(), StorageError> {
        let mut prepared = self
            .writer
            .prepare_commit()
            .map_err(|err| index_error("prepare commit", err))?;
        prepared.set_payload(&wal_seq.to_string());
        prepared
            .commit()
            .map_err(|err| index_error("commit", err))?;
        let committed = std::mem::take(&mut self.uncommitted);
        self.reader
            .reload()
            .map_err(|err| index_error("reload index reader", err))?;
        tracing::debug!(wal_seq, rows = committed, "log index committed");
        Ok(())
    }

    /// Rows added since the last commit.
    pub fn num_uncommitted(&self) -> u64 {
        self.uncommitted
    }
}
