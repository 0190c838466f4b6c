//! One request, whatever the transport: decompress, decode, convert, append to the WAL,
//! and report partial success. Decoding and conversion of big or compressed requests run on
//! a blocking thread so a 20 MiB request never stalls the async workers; small ones are
//! converted in place (see [`INLINE_REQUEST_BYTES`]).

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use periscope_storage::ipc::encode_span_request;
use periscope_storage::{IngestBatch, Signal, Store};
use tokio::sync::Semaphore;

use crate::config::IngestConfig;
use crate::decompress::{Encoding, decompress};
use crate::error::CollectorError;
use crate::otlp::convert::{
    Conversion, Limits, check_count, convert_logs, convert_metrics, convert_traces,
};
use crate::otlp::json::{decode_json, json_to_protobuf};
use crate::otlp::wire;
use crate::span_request;
use crate::stats::IngestStats;

/// Uncompressed requests up to this size are converted on the async worker that received
/// them (a 64 KiB request converts in well under a millisecond): handing each one to the
/// blocking pool and back cost two thread switches per request, ~7 % of the workers' CPU in an
/// S1 profile. Bigger or compressed requests still go to the blocking pool.
const INLINE_REQUEST_BYTES: usize = 64 * 1024;

/// Protobuf or OTLP-JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Protobuf,
    Json,
}

/// What the client is told on success.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) rejected: u64,
    pub(crate) message: String,
}

struct Inner {
    store: Store,
    config: IngestConfig,
    stats: IngestStats,
    /// Permits are KiB of request bytes being processed; bounded so overload is a 503,
    /// not an out-of-memory kill.
    inflight_kib: Semaphore,
    shutting_down: AtomicBool,
}

/// The ingest handle shared by the gRPC and HTTP receivers. Cheap to clone.
#[derive(Clone)]
pub struct Collector {
    inner: Arc<Inner>,
}

struct Converted {
    prepared: Option<periscope_storage::PreparedAppend>,
    accepted: u64,
    outcome: Outcome,
    reasons: Vec<(&'static str, u64)>,
    /// Soft limits that bit: invalid UTF-8, truncated values, dropped attributes, dropped log ids.
    soft_limits: [u64; 4],
}

impl Collector {
    /// Builds the collector over an opened store.
    pub fn new(store: Store, config: IngestConfig) -> Result<Collector, CollectorError> {
        config.validate()?;
        let permits = (config.max_inflight_bytes / 1024).max(1);
        Ok(Collector {
            inner: Arc::new(Inner {
                store,
                stats: IngestStats::default(),
                inflight_kib: Semaphore::new(permits),
                shutting_down: AtomicBool::new(false),
                config,
            }),
        })
    }

    /// Ingest counters.
    pub fn stats(&self) -> &IngestStats {
        &self.inner.stats
    }

    /// From now on every request is refused with 503 / UNAVAILABLE so clients retry
    /// against the next instance (or this one after restart).
    pub fn begin_shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::Release);
    }

    pub(crate) fn max_request_bytes(&self) -> usize {
        self.inner.config.max_request_bytes
    }

    pub(crate) fn record_refusal(&self, transport: &'static str, error: &CollectorError) {
        self.inner
            .stats
            .add_refused(transport, error.reason_label());
    }

    fn limits(&self) -> Limits {
        Limits::from_config(&self.inner.config, Limits::now_unix_nano())
    }

    /// Processes one export request body.
    pub(crate) async fn ingest(
        &self,
        signal: Signal,
        format: Format,
        encoding: Encoding,
        body: Bytes,
    ) -> Result<Outcome, CollectorError> {
        if self.inner.shutting_down.load(Ordering::Acquire) {
            return Err(CollectorError::Unavailable {
                reason: "server is shutting down".to_string(),
                retry_after_secs: 1,
            });
        }
        let max_bytes = self.inner.config.max_request_bytes;
        let estimate = match encoding {
            Encoding::Identity => body.len(),
            Encoding::Gzip | Encoding::Zstd => body.len().saturating_mul(4).min(max_bytes),
        };
        let kib = u32::try_from(estimate / 1024 + 1).unwrap_or(u32::MAX);
        let _permit = self.inner.inflight_kib.try_acquire_many(kib).map_err(|_| {
            CollectorError::Unavailable {
                reason: "too many request bytes in flight (ingest.max_inflight_bytes)".to_string(),
                retry_after_secs: 1,
            }
        })?;
        let limits = self.limits();
        let max_records = self.inner.config.max_records_per_request;
        let inline = encoding == Encoding::Identity && body.len() <= INLINE_REQUEST_BYTES;
        let work = move || {
            let inflated = decompress(&body, encoding, max_bytes)?;
            convert(signal, format, &inflated, &limits, max_records)
        };
        let converted = if inline {
            // As the blocking pool's join does, a panic becomes a retryable error, not a
            // dropped connection.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
                .map_err(|_| CollectorError::Internal("conversion panicked".to_string()))??
        } else {
            tokio::task::spawn_blocking(work).await.map_err(|err| {
                CollectorError::Internal(format!("conversion task failed: {err}"))
            })??
        };

        let stats = &self.inner.stats;
        for (reason, count) in &converted.reasons {
            stats.add_rejected(signal, reason, *count);
        }
        let [invalid_utf8, truncated, dropped_attributes, dropped_log_ids] = converted.soft_limits;
        stats.add_soft_limits(invalid_utf8, truncated, dropped_attributes);
        stats.add_dropped_log_ids(dropped_log_ids);
        if let Some(prepared) = converted.prepared {
            self.inner.store.append(prepared).await?;
        }
        stats.add_accepted(signal, converted.accepted);
        Ok(converted.outcome)
    }
}

