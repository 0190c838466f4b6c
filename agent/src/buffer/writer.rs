//! The one task that appends to the disk buffer. Whatever queued up while the previous
//! fsync ran is written with a single fsync (group commit), then every requester is answered.

use tokio::sync::{mpsc, oneshot};

use super::{Buffer, BufferEntry};
use crate::config::WhenFull;
use crate::error::AgentError;

/// Entries per group commit, so one fsync never waits on an unbounded backlog.
const MAX_GROUP: usize = 256;
/// Per-entry framing overhead counted against the cap.
const ENTRY_OVERHEAD: usize = 64;

/// One entry to append, and who wants to hear that it is durable.
#[derive(Debug)]
pub struct WriteRequest {
    /// The entry.
    pub entry: BufferEntry,
    /// Answered after the fsync (or with the reason it was refused).
    pub reply: Option<oneshot::Sender<Result<(), AgentError>>>,
    /// With `when_full = "block"`: wait for space (file sources) rather than be refused
    /// at once (local OTLP, which answers 503 so the application retries).
    pub wait_when_full: bool,
}

/// Runs until every sender is dropped and the queue is drained.
pub async fn run_writer(buffer: Buffer, mut requests: mpsc::Receiver<WriteRequest>) {
    while let Some(first) = requests.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match requests.try_recv() {
                Ok(request) => group.push(request),
                Err(_) => break,
            }
        }
        let mut entries = Vec::with_capacity(group.len());
        let mut replies = Vec::with_capacity(group.len());
        let mut pending_bytes = 0usize;
        for request in group {
            let len = request.entry.payload.len() + ENTRY_OVERHEAD;
            if len > buffer.max_entry_bytes() {
                answer(
                    request.reply,
                    Err(AgentError::TooLarge {
                        len,
                        max: buffer.max_entry_bytes(),
                    }),
                );
                continue;
            }
            if admit(&buffer, pending_bytes + len, request.wait_when_full).await {
                pending_bytes += len;
                entries.push(request.entry);
                replies.push(request.reply);
            } else {
                let used = buffer
                    .inner
                    .metrics
                    .buffer_bytes
                    .load(std::sync::atomic::Ordering::Relaxed);
                answer(
                    request.reply,
                    Err(AgentError::BufferFull {
                        used,
                        max: buffer.inner.config.max_bytes,
                    }),
                );
            }
        }
        if entries.is_empty() {
            continue;
        }
        let writer = buffer.clone();
        let result = tokio::task::spawn_blocking(move || writer.append_blocking(&entries)).await;
        let result = match result {
            Ok(Ok(_seqs)) => Ok(()),
            Ok(Err(err)) => Err(err),
            Err(join) => Err(AgentError::Buffer(periscope_wal::WalError::Visitor(
                Box::new(join),
            ))),
        };
        if let Err(err) = &result {
            tracing::error!(error = %err, "disk buffer append failed");
        }
        for reply in replies {
            answer(reply, result.as_ref().map(|_| ()).map_err(clone_error));
        }
    }
}

/// Makes room for `bytes` more according to the policy; false means refuse.
async fn admit(buffer: &Buffer, bytes: usize, wait: bool) -> bool {
    loop {
        if !buffer.is_full(bytes) {
            return true;
        }
        match buffer.when_full() {
            WhenFull::DropOldest => {
                let dropper = buffer.clone();
                let dropped =
                    tokio::task::spawn_blocking(move || dropper.drop_oldest_blocking()).await;
                match dropped {
                    Ok(Ok(true)) => continue,
                    // Nothing left to drop (all of it is in the active segment): go over the
                    // cap by one entry rather than lose the newest data too.
                    Ok(Ok(false)) => return true,
                    Ok(Err(err)) => {
                        tracing::error!(error = %err, "dropping the oldest buffered records failed");
                        return false;
                    }
                    Err(_) => return false,
                }
            }
            WhenFull::Block if !wait || buffer.is_closing() => return false,
            WhenFull::Block => buffer.wait_for_space().await,
        }
    }
}

fn answer(
    reply: Option<tokio::sync::oneshot::Sender<Result<(), AgentError>>>,
    result: Result<(), AgentError>,
) {
    if let Some(reply) = reply {
        // The requester may have given up (client disconnected); nothing to do then.
        let _ = reply.send(result);
    }
}

fn clone_error(err: &AgentError) -> AgentError {
    match err {
        AgentError::BufferFull { used, max } => AgentError::BufferFull {
            used: *used,
            max: *max,
        },
        other => AgentError::Io {
            op: "append to disk buffer",
            path: std::path::PathBuf::from("buffer"),
            source: std::io::Error::other(other.to_string()),
        },
    }
}
