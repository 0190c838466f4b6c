//! The storage handle: open (replaying the WAL), append with the durability contract,
//! snapshots for queries, and an ordered shutdown.
//!
//! Threads, each owning one synchronous resource and fed by a bounded channel:
//! - the WAL writer (group commit, then delivery, then ack),
//! - the log indexer (the one Tantivy writer, committing on a timer),
//! - the flusher (recent buffer → Parquet → catalog).

mod flusher;
mod indexer;
mod progress;
mod stats;
mod tables;
mod writer;

pub use stats::StorageStats;
pub use tables::{SnapshotFile, TableSnapshot};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

use arrow::array::RecordBatch;
use tokio::sync::oneshot;
use tracing::{info, warn};

use crate::batch::{logs_from_batch, metrics_to_batch, pack_spans, schema_for, spans_to_batch};
use crate::catalog::load_catalog;
use crate::config::StorageConfig;
use crate::error::StorageError;
use crate::ipc::{Payload, SpanRequestDecoder, decode_payload, encode_log_rows, encode_payload};
use crate::logindex::{LogSearcher, open_log_index};
use crate::model::{LogRow, MetricRow, Signal, SpanRow};
use crate::span_stats::EdgeCarry;
use crate::wal::{Wal, WalConfig};
use progress::Progress;
use tables::{Chunk, Tables};

/// Largest WAL record: the decoded-size cap of a request (64 MiB) plus Arrow overhead.
const MAX_RECORD_BYTES: u32 = 96 << 20;

/// Rows of one signal from one request.
#[derive(Debug, Clone)]
pub enum IngestBatch {
    /// Spans.
    Spans(Vec<SpanRow>),
    /// Spans in columns (the collector builds them straight from the request) and, as their
    /// WAL record, the request they were converted from
    /// ([`crate::ipc::encode_span_request`]); replay needs a [`SpanRequestDecoder`].
    SpanRequest {
        /// The converted spans.
        batch: crate::batch::SpanBatch,
        /// The WAL payload.
        payload: Vec<u8>,
    },
    /// Log records.
    Logs(Vec<LogRow>),
    /// Metric data points.
    Metrics(Vec<MetricRow>),
}

/// An ingest batch converted to its WAL form; built off the async runtime (CPU work).
#[derive(Debug)]
pub struct PreparedAppend {
    signal: Signal,
    num_records: u64,
    payload: Vec<u8>,
    records: Records,
}

/// The records of an append in the form their store takes them.
#[derive(Debug)]
pub(crate) enum Records {
    /// Spans or metrics, for the recent buffer.
    Batch(RecordBatch),
    /// Log rows, for the indexer.
    Logs(Vec<LogRow>),
}

pub(crate) struct AppendRequest {
    signal: Signal,
    num_records: u64,
    payload: Vec<u8>,
    records: Records,
    ack: oneshot::Sender<Result<u64, StorageError>>,
}

pub(crate) enum WalCommand {
    Append(AppendRequest),
    Shutdown,
}

pub(crate) enum IndexerCommand {
    Add { seq: u64, rows: Vec<LogRow> },
    Shutdown,
}

pub(crate) enum FlusherCommand {
    FlushNow(mpsc::SyncSender<()>),
    Shutdown,
}

