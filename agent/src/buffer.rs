//! The disk buffer: every record passes through a `periscope-wal` log in the data dir before
//! it counts as in custody. File sources and the local OTLP receiver append through one
//! writer task (group commit: one fsync for whatever queued up meanwhile); the sink reads in
//! seq order and acknowledges; acknowledged segments are deleted once a checkpoint that
//! records the acknowledgement is durable. A copy of recent payloads stays in memory so the
//! sink rarely reads the disk.

mod entry;
mod writer;

use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use periscope_wal::{Wal, WalConfig, WalError};
use tokio::sync::Notify;

pub use entry::{BufferEntry, FileMark, Signal};
pub use writer::{WriteRequest, run_writer};

use crate::checkpoint::{self, CheckpointState};
use crate::config::{BufferConfig, WhenFull};
use crate::error::AgentError;
use crate::metrics::{DropReason, Metrics};

/// Acknowledged records after which the checkpoint is written before its tick.
const EARLY_CHECKPOINT_RECORDS: u64 = 500;

/// An entry waiting for the collector.
#[derive(Debug)]
struct Queued {
    seq: u64,
    signal: Signal,
    num_records: u32,
    len: usize,
    /// `None` when over the memory budget: read back from disk when sent.
    payload: Option<Bytes>,
}

/// An entry handed to the sink.
#[derive(Debug, Clone)]
pub struct Ready {
    /// Its seq; acknowledge with `ack(seq + 1)`.
    pub seq: u64,
    /// Export service.
    pub signal: Signal,
    /// Records in the payload.
    pub num_records: u32,
    /// The protobuf request (empty for a marks-only entry).
    pub payload: Bytes,
}

#[derive(Debug)]
struct State {
    queue: VecDeque<Queued>,
    mem_bytes: usize,
    checkpoint: CheckpointState,
    disk_bytes: u64,
}

#[derive(Debug)]
struct Inner {
    wal: Mutex<Wal>,
    state: Mutex<State>,
    data_ready: Notify,
    space_freed: Notify,
    /// Signalled when many records were acknowledged since the last checkpoint: a crash
    /// resends what the checkpoint does not record as acknowledged, so after a burst (a
    /// backlog draining) the checkpoint is written early rather than on the next tick.
    checkpoint_due: Notify,
    acked_since_checkpoint: std::sync::atomic::AtomicU64,
    config: BufferConfig,
    checkpoint_path: PathBuf,
    metrics: Arc<Metrics>,
    /// Set at shutdown: writers stop waiting for space, so a full buffer with a collector
    /// that is down cannot hold the shutdown hostage.
    closing: AtomicBool,
    /// `(wal_seq, acked_seq)` of the last checkpoint written; an unchanged state is not
    /// written again (an idle agent does no IO).
    last_written: Mutex<Option<(u64, u64)>>,
}

