//! Live tail: `/logs/tail?q=…` is a page whose script (`app.js`) opens an EventSource on
//! `/logs/tail/stream?q=…`; the server polls the log index every second for records newer
//! than those already sent and pushes them as server-sent events, filter kept.

use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use periscope_query::{Engine, LogQuery, LogRow};
use serde_json::json;

use super::layout::{Chrome, link};
use super::logs_view::log_lines;
use super::page_error::PageError;
use super::params::PageParams;
use super::time_range::now_ns;
use crate::state::UiState;

/// Records pushed per poll at most; a faster stream is sampled to the newest ones.
const PER_POLL: usize = 200;
/// The tail starts this far back, so the page is not empty when it opens.
const LOOKBACK_NS: i64 = 30_000_000_000;
/// A tail ends after this long; the browser reconnects if the page is still open.
const MAX_STREAM: Duration = Duration::from_secs(15 * 60);

#[derive(Template, WebTemplate)]
#[template(path = "logs_tail.html")]
pub(crate) struct TailPage {
    chrome: Chrome,
    query: String,
    stream_href: String,
    search_href: String,
}

/// `GET /logs/tail?q=…`.
pub(crate) async fn tail_page(
    State(state): State<UiState>,
    raw: RawQuery,
) -> Result<TailPage, PageError> {
    let params = PageParams::parse(raw)?;
    let query = params.text("q");
    // A bad query is reported now, not as a silent stream.
    state
        .engine
        .search_logs(LogQuery {
            query: query.clone(),
            start_ns: None,
            end_ns: None,
            limit: 0,
        })
        .await?;
    Ok(TailPage {
        chrome: Chrome::new("logs", &query),
        stream_href: link("/logs/tail/stream", &[("q", query.clone())]),
        search_href: link("/logs", &[("q", query.clone())]),
        query,
    })
}

struct Tail {
    engine: Engine,
    query: String,
    /// Newest time sent; records at exactly this time are told apart by `sent_at_newest`.
    newest_ns: i64,
    sent_at_newest: HashSet<(String, String)>,
    pending: Vec<Event>,
    started: tokio::time::Instant,
    first: bool,
}

fn identity(row: &LogRow) -> (String, String) {
    (row.origin.service_name.clone(), row.body_text())
}

impl Tail {
    async fn poll(&mut self) {
        let found = self
            .engine
            .search_logs(LogQuery {
                query: self.query.clone(),
                start_ns: Some(self.newest_ns),
                end_ns: None,
                limit: PER_POLL,
            })
            .await;
        let rows = match found {
            Ok(hits) => hits.rows,
            Err(err) => {
                self.pending
                    .push(Event::default().event("failure").data(err.to_string()));
                return;
            }
        };
        let fresh: Vec<LogRow> = rows
            .into_iter()
            .rev()
            .filter(|row| {
                row.time_unix_nano > self.newest_ns || !self.sent_at_newest.contains(&identity(row))
            })
            .collect();
        for (line, row) in log_lines(&fresh, &[]).into_iter().zip(fresh.iter()) {
            if row.time_unix_nano > self.newest_ns {
                self.newest_ns = row.time_unix_nano;
                self.sent_at_newest.clear();
            }
            self.sent_at_newest.insert(identity(row));
            let data = json!({
                "time": line.time,
                "severity": line.severity,
                "severity_class": line.severity_class,
                "service": line.service,
                "service_class": line.class,
                "body": line.body,
                "trace": line.trace_href,
            });
            self.pending.push(Event::default().data(data.to_string()));
        }
    }
}

/// `GET /logs/tail/stream?q=…` (text/event-stream).
pub(crate) async fn tail_stream(
    State(state): State<UiState>,
    raw: RawQuery,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, PageError> {
    let params = PageParams::parse(raw)?;
    let tail = Tail {
        engine: state.engine,
        query: params.text("q"),
        newest_ns: now_ns() - LOOKBACK_NS,
        sent_at_newest: HashSet::new(),
        pending: Vec::new(),
        started: tokio::time::Instant::now(),
        first: true,
    };
    let stream = futures::stream::unfold(tail, |mut tail| async move {
        loop {
            if !tail.pending.is_empty() {
                let event = tail.pending.remove(0);
                return Some((Ok(event), tail));
            }
            if tail.started.elapsed() > MAX_STREAM {
                return None;
            }
            if !tail.first {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            tail.first = false;
            tail.poll().await;
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