pub(crate) struct Inner {
    data_dir: PathBuf,
    config: StorageConfig,
    tables: Mutex<Tables>,
    progress: Progress,
    stats: StorageStats,
    log_searcher: LogSearcher,
    wal_tx: SyncSender<WalCommand>,
    indexer_tx: SyncSender<IndexerCommand>,
    flusher_tx: SyncSender<FlusherCommand>,
    shutting_down: AtomicBool,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Inner {
    fn lock_tables(&self) -> MutexGuard<'_, Tables> {
        // A panic while holding this lock leaves plain data behind; keep serving it.
        self.tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Cheap-to-clone handle to the storage engine.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl Store {
    /// Opens the data directory: loads the catalog and the log index, replays the WAL tail
    /// into the stores, and starts the writer, indexer and flusher threads. Blocking.
    ///
    /// A WAL holding span requests (written by a server whose collector appends
    /// [`IngestBatch::SpanRequest`]) cannot be replayed this way: open it with
    /// [`Store::open_with_span_requests`].
    pub fn open(data_dir: &Path, config: StorageConfig) -> Result<Store, StorageError> {
        Store::open_inner(data_dir, config, None)
    }

    /// [`Store::open`], converting the WAL's span requests back to spans with `decoder`.
    pub fn open_with_span_requests(
        data_dir: &Path,
        config: StorageConfig,
        decoder: SpanRequestDecoder,
    ) -> Result<Store, StorageError> {
        Store::open_inner(data_dir, config, Some(decoder))
    }

    fn open_inner(
        data_dir: &Path,
        config: StorageConfig,
        span_requests: Option<SpanRequestDecoder>,
    ) -> Result<Store, StorageError> {
        config.validate()?;
        std::fs::create_dir_all(data_dir)?;
        let started = Instant::now();
        let catalog = load_catalog(data_dir)?;
        let (mut log_writer, log_searcher, logs_committed) =
            open_log_index(&data_dir.join("logs"), config.log_index_memory_bytes)?;
        let persisted = |signal: Signal| match signal {
            Signal::Logs => logs_committed.unwrap_or(0),
            other => catalog.persisted_through(other),
        };
        let progress = Progress::default();
        for signal in Signal::ALL {
            progress.set_persisted(signal, persisted(signal));
            progress.set_delivered(signal, persisted(signal));
        }
        let max_persisted = Signal::ALL
            .iter()
            .map(|&signal| persisted(signal))
            .max()
            .unwrap_or(0);
        let min_persisted = Signal::ALL
            .iter()
            .map(|&signal| persisted(signal))
            .min()
            .unwrap_or(0);
        let wal_config = WalConfig {
            dir: data_dir.join("wal"),
            segment_max_bytes: config.wal_segment_bytes,
            max_record_bytes: MAX_RECORD_BYTES,
        };
        let (wal, open_report) = Wal::open(wal_config.clone(), max_persisted + 1)?;

        let (wal_tx, wal_rx) = mpsc::sync_channel(config.wal_queue_depth);
        let (indexer_tx, indexer_rx) = mpsc::sync_channel(64);
        let (flusher_tx, flusher_rx) = mpsc::sync_channel(16);
        let inner = Arc::new(Inner {
            data_dir: data_dir.to_path_buf(),
            config,
            tables: Mutex::new(Tables {
                catalog,
                ..Tables::default()
            }),
            progress,
            stats: StorageStats::default(),
            log_searcher,
            wal_tx,
            indexer_tx,
            flusher_tx,
            shutting_down: AtomicBool::new(false),
            threads: Mutex::new(Vec::new()),
        });
        inner
            .stats
            .wal_torn_tail_bytes
            .store(open_report.torn_tail_bytes, Ordering::Relaxed);

        let replay_report = replay(
            &inner,
            &wal,
            &mut log_writer,
            span_requests.as_ref(),
            min_persisted + 1,
        )?;
        inner.stats.wal_corrupt_records.store(
            open_report.corrupt_records + replay_report.corrupt_records,
            Ordering::Relaxed,
        );
        inner
            .stats
            .wal_replayed_records
            .store(replay_report.replayed_records, Ordering::Relaxed);
        inner
            .stats
            .wal_bytes
            .store(wal.disk_bytes(), Ordering::Relaxed);
        info!(
            replayed_records = replay_report.replayed_records,
            replayed_bytes = replay_report.replayed_bytes,
            corrupt_records = inner.stats.wal_corrupt_records.load(Ordering::Relaxed),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "storage opened"
        );

        let spawn = |name: &str, body: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.to_string())
                .spawn(body)
        };
        let handles = vec![
            spawn("wal-writer", {
                let inner = inner.clone();
                Box::new(move || writer::run_wal_writer(inner, wal, wal_config, wal_rx))
            })?,
            spawn("log-indexer", {
                let inner = inner.clone();
                Box::new(move || indexer::run_log_indexer(inner, log_writer, indexer_rx))
            })?,
            spawn("flusher", {
                let inner = inner.clone();
                Box::new(move || flusher::run_flusher(inner, flusher_rx))
            })?,
        ];
        *inner
            .threads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = handles;
        Ok(Store { inner })
    }

