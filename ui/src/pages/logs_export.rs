//! `GET /logs/export?q=…&format=ndjson|csv`: every matching record, newest first, streamed
//! slice by slice of time so no row cap applies and memory stays flat (only more than
//! `query.max_rows` records within one single nanosecond would be cut).

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use periscope_query::{Engine, LogHits, LogQuery, LogRow};

use super::page_error::PageError;
use super::params::PageParams;
use crate::render::log_hit;
use crate::state::UiState;

/// Records a time slice aims to hold.
const PAGE: usize = 2000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Ndjson,
    Csv,
}

const CSV_HEADER: &str = "time_unix_nano,severity_text,severity_number,service,body,trace_id,span_id,attributes,resource\n";

/// A CSV field: quoted when needed; a leading `=`, `+`, `-` or `@` is prefixed with `'` so a
/// spreadsheet never runs a log line as a formula.
fn csv_field(text: &str) -> String {
    let guarded = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

fn render(rows: &[LogRow], format: Format, out: &mut String) {
    for row in rows {
        match format {
            Format::Ndjson => {
                out.push_str(&log_hit(row).to_string());
                out.push('\n');
            }
            Format::Csv => {
                let hit = log_hit(row);
                let fields = [
                    row.time_unix_nano.to_string(),
                    row.severity_text.clone(),
                    row.severity_number.to_string(),
                    row.origin.service_name.clone(),
                    row.body_text(),
                    row.trace_id.map(|id| id.to_hex()).unwrap_or_default(),
                    row.span_id.map(|id| id.to_hex()).unwrap_or_default(),
                    hit["attributes"].to_string(),
                    hit["resource"].to_string(),
                ];
                let line: Vec<String> = fields.iter().map(|field| csv_field(field)).collect();
                out.push_str(&line.join(","));
                out.push('\n');
            }
        }
    }
}

/// Walks the range back in time in slices sized to hold about [`PAGE`] records: each slice is
/// counted, then read whole (so nothing is lost or repeated between slices), and the next
/// slice grows or shrinks with what was found. Each read sorts one slice only, so the cost
/// stays linear in the records exported, however many there are.
struct Cursor {
    engine: Engine,
    query: String,
    start_ns: i64,
    /// Newest time not yet exported, inclusive; `None` when done.
    end_ns: Option<i64>,
    /// Length of the next slice, ns.
    slice_ns: i64,
    format: Format,
    /// Most records one read may return (`query.max_rows`).
    max_rows: usize,
}

impl Cursor {
    /// The next chunk of output (possibly empty), or `None` at the end.
    async fn next_chunk(&mut self) -> Option<String> {
        let end_ns = self.end_ns?;
        if end_ns < self.start_ns {
            self.end_ns = None;
            return None;
        }
        let slice_start = end_ns.saturating_sub(self.slice_ns - 1).max(self.start_ns);
        let count = self.count(slice_start, end_ns).await?;
        if count > self.max_rows && self.slice_ns > 1 {
            self.slice_ns = (self.slice_ns / 4).max(1);
            return Some(String::new());
        }
        if count > self.max_rows {
            tracing::warn!(
                records = count,
                time_ns = end_ns,
                "log export kept only max_rows of the records sharing one nanosecond"
            );
        }
        let rows = if count == 0 {
            Vec::new()
        } else {
            self.read(slice_start, end_ns, count.min(self.max_rows))
                .await?
        };
        let mut out = String::new();
        render(&rows, self.format, &mut out);
        self.end_ns = (slice_start > self.start_ns).then(|| slice_start - 1);
        if count < PAGE / 2 {
            self.slice_ns = self.slice_ns.saturating_mul(2);
        } else if count > PAGE * 2 {
            self.slice_ns = (self.slice_ns / 2).max(1);
        }
        Some(out)
    }

    async fn count(&mut self, start_ns: i64, end_ns: i64) -> Option<usize> {
        let hits = self.search(start_ns, end_ns, 0).await?;
        Some(usize::try_from(hits.total).unwrap_or(usize::MAX))
    }

    async fn read(&mut self, start_ns: i64, end_ns: i64, limit: usize) -> Option<Vec<LogRow>> {
        Some(self.search(start_ns, end_ns, limit).await?.rows)
    }

    async fn search(&mut self, start_ns: i64, end_ns: i64, limit: usize) -> Option<LogHits> {
        let found = self
            .engine
            .search_logs(LogQuery {
                query: self.query.clone(),
                start_ns: Some(start_ns),
                end_ns: Some(end_ns),
                limit,
            })
            .await;
        match found {
            Ok(hits) => Some(hits),
            Err(err) => {
                // The client sees a truncated file; the log says why.
                tracing::warn!(error = %err, "log export stopped");
                self.end_ns = None;
                None
            }
        }
    }
}

/// `GET /logs/export`.
pub(crate) async fn export(
    State(state): State<UiState>,
    raw: RawQuery,
) -> Result<Response, PageError> {
    let params = PageParams::parse(raw)?;
    let range = params.range()?;
    let format = match params.get("format").unwrap_or("ndjson") {
        "ndjson" => Format::Ndjson,
        "csv" => Format::Csv,
        other => {
            return Err(PageError::bad_request(format!(
                "format must be ndjson or csv, got {other:?}"
            )));
        }
    };
    let query = params.text("q");
    // A bad query fails here, with a proper status, rather than as an empty download.
    state
        .engine
        .search_logs(LogQuery {
            query: query.clone(),
            start_ns: Some(range.start_ns),
            end_ns: Some(range.end_ns),
            limit: 0,
        })
        .await?;
    let cursor = Cursor {
        max_rows: state.engine.config().max_rows,
        engine: state.engine.clone(),
        query,
        start_ns: range.start_ns,
        end_ns: Some(range.end_ns),
        slice_ns: (range.len_ns() / 100).max(1_000_000),
        format,
    };
    let header_chunk = (format == Format::Csv).then(|| CSV_HEADER.to_string());
    let body = futures::stream::unfold(
        (cursor, header_chunk),
        |(mut cursor, header_chunk)| async move {
            if let Some(header_line) = header_chunk {
                return Some((
                    Ok::<Bytes, Infallible>(Bytes::from(header_line)),
                    (cursor, None),
                ));
            }
            let chunk = cursor.next_chunk().await?;
            Some((Ok(Bytes::from(chunk)), (cursor, None)))
        },
    );
    let (content_type, file_name) = match format {
        Format::Ndjson => ("application/x-ndjson", "periscope-logs.ndjson"),
        Format::Csv => ("text/csv; charset=utf-8", "periscope-logs.csv"),
    };
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
    }
}
