//! OTLP/gRPC on the host, served by axum over HTTP/2. The one length-prefixed message is read
//! here rather than through a codec, so every refusal gets the status of
//! shared/RELIABILITY.md §1.3 (a codec would answer oversize with a retried OUT_OF_RANGE).

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use base64::Engine as _;
use bytes::Bytes;
use http_body::Frame;
use prost::Message as _;

use super::{ReceiverState, Refusal, decompress};
use crate::buffer::Signal;
use crate::sink::rpc::{ProtoAny, ProtoDuration, RetryInfo, RpcStatus};

/// The OTLP/gRPC router.
pub fn grpc_router(state: ReceiverState) -> Router {
    let mut router = Router::new();
    for (path, signal) in [
        (
            "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            Signal::Logs,
        ),
        (
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            Signal::Traces,
        ),
        (
            "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
            Signal::Metrics,
        ),
    ] {
        router = router.route(
            path,
            post(
                move |State(state): State<ReceiverState>, headers: HeaderMap, body: Body| {
                    export(state, signal, headers, body)
                },
            ),
        );
    }
    router
        .fallback(|| async { trailers_only(12, "unknown service or method", false) })
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

async fn export(state: ReceiverState, signal: Signal, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let gzip = match headers.get("grpc-encoding").and_then(|v| v.to_str().ok()) {
            None | Some("identity") => false,
            Some("gzip") => true,
            Some(other) => {
                return Err(Refusal::Unsupported(format!(
                    "unsupported grpc-encoding {other:?}"
                )));
            }
        };
        state.check_space()?;
        let limit = state.max_request_bytes;
        let raw = axum::body::to_bytes(body, limit + 5)
            .await
            .map_err(|_| Refusal::TooLarge(format!("message exceeds {limit} bytes")))?;
        if raw.len() < 5 {
            return Err(Refusal::BadRequest(
                "grpc message frame is truncated".to_string(),
            ));
        }
        let compressed = raw[0] == 1;
        let declared = u32::from_be_bytes([raw[1], raw[2], raw[3], raw[4]]) as usize;
        if declared != raw.len() - 5 {
            return Err(Refusal::BadRequest(
                "grpc frame length does not match the body".to_string(),
            ));
        }
        if compressed && !gzip {
            return Err(Refusal::BadRequest(
                "compressed message without grpc-encoding".to_string(),
            ));
        }
        let message = decompress(raw.slice(5..), compressed, limit)?;
        state.submit(signal, message).await
    }
    .await;
    match result {
        Ok(()) => ok_response(),
        Err(refusal) => {
            state.refused();
            let (code, retry) = match &refusal {
                Refusal::BadRequest(_) => (3, false),
                Refusal::TooLarge(_) => (8, false),
                Refusal::Unsupported(_) => (12, false),
                Refusal::Unavailable(_) => (14, true),
            };
            trailers_only(code, refusal.message(), retry)
        }
    }
}

fn base_response(body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    response
}

fn ok_response() -> Response {
    // An empty Export*ServiceResponse: a zero-length message.
    let framed = Bytes::from_static(&[0, 0, 0, 0, 0]);
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    base_response(Body::new(GrpcBody {
        data: Some(framed),
        trailers: Some(trailers),
    }))
}

fn trailers_only(code: i32, message: &str, retry: bool) -> Response {
    let mut response = base_response(Body::empty());
    let headers = response.headers_mut();
    headers.insert("grpc-status", HeaderValue::from(code));
    let printable: String = message
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if let Ok(value) = HeaderValue::from_str(&printable.replace('%', "%25")) {
        headers.insert("grpc-message", value);
    }
    if retry {
        let info = RetryInfo {
            retry_delay: Some(ProtoDuration {
                seconds: super::RETRY_AFTER_SECS as i64,
                nanos: 0,
            }),
        };
        let status = RpcStatus {
            code,
            message: message.to_string(),
            details: vec![ProtoAny {
                type_url: "type.googleapis.com/google.rpc.RetryInfo".to_string(),
                value: info.encode_to_vec(),
            }],
        };
        let encoded =
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(status.encode_to_vec());
        if let Ok(value) = HeaderValue::from_str(&encoded) {
            headers.insert("grpc-status-details-bin", value);
        }
    }
    response
}

/// One data frame followed by the trailers carrying `grpc-status`.
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
        Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }
}
