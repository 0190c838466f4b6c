//! Surrounding lines of a log record: its exact neighbours in the same file (by
//! `log.file.path` and `log.file.offset`, for records the agent tailed), otherwise the
//! records of the same service just before and after it.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use periscope_query::{LogQuery, LogRow};

use super::logs::quoted;
use super::logs_view::{LogLine, file_position, log_lines};
use super::page_error::PageError;
use super::params::PageParams;
use crate::state::UiState;

/// Neighbours shown on each side.
const NEIGHBOURS: usize = 10;
/// How far in time the neighbours are looked for.
const WINDOW_NS: i64 = 10 * 60 * 1_000_000_000;
/// Records read from the window at most.
const SCAN: usize = 2000;

/// How the record the neighbours surround is recognised among them.
enum Target {
    Offset(i64),
    Time(i64),
}

impl Target {
    fn matches(&self, row: &LogRow) -> bool {
        match self {
            Target::Offset(offset) => {
                file_position(row).is_some_and(|(_, row_offset)| row_offset == *offset)
            }
            Target::Time(time_ns) => row.time_unix_nano == *time_ns,
        }
    }
}

pub(crate) struct ContextLine {
    pub(crate) line: LogLine,
    pub(crate) target: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "log_context.html")]
pub(crate) struct ContextFragment {
    lines: Vec<ContextLine>,
    source: String,
}

/// `GET /logs/context?t=…&service=…[&path=…&offset=…]` (htmx fragment).
pub(crate) async fn log_context(
    State(state): State<UiState>,
    raw: RawQuery,
) -> Result<ContextFragment, PageError> {
    let params = PageParams::parse(raw)?;
    let time_ns: i64 = params
        .get("t")
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| PageError::bad_request("t must be the record's time in ns"))?;
    let service = params.text("service");
    let path = params.get("path").map(str::to_string);
    let offset: Option<i64> = params.get("offset").and_then(|text| text.parse().ok());
    let search = |query: String, start_ns: i64, end_ns: i64, limit: usize| LogQuery {
        query,
        start_ns: Some(start_ns),
        end_ns: Some(end_ns),
        limit,
    };
    let (rows, target, source): (Vec<LogRow>, Target, String) = match (path, offset) {
        (Some(path), Some(offset)) => {
            let query = format!("log.file.path:{}", quoted(&path));
            let hits = state
                .engine
                .search_logs(search(
                    query,
                    time_ns - WINDOW_NS,
                    time_ns + WINDOW_NS,
                    SCAN,
                ))
                .await?;
            let mut same_file: Vec<(i64, LogRow)> = hits
                .rows
                .into_iter()
                .filter_map(|row| {
                    let (row_path, row_offset) = file_position(&row)?;
                    (row_path == path).then_some((row_offset, row))
                })
                .collect();
            same_file.sort_by_key(|(row_offset, _)| *row_offset);
            same_file.dedup_by_key(|(row_offset, _)| *row_offset);
            let at = same_file.partition_point(|(row_offset, _)| *row_offset < offset);
            let from = at.saturating_sub(NEIGHBOURS);
            let to = (at + NEIGHBOURS + 1).min(same_file.len());
            let rows = same_file.drain(from..to).map(|(_, row)| row).collect();
            (
                rows,
                Target::Offset(offset),
                format!("lines of {path} around byte {offset}"),
            )
        }
        _ => {
            let query = if service.is_empty() {
                String::new()
            } else {
                format!("service:{}", quoted(&service))
            };
            let before = state
                .engine
                .search_logs(search(
                    query.clone(),
                    time_ns - WINDOW_NS,
                    time_ns - 1,
                    NEIGHBOURS,
                ))
                .await?;
            let at_and_after = state
                .engine
                .search_logs(search(query, time_ns, time_ns + WINDOW_NS, SCAN))
                .await?;
            // Both come newest first: keep the oldest records after the target.
            let mut rows: Vec<LogRow> = at_and_after
                .rows
                .into_iter()
                .rev()
                .take(NEIGHBOURS + 1)
                .collect();
            rows.extend(before.rows);
            rows.sort_by_key(|row| row.time_unix_nano);
            (
                rows,
                Target::Time(time_ns),
                format!("records of service {service} around this one, by time"),
            )
        }
    };
    let lines = log_lines(&rows, &[])
        .into_iter()
        .zip(rows.iter())
        .map(|(line, row)| ContextLine {
            line,
            target: target.matches(row),
        })
        .collect();
    Ok(ContextFragment { lines, source })
}
