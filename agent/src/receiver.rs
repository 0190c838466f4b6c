//! The local OTLP receiver: applications on the host export to it (gRPC and/or HTTP) and it
//! forwards their requests, unconverted, through the disk buffer. A request is answered 200 /
//! OK only once fsync'd there; a full buffer answers 503 / `UNAVAILABLE` with a retry hint.

mod grpc;
mod http;

use std::io::Read as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;
use tokio::sync::{mpsc, oneshot};

pub use grpc::grpc_router;
pub use http::http_router;

use crate::buffer::{Buffer, BufferEntry, Signal, WriteRequest};
use crate::error::AgentError;
use crate::metrics::Metrics;

/// Seconds clients are told to wait when the buffer is full.
const RETRY_AFTER_SECS: u64 = 1;

/// Shared by both listeners.
#[derive(Clone)]
pub struct ReceiverState {
    /// The buffer writer.
    pub writer: mpsc::Sender<WriteRequest>,
    /// For the fullness check before reading a body.
    pub buffer: Buffer,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Body limit, after decompression.
    pub max_request_bytes: usize,
}

/// Why a request was refused, with the status each protocol answers.
#[derive(Debug)]
pub(crate) enum Refusal {
    BadRequest(String),
    TooLarge(String),
    Unsupported(String),
    Unavailable(String),
}

impl Refusal {
    fn message(&self) -> &str {
        match self {
            Self::BadRequest(m)
            | Self::TooLarge(m)
            | Self::Unsupported(m)
            | Self::Unavailable(m) => m,
        }
    }
}

/// Decompresses (gzip or identity) within the size limit.
pub(crate) fn decompress(body: Bytes, gzip: bool, limit: usize) -> Result<Bytes, Refusal> {
    if !gzip {
        return Ok(body);
    }
    let mut out = Vec::new();
    let decoder = flate2::read::GzDecoder::new(&body[..]);
    decoder
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|err| Refusal::BadRequest(format!("invalid gzip body: {err}")))?;
    if out.len() > limit {
        return Err(Refusal::TooLarge(format!(
            "request exceeds {limit} bytes after decompression"
        )));
    }
    Ok(out.into())
}

/// Checks a protobuf request and counts its records.
pub(crate) fn count_records(signal: Signal, message: &[u8]) -> Result<u32, Refusal> {
    let bad = |err: prost::DecodeError| {
        Refusal::BadRequest(format!("cannot decode {} request: {err}", signal.name()))
    };
    let count: usize = match signal {
        Signal::Logs => ExportLogsServiceRequest::decode(message)
            .map_err(bad)?
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .map(|s| s.log_records.len())
            .sum(),
        Signal::Traces => ExportTraceServiceRequest::decode(message)
            .map_err(bad)?
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum(),
        Signal::Metrics => ExportMetricsServiceRequest::decode(message)
            .map_err(bad)?
            .resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .map(|s| s.metrics.len())
            .sum(),
    };
    Ok(u32::try_from(count).unwrap_or(u32::MAX))
}

/// OTLP-JSON → protobuf, so the buffer and the sink only ever see protobuf.
pub(crate) fn json_to_protobuf(signal: Signal, json: &[u8]) -> Result<Bytes, Refusal> {
    let bad = |err: serde_json::Error| {
        Refusal::BadRequest(format!(
            "invalid OTLP/JSON {} request: {err}",
            signal.name()
        ))
    };
    let encoded = match signal {
        Signal::Logs => serde_json::from_slice::<ExportLogsServiceRequest>(json)
            .map_err(bad)?
            .encode_to_vec(),
        Signal::Traces => serde_json::from_slice::<ExportTraceServiceRequest>(json)
            .map_err(bad)?
            .encode_to_vec(),
        Signal::Metrics => serde_json::from_slice::<ExportMetricsServiceRequest>(json)
            .map_err(bad)?
            .encode_to_vec(),
    };
    Ok(encoded.into())
}

impl ReceiverState {
    /// Appends a validated protobuf request to the buffer and waits for the fsync.
    pub(crate) async fn submit(&self, signal: Signal, message: Bytes) -> Result<(), Refusal> {
        let num_records = count_records(signal, &message)?;
        if num_records == 0 {
            // An empty request succeeds without touching the disk (OTLP spec).
            return Ok(());
        }
        let (reply, wait) = oneshot::channel();
        let request = WriteRequest {
            entry: BufferEntry {
                signal,
                num_records,
                source: String::new(),
                marks: Vec::new(),
                payload: message,
            },
            reply: Some(reply),
            wait_when_full: false,
        };
        let unavailable = |detail: &str| Refusal::Unavailable(detail.to_string());
        self.writer
            .send(request)
            .await
            .map_err(|_| unavailable("agent is shutting down"))?;
        match wait.await {
            Ok(Ok(())) => {
                self.metrics
                    .otlp_requests_accepted
                    .fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Ok(Err(AgentError::TooLarge { len, max })) => Err(Refusal::TooLarge(format!(
                "request of {len} bytes exceeds the buffer's entry limit of {max} bytes"
            ))),
            Ok(Err(err)) => Err(Refusal::Unavailable(err.to_string())),
            Err(_) => Err(unavailable("agent is shutting down")),
        }
    }

    /// Refuses early when the buffer is full, before reading a body.
    pub(crate) fn check_space(&self) -> Result<(), Refusal> {
        if self.buffer.when_full() == crate::config::WhenFull::Block && self.buffer.is_full(0) {
            return Err(Refusal::Unavailable(
                "agent disk buffer is full".to_string(),
            ));
        }
        Ok(())
    }

    pub(crate) fn refused(&self) {
        self.metrics
            .otlp_requests_refused
            .fetch_add(1, Ordering::Relaxed);
    }
}