    /// Converts rows to their WAL form. CPU-bound: call it from a blocking thread for big
    /// batches.
    pub fn prepare(batch: IngestBatch) -> Result<PreparedAppend, StorageError> {
        let (signal, num_records, payload, records) = match batch {
            IngestBatch::Logs(rows) => {
                let payload = encode_log_rows(&rows);
                (Signal::Logs, rows.len(), payload, Records::Logs(rows))
            }
            IngestBatch::Spans(rows) => {
                let batch = spans_to_batch(&rows)?;
                let payload = encode_payload(Signal::Spans, &batch)?;
                (Signal::Spans, rows.len(), payload, Records::Batch(batch))
            }
            IngestBatch::SpanRequest { batch, payload } => {
                let batch = batch.into_inner();
                (
                    Signal::Spans,
                    batch.num_rows(),
                    payload,
                    Records::Batch(batch),
                )
            }
            IngestBatch::Metrics(rows) => {
                let batch = metrics_to_batch(&rows)?;
                let payload = encode_payload(Signal::Metrics, &batch)?;
                (Signal::Metrics, rows.len(), payload, Records::Batch(batch))
            }
        };
        Ok(PreparedAppend {
            signal,
            num_records: num_records as u64,
            payload,
            records,
        })
    }

    /// Appends to the WAL and waits for the group fsync. `Ok` means durable: the caller may
    /// acknowledge. `Unavailable` means nothing was written durably and the client should retry.
    pub async fn append(&self, prepared: PreparedAppend) -> Result<u64, StorageError> {
        let inner = &self.inner;
        if inner.shutting_down.load(Ordering::Acquire) {
            return Err(StorageError::unavailable("shutting down"));
        }
        if inner.stats.wal_bytes() > inner.config.wal_max_backlog_bytes {
            inner
                .stats
                .refused_backpressure
                .fetch_add(1, Ordering::Relaxed);
            return Err(StorageError::Unavailable {
                reason: "wal backlog is full; indexing is behind".to_string(),
                retry_after_secs: 5,
            });
        }
        let (ack_tx, ack_rx) = oneshot::channel();
        let request = AppendRequest {
            signal: prepared.signal,
            num_records: prepared.num_records,
            payload: prepared.payload,
            records: prepared.records,
            ack: ack_tx,
        };
        match inner.wal_tx.try_send(WalCommand::Append(request)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                inner
                    .stats
                    .refused_backpressure
                    .fetch_add(1, Ordering::Relaxed);
                return Err(StorageError::unavailable("wal writer queue is full"));
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(StorageError::unavailable("storage is stopped"));
            }
        }
        ack_rx
            .await
            .map_err(|_| StorageError::unavailable("wal writer stopped"))?
    }

    /// Published files and recent rows of the `spans` or `metrics` table.
    pub fn snapshot(&self, signal: Signal) -> TableSnapshot {
        self.snapshot_of(&self.inner.lock_tables(), signal)
    }

    /// The `spans` snapshot and, taken at the same instant, the flusher's carry of recent
    /// span ids (what the calls among the recent rows are resolved against).
    pub fn spans_with_carry(&self) -> (TableSnapshot, EdgeCarry) {
        let tables = self.inner.lock_tables();
        (
            self.snapshot_of(&tables, Signal::Spans),
            tables.edge_carry.clone(),
        )
    }

    /// As [`Store::snapshot`], keeping of each recent batch only what `pick` returns. A
    /// lookup by trace id wants a handful of the recent rows: picking them under the lock
    /// costs less than cloning thousands of batches to drop them after.
    pub fn snapshot_picking<E>(
        &self,
        signal: Signal,
        mut pick: impl FnMut(&RecordBatch) -> Result<Option<RecordBatch>, E>,
    ) -> Result<TableSnapshot, E> {
        let tables = self.inner.lock_tables();
        let mut recent = Vec::new();
        for chunk in tables.recent(signal) {
            recent.extend(pick(&chunk.batch)?);
        }
        Ok(TableSnapshot {
            files: self.files_of(&tables, signal),
            recent,
        })
    }

    fn snapshot_of(&self, tables: &Tables, signal: Signal) -> TableSnapshot {
        TableSnapshot {
            files: self.files_of(tables, signal),
            recent: tables
                .recent(signal)
                .iter()
                .map(|chunk| chunk.batch.clone())
                .collect(),
        }
    }

    fn files_of(&self, tables: &Tables, signal: Signal) -> Vec<SnapshotFile> {
        tables
            .catalog
            .files
            .iter()
            .filter(|entry| entry.signal == signal)
            .map(|entry| SnapshotFile {
                path: self.inner.data_dir.join(&entry.path),
                num_rows: entry.num_rows,
                min_time_unix_nano: entry.min_time_unix_nano,
                max_time_unix_nano: entry.max_time_unix_nano,
                layout: entry.layout,
            })
            .collect()
    }

    /// The log searcher (sees what the last commit made durable).
    pub fn log_searcher(&self) -> LogSearcher {
        self.inner.log_searcher.clone()
    }

    /// Counters for `/metrics`.
    pub fn stats(&self) -> &StorageStats {
        &self.inner.stats
    }

    /// Writes every buffered span and metric to Parquet now (tests and admin use).
    pub fn flush_now(&self) -> Result<(), StorageError> {
        let (done_tx, done_rx) = mpsc::sync_channel(1);
        self.inner
            .flusher_tx
            .send(FlusherCommand::FlushNow(done_tx))
            .map_err(|_| StorageError::unavailable("flusher stopped"))?;
        done_rx
            .recv()
            .map_err(|_| StorageError::unavailable("flusher stopped"))
    }

    /// Stops in order: refuse new appends, let the WAL writer finish its group, commit the
    /// log index, flush the recent buffer to Parquet. Blocking; idempotent.
    pub fn shutdown(&self) {
        let inner = &self.inner;
        if inner.shutting_down.swap(true, Ordering::AcqRel) {
            return;
        }
        let threads: Vec<JoinHandle<()>> =
            std::mem::take(&mut *inner.threads.lock().unwrap_or_else(|p| p.into_inner()));
        let mut threads = threads.into_iter();
        // Same order as the threads were started: writer, indexer, flusher.
        let _ = inner.wal_tx.send(WalCommand::Shutdown);
        join(threads.next());
        let _ = inner.indexer_tx.send(IndexerCommand::Shutdown);
        join(threads.next());
        let _ = inner.flusher_tx.send(FlusherCommand::Shutdown);
        join(threads.next());
        info!("storage stopped");
    }
}

