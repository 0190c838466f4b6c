//! Our JSON query API and the Jaeger-compatible read API (shared/COMPAT.md §6).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use periscope_query::{LogQuery, Trace, TraceSearch};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::jaeger::{Envelope, JaegerTraces};
use crate::params::{parse_duration_ns, parse_time_ns, parse_trace_id};
use crate::render::log_hit;
use crate::state::UiState;

const DEFAULT_TRACE_LIMIT: usize = 20;
const DEFAULT_LOG_LIMIT: usize = 100;

fn jaeger_list(data: Value, total: usize) -> Json<Value> {
    Json(json!({"data": data, "total": total, "limit": 0, "offset": 0, "errors": null}))
}

/// Traces in Jaeger's envelope, serialized straight from the rows (see [`crate::jaeger`]).
fn jaeger_traces(traces: &[Trace], total: usize) -> Response {
    match serde_json::to_vec(&Envelope::new(JaegerTraces(traces), total)) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(err) => jaeger_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot serialize the traces: {err}"),
        ),
    }
}

/// Jaeger's error body, which Grafana shows.
fn jaeger_error(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "data": null, "total": 0, "limit": 0, "offset": 0,
        "errors": [{"code": status.as_u16(), "msg": message}],
    });
    (status, Json(body)).into_response()
}

impl ApiError {
    fn into_jaeger(self) -> Response {
        jaeger_error(self.status(), self.message())
    }
}

/// `GET /api/traces/{traceID}`.
pub(crate) async fn get_trace(
    State(state): State<UiState>,
    Path(raw_id): Path<String>,
) -> Response {
    let (trace_id, short) = match parse_trace_id(&raw_id) {
        Ok(parsed) => parsed,
        Err(err) => return err.into_jaeger(),
    };
    match state.engine.trace(trace_id, short).await {
        Ok(Some(trace)) => jaeger_traces(std::slice::from_ref(&trace), 1),
        Ok(None) => jaeger_error(StatusCode::NOT_FOUND, "trace not found"),
        Err(err) => ApiError::from(err).into_jaeger(),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct TraceSearchParams {
    service: Option<String>,
    operation: Option<String>,
    tags: Option<String>,
    tag: Option<String>,
    #[serde(rename = "minDuration")]
    min_duration: Option<String>,
    #[serde(rename = "maxDuration")]
    max_duration: Option<String>,
    start: Option<String>,
    end: Option<String>,
    limit: Option<String>,
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|text| !text.trim().is_empty())
}

fn trace_search(params: TraceSearchParams) -> Result<TraceSearch, ApiError> {
    let mut tags = Vec::new();
    if let Some(text) = non_empty(params.tags) {
        let parsed: BTreeMap<String, Value> = serde_json::from_str(&text).map_err(|err| {
            ApiError::bad_request(format!("tags must be a JSON object of strings: {err}"))
        })?;
        for (key, value) in parsed {
            let value = match value {
                Value::String(text) => text,
                other => other.to_string(),
            };
            tags.push((key, value));
        }
    }
    if let Some(text) = non_empty(params.tag) {
        let (key, value) = text
            .split_once(':')
            .ok_or_else(|| ApiError::bad_request("tag must look like key:value"))?;
        tags.push((key.to_string(), value.to_string()));
    }
    let limit = match non_empty(params.limit) {
        Some(text) => text.parse::<usize>().map_err(|_| {
            ApiError::bad_request(format!("limit must be a positive integer, got {text:?}"))
        })?,
        None => DEFAULT_TRACE_LIMIT,
    };
    if limit > 1000 {
        return Err(ApiError::bad_request("limit must be at most 1000"));
    }
    Ok(TraceSearch {
        service: non_empty(params.service),
        operation: non_empty(params.operation),
        tags,
        min_duration_ns: non_empty(params.min_duration)
            .map(|d| parse_duration_ns("minDuration", &d))
            .transpose()?,
        max_duration_ns: non_empty(params.max_duration)
            .map(|d| parse_duration_ns("maxDuration", &d))
            .transpose()?,
        start_ns: non_empty(params.start)
            .map(|t| parse_time_ns("start", &t))
            .transpose()?,
        end_ns: non_empty(params.end)
            .map(|t| parse_time_ns("end", &t))
            .transpose()?,
        limit: if limit == 0 {
            DEFAULT_TRACE_LIMIT
        } else {
            limit
        },
        ..TraceSearch::default()
    })
}

/// `GET /api/traces?service=…&operation=…&tags=…&minDuration=…&start=…&end=…&limit=…`.
pub(crate) async fn search_traces(
    State(state): State<UiState>,
    Query(params): Query<TraceSearchParams>,
) -> Response {
    let search = match trace_search(params) {
        Ok(search) => search,
        Err(err) => return err.into_jaeger(),
    };
    match state.engine.search_traces(&search).await {
        Ok(traces) => jaeger_traces(&traces, traces.len()),
        Err(err) => ApiError::from(err).into_jaeger(),
    }
}

/// `GET /api/services`.
pub(crate) async fn services(State(state): State<UiState>) -> Response {
    match state.engine.services().await {
        Ok(names) => {
            let total = names.len();
            jaeger_list(json!(names), total).into_response()
        }
        Err(err) => ApiError::from(err).into_jaeger(),
    }
}

/// `GET /api/services/{service}/operations`.
pub(crate) async fn operations(
    State(state): State<UiState>,
    Path(service): Path<String>,
) -> Response {
    match state.engine.operations(&service).await {
        Ok(names) => {
            let total = names.len();
            jaeger_list(json!(names), total).into_response()
        }
        Err(err) => ApiError::from(err).into_jaeger(),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct LogSearchParams {
    query: Option<String>,
    start: Option<String>,
    end: Option<String>,
    limit: Option<String>,
}

/// `GET /api/logs/search?query=…&start=…&end=…&limit=…`.
pub(crate) async fn search_logs(
    State(state): State<UiState>,
    Query(params): Query<LogSearchParams>,
) -> Result<Json<Value>, ApiError> {
    let limit = match non_empty(params.limit) {
        Some(text) => text.parse::<usize>().map_err(|_| {
            ApiError::bad_request(format!("limit must be a positive integer, got {text:?}"))
        })?,
        None => DEFAULT_LOG_LIMIT,
    };
    let query = LogQuery {
        query: params.query.unwrap_or_default(),
        start_ns: non_empty(params.start)
            .map(|t| parse_time_ns("start", &t))
            .transpose()?,
        end_ns: non_empty(params.end)
            .map(|t| parse_time_ns("end", &t))
            .transpose()?,
        limit,
    };
    let hits = state.engine.search_logs(query).await?;
    let rendered: Vec<Value> = hits.rows.iter().map(log_hit).collect();
    Ok(Json(json!({"total": hits.total, "hits": rendered})))
}

#[derive(Debug, Deserialize)]
pub(crate) struct SqlRequest {
    sql: String,
}

/// `POST /api/sql` with `{"sql": "…"}`. The body is read as JSON whatever its declared
/// content type, so `curl -d` works as typed.
pub(crate) async fn sql(
    State(state): State<UiState>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let request: SqlRequest = serde_json::from_slice(&body).map_err(|err| {
        ApiError::bad_request(format!("expected a JSON body {{\"sql\": \"…\"}}: {err}"))
    })?;
    let result = state.engine.sql(&request.sql).await?;
    Ok(Json(
        json!({"columns": result.columns, "rows": result.rows, "truncated": result.truncated}),
    ))
}
