//! The send loop: oldest buffered entries first, one request at a time, acknowledged in
//! order. A request is retried until the collector gives a final answer; only then does the
//! buffer let go of it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio_util::sync::CancellationToken;

use super::{Backoff, Credentials, Exporter, Outcome};
use crate::buffer::Buffer;
use crate::metrics::Metrics;

/// Sends until `shutdown` is cancelled. Whatever is unsent stays in the buffer.
pub async fn run_sender(
    buffer: Buffer,
    mut exporter: Exporter,
    credentials: Arc<Credentials>,
    metrics: Arc<Metrics>,
    max_request_bytes: usize,
    shutdown: CancellationToken,
) {
    let mut cursor = buffer.acked_seq();
    let mut backoff = Backoff::default();
    loop {
        tokio::select! {
            () = buffer.wait_for_data(cursor) => {}
            () = shutdown.cancelled() => return,
        }
        let batch = match buffer.read_batch(cursor, max_request_bytes).await {
            Ok(batch) => batch,
            Err(err) => {
                tracing::error!(error = %err, "cannot read the disk buffer; retrying in 1s");
                if sleep_or_shutdown(Duration::from_secs(1), &shutdown).await {
                    return;
                }
                continue;
            }
        };
        let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
            // Everything at the cursor was dropped meanwhile (drop_oldest).
            cursor = cursor.max(buffer.acked_seq());
            continue;
        };
        let signal = first.signal;
        let next = last.seq + 1;
        let records: u64 = batch.iter().map(|r| u64::from(r.num_records)).sum();
        if records > 0 {
            // Concatenated Export*ServiceRequest messages are one valid message whose
            // repeated resource field holds them all (protobuf merge semantics).
            let mut body = BytesMut::with_capacity(batch.iter().map(|r| r.payload.len()).sum());
            for ready in &batch {
                body.extend_from_slice(&ready.payload);
            }
            let body: Bytes = body.freeze();
            loop {
                if shutdown.is_cancelled() {
                    return;
                }
                match exporter.export(signal, body.clone()).await {
                    Outcome::Accepted { rejected, message } => {
                        exporter.succeeded();
                        backoff.reset();
                        metrics.unauthorized.store(false, Ordering::Relaxed);
                        metrics.requests_sent.fetch_add(1, Ordering::Relaxed);
                        metrics
                            .records_sent
                            .fetch_add(records.saturating_sub(rejected), Ordering::Relaxed);
                        if rejected > 0 {
                            metrics.dropped(crate::metrics::DropReason::Rejected, rejected);
                            tracing::warn!(rejected, message = %message, signal = signal.name(), "collector rejected records (partial success); not retried");
                        }
                        break;
                    }
                    Outcome::Final { reason, message } => {
                        exporter.succeeded();
                        metrics.dropped(reason, records);
                        tracing::warn!(records, message = %message, signal = signal.name(), "collector refused a request for good; its records are dropped");
                        break;
                    }
                    Outcome::Retry { after, reason } => {
                        metrics.send_retries.fetch_add(1, Ordering::Relaxed);
                        let endpoint = exporter.endpoint().to_string();
                        let round_done = exporter.fail_over();
                        tracing::debug!(endpoint = %endpoint, reason = %reason, "export failed; retrying");
                        if round_done {
                            let delay = backoff.next_delay(after);
                            if sleep_or_shutdown(delay, &shutdown).await {
                                return;
                            }
                        }
                    }
                    Outcome::Unauthorized { message } => {
                        metrics.unauthorized.store(true, Ordering::Relaxed);
                        tracing::error!(message = %message, endpoint = exporter.endpoint(), "collector refused the agent's credentials; sending paused until the token is reloaded (SIGHUP), data keeps buffering");
                        tokio::select! {
                            () = credentials.wait_for_change() => {}
                            () = shutdown.cancelled() => return,
                        }
                    }
                }
            }
        }
        buffer.ack(next);
        cursor = next;
    }
}

/// Sleeps; returns true if shutdown came first.
async fn sleep_or_shutdown(delay: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        () = tokio::time::sleep(delay) => false,
        () = shutdown.cancelled() => true,
    }
}