/// Cheap-to-clone handle to the disk buffer.
#[derive(Debug, Clone)]
pub struct Buffer {
    inner: Arc<Inner>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep going with it.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Buffer {
    /// Opens the buffer in `data_dir/buffer` and the checkpoint beside it, replaying the
    /// entries the checkpoint does not cover yet. Blocking.
    ///
    /// # Errors
    /// Unreadable checkpoint or WAL directory.
    pub fn open(
        data_dir: &Path,
        config: BufferConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Self, AgentError> {
        let checkpoint_path = checkpoint::path_in(data_dir);
        let mut state = checkpoint::load(&checkpoint_path)?;
        let wal_config = WalConfig {
            dir: data_dir.join("buffer"),
            segment_max_bytes: config.segment_bytes(),
            max_record_bytes: u32::MAX,
        };
        let (wal, report) = Wal::open(wal_config, state.wal_seq.max(state.acked_seq))?;
        if report.torn_tail_bytes > 0 {
            tracing::warn!(
                bytes = report.torn_tail_bytes,
                "cut a torn tail off the disk buffer"
            );
        }
        let mut queue = VecDeque::new();
        let mut mem_bytes = 0;
        let mut undecodable = 0u64;
        let now_ms = now_unix_ms();
        let report = wal.replay(0, |seq, bytes| {
            let Some(entry) = BufferEntry::decode(bytes) else {
                undecodable += 1;
                return Ok(());
            };
            state.apply(seq, &entry, now_ms);
            if seq >= state.acked_seq {
                let len = entry.payload.len();
                let keep = mem_bytes + len <= config.memory_bytes;
                if keep {
                    mem_bytes += len;
                }
                metrics
                    .buffer_replayed_records
                    .fetch_add(u64::from(entry.num_records), Ordering::Relaxed);
                queue.push_back(Queued {
                    seq,
                    signal: entry.signal,
                    num_records: entry.num_records,
                    len,
                    payload: keep.then_some(entry.payload),
                });
            }
            Ok(())
        })?;
        if report.corrupt_records + report.skipped_segments + undecodable > 0 {
            tracing::warn!(
                corrupt = report.corrupt_records,
                skipped_segments = report.skipped_segments,
                undecodable,
                "disk buffer had damaged records; they were skipped"
            );
        }
        state.wal_seq = state.wal_seq.max(wal.next_seq());
        let disk_bytes = wal.disk_bytes();
        metrics.buffer_bytes.store(disk_bytes, Ordering::Relaxed);
        metrics.buffer_records.store(
            queue.iter().map(|q| u64::from(q.num_records)).sum(),
            Ordering::Relaxed,
        );
        Ok(Self {
            inner: Arc::new(Inner {
                wal: Mutex::new(wal),
                state: Mutex::new(State {
                    queue,
                    mem_bytes,
                    checkpoint: state,
                    disk_bytes,
                }),
                data_ready: Notify::new(),
                space_freed: Notify::new(),
                checkpoint_due: Notify::new(),
                acked_since_checkpoint: std::sync::atomic::AtomicU64::new(0),
                config,
                checkpoint_path,
                metrics,
                closing: AtomicBool::new(false),
                last_written: Mutex::new(None),
            }),
        })
    }

    /// The current checkpoint (file progress), e.g. for starting tailers.
    pub fn checkpoint(&self) -> CheckpointState {
        lock(&self.inner.state).checkpoint.clone()
    }

    /// Whether `extra` more bytes would go over the cap.
    pub fn is_full(&self, extra: usize) -> bool {
        let used = lock(&self.inner.state).disk_bytes;
        used.saturating_add(extra as u64) > self.inner.config.max_bytes
    }

    /// The largest entry the buffer accepts.
    pub fn max_entry_bytes(&self) -> usize {
        usize::try_from(self.inner.config.max_bytes / 2).unwrap_or(usize::MAX)
    }

    /// The cap policy.
    pub fn when_full(&self) -> WhenFull {
        self.inner.config.when_full
    }

    /// Appends entries and fsyncs once; returns their seqs. Blocking (the writer task runs
    /// it on a blocking thread). Marks are applied to the checkpoint only after the fsync.
    fn append_blocking(&self, entries: &[BufferEntry]) -> Result<Vec<u64>, AgentError> {
        let mut wal = lock(&self.inner.wal);
        let mut seqs = Vec::with_capacity(entries.len());
        for entry in entries {
            seqs.push(wal.append(&entry.encode())?);
        }
        wal.sync()?;
        let disk_bytes = wal.disk_bytes();
        drop(wal);
        let now_ms = now_unix_ms();
        let mut state = lock(&self.inner.state);
        state.disk_bytes = disk_bytes;
        let mut records = 0u64;
        for (seq, entry) in seqs.iter().zip(entries) {
            state.checkpoint.apply(*seq, entry, now_ms);
            let len = entry.payload.len();
            let keep = state.mem_bytes + len <= self.inner.config.memory_bytes;
            if keep {
                state.mem_bytes += len;
            }
            records += u64::from(entry.num_records);
            state.queue.push_back(Queued {
                seq: *seq,
                signal: entry.signal,
                num_records: entry.num_records,
                len,
                payload: keep.then(|| entry.payload.clone()),
            });
        }
        drop(state);
        self.inner
            .metrics
            .buffer_bytes
            .store(disk_bytes, Ordering::Relaxed);
        self.inner
            .metrics
            .buffer_records
            .fetch_add(records, Ordering::Relaxed);
        self.inner.data_ready.notify_one();
        Ok(seqs)
    }

    /// Appends directly, bypassing the writer task (tests of the sink).
    #[cfg(test)]
    pub(crate) fn append_for_test(&self, entries: &[BufferEntry]) {
        self.append_blocking(entries).expect("append");
    }

    /// Waits until an entry with seq ≥ `from_seq` exists.
    pub async fn wait_for_data(&self, from_seq: u64) {
        loop {
            let notified = self.inner.data_ready.notified();
            if lock(&self.inner.state)
                .queue
                .back()
                .is_some_and(|q| q.seq >= from_seq)
            {
                return;
            }
            notified.await;
        }
    }

    /// Consecutive entries from the first with seq ≥ `from_seq`: one signal, payloads adding
    /// up to at most `max_bytes` (at least one entry). Empty if there is none.
    ///
    /// # Errors
    /// Reading spilled payloads back from disk failed.
    pub async fn read_batch(
        &self,
        from_seq: u64,
        max_bytes: usize,
    ) -> Result<Vec<Ready>, AgentError> {
        let mut batch = Vec::new();
        let mut missing = BTreeSet::new();
        {
            let state = lock(&self.inner.state);
            let mut bytes = 0;
            for queued in state.queue.iter().filter(|q| q.seq >= from_seq) {
                if let Some(first) = batch.first().map(|r: &Ready| r.signal)
                    && (queued.signal != first || bytes + queued.len > max_bytes)
                {
                    break;
                }
                bytes += queued.len;
                if queued.payload.is_none() {
                    missing.insert(queued.seq);
                }
                batch.push(Ready {
                    seq: queued.seq,
                    signal: queued.signal,
                    num_records: queued.num_records,
                    payload: queued.payload.clone().unwrap_or_default(),
                });
            }
        }
        if missing.is_empty() {
            return Ok(batch);
        }
        let buffer = self.clone();
        let loaded = tokio::task::spawn_blocking(move || buffer.load_payloads(&missing))
            .await
            .map_err(|err| AgentError::Buffer(WalError::Visitor(Box::new(err))))??;
        for ready in &mut batch {
            if let Some(payload) = loaded.iter().find(|(seq, _)| *seq == ready.seq) {
                ready.payload = payload.1.clone();
            }
        }
        Ok(batch)
    }

    fn load_payloads(&self, wanted: &BTreeSet<u64>) -> Result<Vec<(u64, Bytes)>, AgentError> {
        let (Some(&first), Some(&last)) = (wanted.first(), wanted.last()) else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        let wal = lock(&self.inner.wal);
        let result = wal.replay(first, |seq, bytes| {
            if wanted.contains(&seq)
                && let Some(entry) = BufferEntry::decode(bytes)
            {
                found.push((seq, entry.payload));
            }
            if seq >= last {
                return Err(WalError::Visitor("done".into()));
            }
            Ok(())
        });
        match result {
            Ok(_) | Err(WalError::Visitor(_)) => Ok(found),
            Err(err) => Err(err.into()),
        }
    }

    /// Everything below `seq` was acknowledged (or given up on): it leaves the queue, and its
    /// disk space is freed after the next checkpoint.
    pub fn ack(&self, seq: u64) {
        let mut state = lock(&self.inner.state);
        let mut records = 0u64;
        while state.queue.front().is_some_and(|q| q.seq < seq) {
            if let Some(done) = state.queue.pop_front() {
                if done.payload.is_some() {
                    state.mem_bytes -= done.len;
                }
                records += u64::from(done.num_records);
            }
        }
        state.checkpoint.acked_seq = state.checkpoint.acked_seq.max(seq);
        drop(state);
        let since = self
            .inner
            .acked_since_checkpoint
            .fetch_add(records, Ordering::Relaxed)
            + records;
        if since >= EARLY_CHECKPOINT_RECORDS {
            self.inner.checkpoint_due.notify_one();
        }
        let gauge = &self.inner.metrics.buffer_records;
        let _ = gauge.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
            Some(v.saturating_sub(records))
        });
    }