fn join(handle: Option<JoinHandle<()>>) {
    if let Some(handle) = handle
        && handle.join().is_err()
    {
        warn!("a storage thread panicked during shutdown");
    }
}

#[derive(Default)]
struct ReplayCounts {
    replayed_records: u64,
    replayed_bytes: u64,
    corrupt_records: u64,
}

/// Replays WAL records not yet persisted in their store. Idempotent: each store's persisted
/// position says which records it already holds.
fn replay(
    inner: &Inner,
    wal: &Wal,
    log_writer: &mut crate::logindex::LogIndexWriter,
    span_requests: Option<&SpanRequestDecoder>,
    from_seq: u64,
) -> Result<ReplayCounts, StorageError> {
    let mut counts = ReplayCounts::default();
    let mut failure: Option<StorageError> = None;
    let mut last_log_seq = None;
    let report = wal.replay(from_seq, |seq, payload| {
        let decoded = match decode_payload(payload) {
            Ok(decoded) => decoded,
            Err(err) => {
                warn!(seq, error = %err, "skipping undecodable wal record");
                counts.corrupt_records += 1;
                return Ok(());
            }
        };
        let signal = decoded.signal();
        if seq <= inner.progress.persisted(signal) {
            return Ok(());
        }
        counts.replayed_records += 1;
        counts.replayed_bytes += payload.len() as u64;
        let records = match decoded {
            Payload::LogRows(rows) => Records::Logs(rows),
            Payload::SpanRequest { header, request } => {
                let Some(decoder) = span_requests else {
                    // Not skipped: the records were acknowledged. The server always has one.
                    failure.get_or_insert(StorageError::Corrupt(
                        "the wal holds span requests but the store was opened without their \
                         decoder"
                            .to_string(),
                    ));
                    return Ok(());
                };
                match decoder(header, request).and_then(|batch| {
                    // The stored layout and schema, whatever the decoder built.
                    pack_spans(&batch).map_err(|err| err.to_string())
                }) {
                    Ok(batch) => Records::Batch(batch),
                    Err(err) => {
                        warn!(seq, error = %err, "skipping wal span request that does not convert");
                        counts.corrupt_records += 1;
                        return Ok(());
                    }
                }
            }
            // Logs as IPC, from WALs written before the row form.
            Payload::Batch(Signal::Logs, batch) => match logs_from_batch(&batch) {
                Ok(rows) => Records::Logs(rows),
                Err(err) => {
                    failure.get_or_insert(err);
                    return Ok(());
                }
            },
            // IPC keeps the columns; re-attach our schema so batches from the WAL and from new
            // requests are interchangeable in one table. Spans written in the map layout (WALs
            // from before spans were built packed) are packed here.
            Payload::Batch(signal, batch) => {
                let stored = match signal {
                    Signal::Spans => pack_spans(&batch),
                    other => RecordBatch::try_new(schema_for(other), batch.columns().to_vec())
                        .map_err(StorageError::from),
                };
                match stored {
                    Ok(batch) => Records::Batch(batch),
                    Err(err) => {
                        warn!(seq, error = %err, "skipping wal record with an old schema");
                        counts.corrupt_records += 1;
                        return Ok(());
                    }
                }
            }
        };
        inner.progress.set_delivered(signal, seq);
        match records {
            Records::Logs(rows) => {
                if let Err(err) = log_writer.add(&rows) {
                    failure.get_or_insert(err);
                }
                last_log_seq = Some(seq);
            }
            Records::Batch(batch) => {
                let chunk = Chunk {
                    seq,
                    batch,
                    received_at: Instant::now(),
                };
                let over_budget = {
                    let mut tables = inner.lock_tables();
                    tables.recent_mut(signal).push_back(chunk);
                    tables.recent_rows(signal) >= inner.config.flush_max_rows
                };
                // Bound replay memory: flush as we go, like the running server would.
                if over_budget && let Err(err) = flusher::flush_signal(inner, signal) {
                    failure.get_or_insert(err);
                }
            }
        }
        Ok(())
    })?;
    if let Some(err) = failure {
        return Err(err);
    }
    if let Some(seq) = last_log_seq {
        log_writer.commit(seq)?;
        inner.progress.set_persisted(Signal::Logs, seq);
    }
    counts.corrupt_records += report.corrupt_records;
    Ok(counts)
}

#[cfg(test)]
mod tests;