fn decode<Strict, Wire>(format: Format, body: &[u8]) -> Result<Wire, CollectorError>
where
    Strict: serde::de::DeserializeOwned + prost::Message,
    Wire: prost::Message + Default,
{
    match format {
        Format::Protobuf => Wire::decode(body).map_err(|err| {
            CollectorError::InvalidArgument(format!("invalid OTLP protobuf: {err}"))
        }),
        Format::Json => decode_json::<Strict, Wire>(body),
    }
}

fn finish<Rows>(
    conversion: Conversion<Rows>,
    noun: &str,
    dropped_log_ids: u64,
    accepted: usize,
    to_batch: impl FnOnce(Rows) -> Result<IngestBatch, periscope_storage::StorageError>,
) -> Result<Converted, CollectorError> {
    let soft_limits = [
        conversion.invalid_utf8,
        conversion.truncated_values,
        conversion.dropped_attributes,
        dropped_log_ids,
    ];
    let outcome = Outcome {
        rejected: conversion.rejected,
        message: conversion.message(noun),
    };
    let reasons = conversion
        .reasons
        .iter()
        .map(|(reason, count)| (*reason, *count))
        .collect();
    let prepared = if accepted == 0 {
        None
    } else {
        Some(Store::prepare(to_batch(conversion.rows)?)?)
    };
    Ok(Converted {
        prepared,
        accepted: accepted as u64,
        outcome,
        reasons,
        soft_limits,
    })
}

fn convert(
    signal: Signal,
    format: Format,
    body: &[u8],
    limits: &Limits,
    max_records: usize,
) -> Result<Converted, CollectorError> {
    use opentelemetry_proto::tonic::collector as strict;
    match signal {
        Signal::Spans => {
            let protobuf = match format {
                Format::Protobuf => Cow::Borrowed(body),
                Format::Json => Cow::Owned(json_to_protobuf::<
                    strict::trace::v1::ExportTraceServiceRequest,
                >(body)?),
            };
            let conversion = convert_traces(&protobuf, limits, max_records)?;
            let accepted = conversion.rows.len();
            finish(conversion, "spans", 0, accepted, |builder| {
                Ok(IngestBatch::SpanRequest {
                    batch: builder.finish()?,
                    payload: encode_span_request(
                        &span_request::header(limits, max_records),
                        &protobuf,
                    ),
                })
            })
        }
        Signal::Logs => {
            let request = decode::<
                strict::logs::v1::ExportLogsServiceRequest,
                wire::collector::logs::v1::ExportLogsServiceRequest,
            >(format, body)?;
            let count = request
                .resource_logs
                .iter()
                .flat_map(|group| &group.scope_logs)
                .map(|scope| scope.log_records.len())
                .sum();
            check_count(count, max_records)?;
            let (conversion, dropped_ids) = convert_logs(request, limits);
            let accepted = conversion.rows.len();
            finish(conversion, "log records", dropped_ids, accepted, |rows| {
                Ok(IngestBatch::Logs(rows))
            })
        }
        Signal::Metrics => {
            let request = decode::<
                strict::metrics::v1::ExportMetricsServiceRequest,
                wire::collector::metrics::v1::ExportMetricsServiceRequest,
            >(format, body)?;
            let conversion = convert_metrics(request, limits);
            check_count(
                conversion.rows.len() + conversion.rejected as usize,
                max_records,
            )?;
            let accepted = conversion.rows.len();
            finish(conversion, "data points", 0, accepted, |rows| {
                Ok(IngestBatch::Metrics(rows))
            })
        }
    }
}
