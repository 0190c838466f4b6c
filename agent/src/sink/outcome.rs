//! What an export attempt came to, and the pieces of the answer both protocols share:
//! partial success in the response message, `google.rpc.Status` with `RetryInfo`.

use std::time::Duration;

use base64::Engine as _;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message as _;

use crate::buffer::Signal;
use crate::metrics::DropReason;

/// The result of one export attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Durable at the collector, except `rejected` records (partial success, never retried).
    Accepted {
        /// Records the collector refused.
        rejected: u64,
        /// Its explanation.
        message: String,
    },
    /// A transient failure: try again (another endpoint, or after a backoff).
    Retry {
        /// The server's `Retry-After` / `RetryInfo`, if any.
        after: Option<Duration>,
        /// For the log.
        reason: String,
    },
    /// A final refusal of the whole request: the records are dropped and counted.
    Final {
        /// Counter label.
        reason: DropReason,
        /// The server's message.
        message: String,
    },
    /// 401 / 403: a configuration error. Sending pauses until the credentials change.
    Unauthorized {
        /// The server's message.
        message: String,
    },
}

/// Reads the partial success of an `Export*ServiceResponse`.
pub(crate) fn accepted(signal: Signal, message: &[u8]) -> Outcome {
    let (rejected, text) = match signal {
        Signal::Logs => ExportLogsServiceResponse::decode(message)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| (p.rejected_log_records, p.error_message)),
        Signal::Traces => ExportTraceServiceResponse::decode(message)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| (p.rejected_spans, p.error_message)),
        Signal::Metrics => ExportMetricsServiceResponse::decode(message)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| (p.rejected_data_points, p.error_message)),
    }
    .unwrap_or_default();
    Outcome::Accepted {
        rejected: u64::try_from(rejected).unwrap_or(0),
        message: text,
    }
}

/// `google.rpc.Status`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub(crate) code: i32,
    #[prost(string, tag = "2")]
    pub(crate) message: String,
    #[prost(message, repeated, tag = "3")]
    pub(crate) details: Vec<ProtoAny>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ProtoAny {
    #[prost(string, tag = "1")]
    pub(crate) type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    pub(crate) retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ProtoDuration {
    #[prost(int64, tag = "1")]
    pub(crate) seconds: i64,
    #[prost(int32, tag = "2")]
    pub(crate) nanos: i32,
}

/// The `RetryInfo` delay inside a `google.rpc.Status`, if there is one.
pub(crate) fn retry_delay(status: &RpcStatus) -> Option<Duration> {
    status
        .details
        .iter()
        .filter(|any| any.type_url.ends_with("google.rpc.RetryInfo"))
        .find_map(|any| RetryInfo::decode(&any.value[..]).ok()?.retry_delay)
        .map(|d| {
            Duration::new(
                u64::try_from(d.seconds).unwrap_or(0),
                u32::try_from(d.nanos).unwrap_or(0),
            )
        })
}

/// Decodes a `grpc-status-details-bin` header (base64, padding optional).
pub(crate) fn status_from_header(value: &str) -> Option<RpcStatus> {
    let trimmed = value.trim().trim_end_matches('=');
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(trimmed)
        .ok()?;
    RpcStatus::decode(&bytes[..]).ok()
}

/// Keeps server messages short in our logs.
pub(crate) fn shorten(text: &str) -> String {
    let mut end = text.len().min(512);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}
