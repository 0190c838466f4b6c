//! The log indexer thread: owns the single Tantivy writer, adds log records as they become
//! durable and commits on a timer (not per request: a commit writes a segment), recording
//! the WAL position the commit covers.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use tracing::{error, warn};

use super::{IndexerCommand, Inner};
use crate::logindex::LogIndexWriter;
use crate::model::Signal;

pub(crate) fn run_log_indexer(
    inner: Arc<Inner>,
    mut writer: LogIndexWriter,
    commands: Receiver<IndexerCommand>,
) {
    let commit_interval = Duration::from_millis(inner.config.log_commit_interval_ms);
    let mut last_added_seq: Option<u64> = None;
    let mut oldest_pending: Option<Instant> = None;
    loop {
        let timeout = oldest_pending
            .map(|since| commit_interval.saturating_sub(since.elapsed()))
            .unwrap_or(Duration::from_secs(1));
        let stop = match commands.recv_timeout(timeout) {
            Ok(IndexerCommand::Add { seq, rows }) => {
                if let Err(err) = writer.add(&rows) {
                    error!(seq, error = %err, "failed to index log records");
                }
                last_added_seq = Some(seq);
                oldest_pending.get_or_insert_with(Instant::now);
                false
            }
            Ok(IndexerCommand::Shutdown) | Err(RecvTimeoutError::Disconnected) => true,
            Err(RecvTimeoutError::Timeout) => false,
        };
        let due = oldest_pending.is_some_and(|since| since.elapsed() >= commit_interval);
        if (due || stop)
            && let Some(seq) = last_added_seq
            && oldest_pending.is_some()
        {
            match writer.commit(seq) {
                Ok(()) => {
                    inner.progress.set_persisted(Signal::Logs, seq);
                    inner.stats.log_commits.fetch_add(1, Ordering::Relaxed);
                    oldest_pending = None;
                }
                Err(err) => warn!(seq, error = %err, "log index commit failed; retrying"),
            }
        }
        let lag_ms = oldest_pending.map_or(0, |since| since.elapsed().as_millis() as u64);
        inner.stats.set_flush_lag(Signal::Logs, lag_ms);
        if stop {
            break;
        }
    }
}
