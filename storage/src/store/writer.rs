//! The WAL writer thread: takes append requests from a bounded channel, appends them,
//! fsyncs once for the whole group (group commit), hands the records to their stores and
//! only then acknowledges. A failed write or fsync acknowledges nothing.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use tracing::{error, warn};

use super::tables::Chunk;
use super::{AppendRequest, IndexerCommand, Inner, Records, WalCommand};
use crate::error::StorageError;
use crate::model::Signal;
use crate::wal::{Wal, WalConfig};

/// Most requests and bytes written under one fsync.
const MAX_GROUP_REQUESTS: usize = 512;
const MAX_GROUP_BYTES: usize = 64 << 20;

pub(crate) fn run_wal_writer(
    inner: Arc<Inner>,
    mut wal: Wal,
    wal_config: WalConfig,
    commands: Receiver<WalCommand>,
) {
    loop {
        let first = match commands.recv_timeout(Duration::from_secs(1)) {
            Ok(command) => command,
            Err(RecvTimeoutError::Timeout) => {
                truncate(&inner, &mut wal);
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut group = Vec::new();
        let mut group_bytes = 0;
        let mut shutdown = false;
        match first {
            WalCommand::Append(request) => {
                group_bytes += request.payload.len();
                group.push(request);
            }
            WalCommand::Shutdown => shutdown = true,
        }
        while !shutdown && group.len() < MAX_GROUP_REQUESTS && group_bytes < MAX_GROUP_BYTES {
            match commands.try_recv() {
                Ok(WalCommand::Append(request)) => {
                    group_bytes += request.payload.len();
                    group.push(request);
                }
                Ok(WalCommand::Shutdown) => shutdown = true,
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        if !write_group(&inner, &mut wal, group) {
            reopen(&inner, &mut wal, &wal_config);
        }
        truncate(&inner, &mut wal);
        if shutdown {
            // Requests queued behind the shutdown were never written: refuse them so clients retry.
            while let Ok(command) = commands.try_recv() {
                if let WalCommand::Append(request) = command {
                    let _ = request
                        .ack
                        .send(Err(StorageError::unavailable("shutting down")));
                }
            }
            break;
        }
    }
}

/// After a failed fsync the page cache can no longer be trusted (the WAL refuses further
/// writes); reopening re-reads what is really on disk. Until it succeeds, appends fail and
/// clients get 503, which they retry.
fn reopen(inner: &Inner, wal: &mut Wal, wal_config: &WalConfig) {
    match Wal::open(wal_config.clone(), wal.next_seq()) {
        Ok((reopened, report)) => {
            inner
                .stats
                .wal_torn_tail_bytes
                .fetch_add(report.torn_tail_bytes, Ordering::Relaxed);
            *wal = reopened;
            warn!("wal reopened after a failed fsync");
        }
        Err(err) => error!(error = %err, "cannot reopen the wal after a failed fsync"),
    }
}

/// Writes and syncs one group; false when the WAL must be reopened (a failed fsync).
fn write_group(inner: &Inner, wal: &mut Wal, group: Vec<AppendRequest>) -> bool {
    let mut appended = Vec::with_capacity(group.len());
    let mut healthy = true;
    for request in group {
        match wal.append(&request.payload) {
            Ok(seq) => appended.push((seq, request)),
            Err(err) => {
                inner.stats.wal_write_errors.fetch_add(1, Ordering::Relaxed);
                error!(error = %err, "wal append failed");
                healthy &= !matches!(err, crate::wal::WalError::Poisoned { .. });
                let _ = request.ack.send(Err(StorageError::unavailable(format!(
                    "wal write failed: {err}"
                ))));
            }
        }
    }
    if appended.is_empty() {
        return healthy;
    }
    if let Err(err) = wal.sync() {
        inner.stats.wal_write_errors.fetch_add(1, Ordering::Relaxed);
        error!(error = %err, "wal fsync failed");
        for (_, request) in appended {
            let _ = request.ack.send(Err(StorageError::unavailable(format!(
                "wal fsync failed: {err}"
            ))));
        }
        return false;
    }
    inner
        .stats
        .wal_bytes
        .store(wal.disk_bytes(), Ordering::Relaxed);
    for (seq, request) in appended {
        deliver(inner, seq, request.signal, request.records);
        inner
            .stats
            .add_appended(request.signal, request.num_records);
        let _ = request.ack.send(Ok(seq));
    }
    healthy
}

/// Hands a durable record to its store. Spans and metrics enter the recent buffer here, so
/// they are queryable before the client even reads its acknowledgement.
pub(crate) fn deliver(inner: &Inner, seq: u64, signal: Signal, records: Records) {
    inner.progress.set_delivered(signal, seq);
    match records {
        Records::Logs(rows) => {
            // Blocks when the indexer is behind: the WAL queue then fills and ingest gets 503.
            if inner
                .indexer_tx
                .send(IndexerCommand::Add { seq, rows })
                .is_err()
            {
                warn!(
                    seq,
                    "log indexer stopped; record stays in the wal for replay"
                );
            }
        }
        Records::Batch(batch) => {
            let chunk = Chunk {
                seq,
                batch,
                received_at: Instant::now(),
            };
            inner.lock_tables().recent_mut(signal).push_back(chunk);
        }
    }
}

fn truncate(inner: &Inner, wal: &mut Wal) {
    let floor = inner.progress.truncation_floor(wal.next_seq());
    if let Err(err) = wal.truncate_below(floor) {
        warn!(error = %err, "wal truncation failed");
    }
    inner
        .stats
        .wal_bytes
        .store(wal.disk_bytes(), Ordering::Relaxed);
}
