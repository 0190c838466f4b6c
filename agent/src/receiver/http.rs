//! OTLP/HTTP on the host: `POST /v1/{traces,logs,metrics}`, protobuf or JSON, gzip.

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::{ReceiverState, Refusal, decompress, json_to_protobuf};
use crate::buffer::Signal;

/// The OTLP/HTTP router.
pub fn http_router(state: ReceiverState) -> Router {
    let mut router = Router::new();
    for (path, signal) in [
        ("/v1/logs", Signal::Logs),
        ("/v1/traces", Signal::Traces),
        ("/v1/metrics", Signal::Metrics),
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
    router.layer(DefaultBodyLimit::disable()).with_state(state)
}

async fn export(state: ReceiverState, signal: Signal, headers: HeaderMap, body: Body) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let json = content_type == "application/json";
    let result = async {
        if !json && content_type != "application/x-protobuf" {
            return Err(Refusal::Unsupported(format!(
                "unsupported content type {content_type:?}"
            )));
        }
        let gzip = match headers
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
        {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("identity") => false,
            Some(v) if v.eq_ignore_ascii_case("gzip") => true,
            Some(other) => {
                return Err(Refusal::Unsupported(format!(
                    "unsupported content encoding {other:?}"
                )));
            }
        };
        state.check_space()?;
        let limit = state.max_request_bytes;
        let raw = axum::body::to_bytes(body, limit)
            .await
            .map_err(|_| Refusal::TooLarge(format!("request body exceeds {limit} bytes")))?;
        let message = decompress(raw, gzip, limit)?;
        let message = if json {
            json_to_protobuf(signal, &message)?
        } else {
            message
        };
        state.submit(signal, message).await
    }
    .await;
    match result {
        Ok(()) => {
            if json {
                ([(header::CONTENT_TYPE, "application/json")], "{}").into_response()
            } else {
                (
                    [(header::CONTENT_TYPE, "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
                    .into_response()
            }
        }
        Err(refusal) => {
            state.refused();
            let status = match &refusal {
                Refusal::BadRequest(_) => StatusCode::BAD_REQUEST,
                Refusal::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
                Refusal::Unsupported(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Refusal::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            };
            let body = serde_json::json!({ "message": refusal.message() }).to_string();
            let mut response =
                (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
            if matches!(refusal, Refusal::Unavailable(_)) {
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(super::RETRY_AFTER_SECS),
                );
            }
            response
        }
    }
}