    /// The first seq not yet acknowledged.
    pub fn acked_seq(&self) -> u64 {
        lock(&self.inner.state).checkpoint.acked_seq
    }

    /// Writes the checkpoint durably, then deletes buffer segments it makes unnecessary.
    /// Blocking.
    ///
    /// # Errors
    /// Writing the checkpoint or deleting segments failed.
    pub fn checkpoint_blocking(&self) -> Result<(), AgentError> {
        // Held throughout: the checkpointer and drop_oldest must not write the file at once.
        let mut last_written = lock(&self.inner.last_written);
        let snapshot = {
            let mut state = lock(&self.inner.state);
            let position = (state.checkpoint.wal_seq, state.checkpoint.acked_seq);
            if *last_written == Some(position) {
                return Ok(());
            }
            state.checkpoint.forget_stale(now_unix_ms());
            state.checkpoint.clone()
        };
        self.inner
            .acked_since_checkpoint
            .store(0, Ordering::Relaxed);
        checkpoint::store(&self.inner.checkpoint_path, &snapshot)?;
        *last_written = Some((snapshot.wal_seq, snapshot.acked_seq));
        let mut wal = lock(&self.inner.wal);
        wal.truncate_below(snapshot.acked_seq.min(snapshot.wal_seq))?;
        wal.sync()?;
        let disk_bytes = wal.disk_bytes();
        drop(wal);
        lock(&self.inner.state).disk_bytes = disk_bytes;
        self.inner
            .metrics
            .buffer_bytes
            .store(disk_bytes, Ordering::Relaxed);
        self.inner.space_freed.notify_waiters();
        Ok(())
    }

