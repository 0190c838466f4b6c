//! `/healthz`, `/readyz` and `/metrics`.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::state::UiState;

/// Liveness: the process answers.
pub(crate) async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the WAL is replayed and ingest is accepted.
pub(crate) async fn readyz(State(state): State<UiState>) -> Response {
    if state.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
    }
}

/// Prometheus text exposition.
pub(crate) async fn metrics(State(state): State<UiState>) -> Response {
    let mut body = String::new();
    (state.metrics)(&mut body);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}
