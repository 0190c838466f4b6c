//! OTLP/gRPC, served by axum over HTTP/2. We read the one length-prefixed message ourselves
//! rather than through tonic's codec because tonic answers an oversize message with
//! OUT_OF_RANGE (which clients retry forever) and a bad UTF-8 string with INTERNAL; here
//! every condition gets the code of shared/RELIABILITY.md §1.3.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use bytes::Bytes;
use http_body::Frame;
use periscope_storage::Signal;

use crate::body::read_capped;
use crate::decompress::Encoding;
use crate::error::CollectorError;
use crate::http::partial_success_proto;
use crate::pipeline::{Collector, Format};
use crate::rpc_status;

const GRPC_CONTENT_TYPE: &str = "application/grpc";

/// The OTLP/gRPC router (port 4317 by default).
pub fn grpc_router(collector: Collector) -> Router {
    let mut router = Router::new();
    for (path, signal) in [
        (
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            Signal::Spans,
        ),
        (
            "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            Signal::Logs,
        ),
        (
            "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
            Signal::Metrics,
        ),
    ] {
        let handler = post(
            move |State(collector): State<Collector>, headers: HeaderMap, body: Body| {
                export(collector, signal, headers, body)
            },
        );
        router = router.route(path, handler);
    }
    router
        .fallback(unimplemented)
        .layer(DefaultBodyLimit::disable())
        .with_state(collector)
}

async fn unimplemented() -> Response {
    trailers_only(
        12,
        "unknown service or method (profiles are not supported)",
        None,
    )
}

async fn export(collector: Collector, signal: Signal, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let encoding_header = headers
            .get("grpc-encoding")
            .and_then(|value| value.to_str().ok());
        let encoding = Encoding::parse(encoding_header)?;
        // The 5-byte frame header rides on top of the message limit.
        let raw = read_capped(body, collector.max_request_bytes() + 5).await?;
        let (compressed, message) = split_frame(raw)?;
        let encoding = match (compressed, encoding) {
            (false, _) => Encoding::Identity,
            (true, Encoding::Identity) => {
                return Err(CollectorError::InvalidArgument(
                    "compressed message without a grpc-encoding header".to_string(),
                ));
            }
            (true, encoding) => encoding,
        };
        collector
            .ingest(signal, Format::Protobuf, encoding, message)
            .await
    }
    .await;
    match result {
        Ok(outcome) => ok_response(partial_success_proto(signal, &outcome)),
        Err(err) => {
            collector.record_refusal("grpc", &err);
            if let CollectorError::Internal(detail) = &err {
                tracing::error!(error = %detail, "otlp/grpc request failed");
            }
            trailers_only(
                err.grpc_code(),
                &err.client_message(),
                err.retry_after_secs(),
            )
        }
    }
}

/// Splits the gRPC length-prefixed message: 1 flag byte, 4 length bytes, the message.
fn split_frame(mut raw: Bytes) -> Result<(bool, Bytes), CollectorError> {
    if raw.len() < 5 {
        return Err(CollectorError::InvalidArgument(
            "grpc message frame is truncated".to_string(),
        ));
    }
    let header = raw.split_to(5);
    let compressed = match header[0] {
        0 => false,
        1 => true,
        flag => {
            return Err(CollectorError::InvalidArgument(format!(
                "invalid grpc compression flag {flag}"
            )));
        }
    };
    let declared = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if declared != raw.len() {
        return Err(CollectorError::InvalidArgument(format!(
            "grpc frame declares {declared} bytes but carries {}; unary calls take exactly one message",
            raw.len()
        )));
    }
    Ok((compressed, raw))
}

fn base_response(body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(GRPC_CONTENT_TYPE),
    );
    headers.insert(
        "grpc-accept-encoding",
        HeaderValue::from_static("gzip,zstd,identity"),
    );
    response
}

fn ok_response(message: Vec<u8>) -> Response {
    let mut framed = Vec::with_capacity(message.len() + 5);
    framed.push(0);
    framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
    framed.extend_from_slice(&message);
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    base_response(Body::new(GrpcBody {
        data: Some(Bytes::from(framed)),
        trailers: Some(trailers),
    }))
}

/// An error as a "Trailers-Only" response: status in the headers, no body.
fn trailers_only(code: i32, message: &str, retry_after_secs: Option<u64>) -> Response {
    let mut response = base_response(Body::empty());
    let headers = response.headers_mut();
    headers.insert("grpc-status", HeaderValue::from(code));
    let encoded = rpc_status::percent_encode_message(message);
    if let Ok(value) = HeaderValue::from_str(&encoded) {
        headers.insert("grpc-message", value);
    }
    if retry_after_secs.is_some() {
        let status = rpc_status::status(code, message, retry_after_secs);
        if let Ok(value) = HeaderValue::from_str(&rpc_status::details_header(&status)) {
            headers.insert(HeaderName::from_static("grpc-status-details-bin"), value);
        }
    }
    response
}

/// One data frame followed by the trailers that carry `grpc-status`.
struct GrpcBody {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl http_body::Body for GrpcBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        Poll::Ready(
            self.trailers
                .take()
                .map(|trailers| Ok(Frame::trailers(trailers))),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_checked() {
        assert!(split_frame(Bytes::from_static(&[0, 0, 0])).is_err());
        assert!(split_frame(Bytes::from_static(&[0, 0, 0, 0, 2, 1])).is_err());
        assert!(split_frame(Bytes::from_static(&[7, 0, 0, 0, 0])).is_err());
        let (compressed, message) = split_frame(Bytes::from_static(&[1, 0, 0, 0, 1, 9])).unwrap();
        assert!(compressed);
        assert_eq!(&message[..], &[9]);
    }
}
