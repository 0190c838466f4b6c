//! Periscope ui: the HTTP surface on port 8080: the web UI (server-rendered pages), our JSON
//! query API, the Jaeger-compatible read API Grafana uses, health and metrics. It speaks the
//! query crate's API only (never DataFusion types) and depends on axum and askama.

mod api;
mod csrf;
mod error;
mod guard;
mod health;
mod jaeger;
mod pages;
mod params;
mod render;
mod state;

pub use error::ApiError;
pub use params::{parse_duration_ns, parse_time_ns, parse_trace_id};
pub use state::{MetricsRenderer, UiState};

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};

/// Every route of the API port.
pub fn router(state: UiState) -> Router {
    Router::new()
        .route("/api/traces", get(api::search_traces))
        .route("/api/traces/{trace_id}", get(api::get_trace))
        .route("/api/services", get(api::services))
        .route("/api/services/{service}/operations", get(api::operations))
        .route("/api/logs/search", get(api::search_logs))
        .route("/api/sql", post(api::sql))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .merge(pages::routes())
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
        .with_state(state)
}

/// Every page and script comes from us; nothing inline runs (shared/RELIABILITY.md §5).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; \
    frame-ancestors 'none'";

/// The headers of shared/RELIABILITY.md §5 on every response: a strict CSP, no sniffing, no
/// framing, and telemetry never cached (static files set their own cache policy).
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}
