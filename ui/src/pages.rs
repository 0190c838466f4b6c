//! The web UI: server-rendered askama pages made interactive with htmx. One page per file;
//! every view's state lives in its URL. Telemetry is always escaped by the templates and
//! never marked safe.

mod assets;
mod charts;
mod filter_form;
mod format;
mod graph;
mod jump;
mod layout;
mod log_context;
mod logs;
mod logs_export;
mod logs_tail;
mod logs_view;
mod metrics;
mod page_error;
mod params;
mod services;
mod span_panel;
mod summary;
mod time_range;
mod trace;
mod trace_tree;
mod traces;

use axum::Router;
use axum::routing::get;

use crate::state::UiState;

/// The routes of the pages, their fragments and static files.
pub(crate) fn routes() -> Router<UiState> {
    Router::new()
        .route("/", get(traces::traces_page))
        .route("/traces", get(traces::traces_page))
        .route("/ui/operations", get(traces::operation_options))
        .route("/search", get(jump::jump))
        .route("/logs", get(logs::logs_page))
        .route("/logs/context", get(log_context::log_context))
        .route("/logs/export", get(logs_export::export))
        .route("/logs/tail", get(logs_tail::tail_page))
        .route("/logs/tail/stream", get(logs_tail::tail_stream))
        .route("/metrics/explore", get(metrics::metrics_page))
        .route("/services", get(services::services_page))
        .route("/services/{service}", get(services::service_page))
        .route("/trace/{trace_id}", get(trace::trace_page))
        .route("/trace/{trace_id}/subtree/{span_id}", get(trace::subtree))
        .route("/static/{file}", get(assets::asset))
        .route("/favicon.ico", get(assets::favicon))
}
