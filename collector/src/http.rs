//! OTLP/HTTP: `POST /v1/traces`, `/v1/logs`, `/v1/metrics` (also under `/otlp`), protobuf or
//! OTLP-JSON, optionally gzip or zstd. Responses use the request's content type
//! (shared/COMPAT.md §3).

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use periscope_storage::Signal;
use prost::Message as _;
use serde_json::json;

use crate::body::read_capped;
use crate::decompress::Encoding;
use crate::error::CollectorError;
use crate::pipeline::{Collector, Format, Outcome};
use crate::rpc_status;

/// The OTLP/HTTP router (port 4318 by default).
pub fn http_router(collector: Collector) -> Router {
    let mut router = Router::new();
    for (path, signal) in [
        ("/v1/traces", Signal::Spans),
        ("/v1/logs", Signal::Logs),
        ("/v1/metrics", Signal::Metrics),
    ] {
        let handler = post(
            move |State(collector): State<Collector>, headers: HeaderMap, body: Body| {
                export(collector, signal, headers, body)
            },
        );
        // Some senders put OTLP under a prefix (`/otlp/v1/traces`).
        router = router
            .route(path, handler.clone())
            .route(&format!("/otlp{path}"), handler);
    }
    // We cap the body ourselves, before and after decompression, with OTLP's answer.
    router
        .layer(DefaultBodyLimit::disable())
        .with_state(collector)
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// Parses `Content-Type`, ignoring parameters such as `charset`.
fn format_of(headers: &HeaderMap) -> Result<Format, CollectorError> {
    let content_type = header_str(headers, header::CONTENT_TYPE).unwrap_or("");
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media_type.as_str() {
        "application/x-protobuf" | "application/protobuf" => Ok(Format::Protobuf),
        "application/json" => Ok(Format::Json),
        "" => Err(CollectorError::Unsupported(
            "missing Content-Type; use application/x-protobuf or application/json".to_string(),
        )),
        other => Err(CollectorError::Unsupported(format!(
            "unsupported Content-Type {other:?}; use application/x-protobuf or application/json"
        ))),
    }
}

async fn export(collector: Collector, signal: Signal, headers: HeaderMap, body: Body) -> Response {
    let format = match format_of(&headers) {
        Ok(format) => format,
        Err(err) => return error_response(&collector, Format::Json, &err),
    };
    let result = async {
        let encoding = Encoding::parse(header_str(&headers, header::CONTENT_ENCODING))?;
        let raw = read_capped(body, collector.max_request_bytes()).await?;
        collector.ingest(signal, format, encoding, raw).await
    }
    .await;
    match result {
        Ok(outcome) => success_response(signal, format, &outcome),
        Err(err) => error_response(&collector, format, &err),
    }
}

fn success_response(signal: Signal, format: Format, outcome: &Outcome) -> Response {
    match format {
        Format::Protobuf => {
            let bytes = partial_success_proto(signal, outcome);
            ([(header::CONTENT_TYPE, "application/x-protobuf")], bytes).into_response()
        }
        Format::Json => {
            let body = if outcome.rejected == 0 {
                json!({})
            } else {
                let count_key = match signal {
                    Signal::Spans => "rejectedSpans",
                    Signal::Logs => "rejectedLogRecords",
                    Signal::Metrics => "rejectedDataPoints",
                };
                json!({"partialSuccess": {
                    count_key: outcome.rejected.to_string(),
                    "errorMessage": outcome.message,
                }})
            };
            (
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response()
        }
    }
}

/// The Export*ServiceResponse bytes: empty on full success (partial_success unset).
pub(crate) fn partial_success_proto(signal: Signal, outcome: &Outcome) -> Vec<u8> {
    use opentelemetry_proto::tonic::collector::{logs, metrics, trace};
    if outcome.rejected == 0 {
        return Vec::new();
    }
    let rejected = i64::try_from(outcome.rejected).unwrap_or(i64::MAX);
    let message = outcome.message.clone();
    match signal {
        Signal::Spans => trace::v1::ExportTraceServiceResponse {
            partial_success: Some(trace::v1::ExportTracePartialSuccess {
                rejected_spans: rejected,
                error_message: message,
            }),
        }
        .encode_to_vec(),
        Signal::Logs => logs::v1::ExportLogsServiceResponse {
            partial_success: Some(logs::v1::ExportLogsPartialSuccess {
                rejected_log_records: rejected,
                error_message: message,
            }),
        }
        .encode_to_vec(),
        Signal::Metrics => metrics::v1::ExportMetricsServiceResponse {
            partial_success: Some(metrics::v1::ExportMetricsPartialSuccess {
                rejected_data_points: rejected,
                error_message: message,
            }),
        }
        .encode_to_vec(),
    }
}

fn error_response(collector: &Collector, format: Format, err: &CollectorError) -> Response {
    collector.record_refusal("http", err);
    if let CollectorError::Internal(detail) = err {
        tracing::error!(error = %detail, "otlp/http request failed");
    }
    let status = StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let message = err.client_message();
    let mut response = match format {
        Format::Protobuf => {
            let body = rpc_status::status(err.grpc_code(), &message, None).encode_to_vec();
            (
                status,
                [(header::CONTENT_TYPE, "application/x-protobuf")],
                body,
            )
                .into_response()
        }
        Format::Json => {
            let body = json!({"code": err.grpc_code(), "message": message});
            (
                status,
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response()
        }
    };
    if let Some(seconds) = err.retry_after_secs() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}