    /// `drop_oldest`: gives up on the oldest entries until about one segment is freed.
    /// Returns whether anything was dropped. Blocking.
    fn drop_oldest_blocking(&self) -> Result<bool, AgentError> {
        let target = self.inner.config.segment_bytes();
        let (seq, records) = {
            let state = lock(&self.inner.state);
            let mut freed = 0u64;
            let mut records = 0u64;
            let mut upto = None;
            for queued in &state.queue {
                if freed >= target {
                    break;
                }
                freed += queued.len as u64;
                records += u64::from(queued.num_records);
                upto = Some(queued.seq + 1);
            }
            match upto {
                Some(seq) => (seq, records),
                None => return Ok(false),
            }
        };
        self.ack(seq);
        self.inner.metrics.dropped(DropReason::BufferFull, records);
        tracing::warn!(
            records,
            "disk buffer full: dropped the oldest records (when_full = drop_oldest)"
        );
        self.checkpoint_blocking()?;
        Ok(true)
    }

    /// Completes when enough was acknowledged that the checkpoint should not wait for its tick.
    pub async fn checkpoint_due(&self) {
        self.inner.checkpoint_due.notified().await;
    }

    /// From now on writers are refused rather than kept waiting for space.
    pub fn begin_shutdown(&self) {
        self.inner.closing.store(true, Ordering::Relaxed);
        self.inner.space_freed.notify_waiters();
    }

    fn is_closing(&self) -> bool {
        self.inner.closing.load(Ordering::Relaxed)
    }

    async fn wait_for_space(&self) {
        let notified = self.inner.space_freed.notified();
        // Re-check now and then: space also frees when segments are deleted elsewhere.
        let _ = tokio::time::timeout(std::time::Duration::from_millis(200), notified).await;
    }
}

/// Milliseconds since the epoch.
pub(crate) fn now_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests;
