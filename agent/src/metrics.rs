//! The agent's own counters, rendered as Prometheus text at `/metrics`. Plain atomics: the
//! hot paths only add, and a scrape reads.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Why records were dropped (`periscope_agent_dropped_records_total{reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DropReason {
    /// The collector rejected them in a partial success.
    Rejected,
    /// The collector answered 400 / `INVALID_ARGUMENT`.
    BadRequest,
    /// The collector answered 413 / `RESOURCE_EXHAUSTED` without `RetryInfo`.
    TooLarge,
    /// Another final (non-retryable) answer.
    Final,
    /// `when_full = "drop_oldest"` made room.
    BufferFull,
}

impl DropReason {
    const ALL: [DropReason; 5] = [
        Self::Rejected,
        Self::BadRequest,
        Self::TooLarge,
        Self::Final,
        Self::BufferFull,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Rejected => "rejected",
            Self::BadRequest => "bad_request",
            Self::TooLarge => "too_large",
            Self::Final => "final",
            Self::BufferFull => "buffer_full",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Per-source counters.
#[derive(Debug, Default)]
pub struct SourceMetrics {
    /// Lines read from files.
    pub lines_read: AtomicU64,
    /// Bytes read from files.
    pub bytes_read: AtomicU64,
    /// Lines cut at `max_line_bytes`.
    pub lines_truncated: AtomicU64,
    /// Lines with invalid UTF-8 replaced.
    pub lines_invalid_utf8: AtomicU64,
    /// Files being tailed.
    pub files_tracked: AtomicU64,
    /// Open file handles.
    pub files_open: AtomicU64,
    /// Per file path: bytes written but not yet read (size − read offset).
    pub file_lag: Mutex<BTreeMap<String, u64>>,
}

/// Everything `/metrics` shows.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Per source, by name.
    pub sources: BTreeMap<String, SourceMetrics>,
    /// OTLP records the collector accepted.
    pub records_sent: AtomicU64,
    /// Export requests the collector accepted.
    pub requests_sent: AtomicU64,
    /// Export attempts that failed and will be retried.
    pub send_retries: AtomicU64,
    dropped: [AtomicU64; 5],
    /// Bytes of the disk buffer on disk.
    pub buffer_bytes: AtomicU64,
    /// Records waiting in the buffer.
    pub buffer_records: AtomicU64,
    /// Records found unacknowledged in the buffer at startup (resent; some may be duplicates).
    pub buffer_replayed_records: AtomicU64,
    /// Local OTLP requests accepted (fsync'd in the buffer).
    pub otlp_requests_accepted: AtomicU64,
    /// Local OTLP requests refused (full buffer, bad request, too large).
    pub otlp_requests_refused: AtomicU64,
    /// The collector refused our credentials: sending is paused.
    pub unauthorized: AtomicBool,
}

impl Metrics {
    /// Metrics with one entry per configured source.
    pub fn new<'a>(source_names: impl IntoIterator<Item = &'a String>) -> Self {
        Self {
            sources: source_names
                .into_iter()
                .map(|name| (name.clone(), SourceMetrics::default()))
                .collect(),
            ..Self::default()
        }
    }

    /// Counts dropped records.
    pub fn dropped(&self, reason: DropReason, records: u64) {
        self.dropped[reason.index()].fetch_add(records, Ordering::Relaxed);
    }

    /// Dropped records so far for one reason.
    pub fn dropped_total(&self, reason: DropReason) -> u64 {
        self.dropped[reason.index()].load(Ordering::Relaxed)
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut family = |name: &str, kind: &str, help: &str, samples: Vec<(String, u64)>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let per_source = |f: &dyn Fn(&SourceMetrics) -> u64| {
            self.sources
                .iter()
                .map(|(name, m)| (format!("{{source=\"{}\"}}", escape(name)), f(m)))
                .collect::<Vec<_>>()
        };
        family(
            "periscope_agent_lines_read_total",
            "counter",
            "Lines read from files.",
            per_source(&|m| load(&m.lines_read)),
        );
        family(
            "periscope_agent_bytes_read_total",
            "counter",
            "Bytes read from files.",
            per_source(&|m| load(&m.bytes_read)),
        );
        family(
            "periscope_agent_lines_truncated_total",
            "counter",
            "Lines cut at max_line_bytes.",
            per_source(&|m| load(&m.lines_truncated)),
        );
        family(
            "periscope_agent_lines_invalid_utf8_total",
            "counter",
            "Lines whose invalid UTF-8 was replaced.",
            per_source(&|m| load(&m.lines_invalid_utf8)),
        );
        family(
            "periscope_agent_files_tracked",
            "gauge",
            "Files being tailed.",
            per_source(&|m| load(&m.files_tracked)),
        );
        family(
            "periscope_agent_files_open",
            "gauge",
            "Open file handles.",
            per_source(&|m| load(&m.files_open)),
        );
        let mut lag = Vec::new();
        for (name, m) in &self.sources {
            if let Ok(files) = m.file_lag.lock() {
                for (path, bytes) in files.iter() {
                    lag.push((
                        format!("{{source=\"{}\",path=\"{}\"}}", escape(name), escape(path)),
                        *bytes,
                    ));
                }
            }
        }
        family(
            "periscope_agent_file_lag_bytes",
            "gauge",
            "Bytes written to a file but not yet read.",
            lag,
        );
        family(
            "periscope_agent_records_sent_total",
            "counter",
            "Records the collector accepted.",
            vec![(String::new(), load(&self.records_sent))],
        );
        family(
            "periscope_agent_requests_sent_total",
            "counter",
            "Export requests the collector accepted.",
            vec![(String::new(), load(&self.requests_sent))],
        );
        family(
            "periscope_agent_send_retries_total",
            "counter",
            "Failed export attempts that are retried.",
            vec![(String::new(), load(&self.send_retries))],
        );
        let dropped = DropReason::ALL
            .iter()
            .map(|r| {
                (
                    format!("{{reason=\"{}\"}}", r.label()),
                    self.dropped_total(*r),
                )
            })
            .collect();
        family(
            "periscope_agent_dropped_records_total",
            "counter",
            "Records given up on, by reason.",
            dropped,
        );
        family(
            "periscope_agent_buffer_bytes",
            "gauge",
            "Bytes of the disk buffer on disk.",
            vec![(String::new(), load(&self.buffer_bytes))],
        );
        family(
            "periscope_agent_buffer_records",
            "gauge",
            "Records waiting in the disk buffer.",
            vec![(String::new(), load(&self.buffer_records))],
        );
        family(
            "periscope_agent_buffer_replayed_records_total",
            "counter",
            "Unacknowledged records found in the buffer at startup and resent.",
            vec![(String::new(), load(&self.buffer_replayed_records))],
        );
        family(
            "periscope_agent_otlp_requests_total",
            "counter",
            "Local OTLP requests, by outcome.",
            vec![
                (
                    "{outcome=\"accepted\"}".to_string(),
                    load(&self.otlp_requests_accepted),
                ),
                (
                    "{outcome=\"refused\"}".to_string(),
                    load(&self.otlp_requests_refused),
                ),
            ],
        );
        family(
            "periscope_agent_unauthorized",
            "gauge",
            "1 while the collector refuses the agent's credentials.",
            vec![(
                String::new(),
                u64::from(self.unauthorized.load(Ordering::Relaxed)),
            )],
        );
        out
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_with_labels() {
        let metrics = Metrics::new(&["app".to_string()]);
        metrics.sources["app"]
            .lines_read
            .fetch_add(3, Ordering::Relaxed);
        metrics.sources["app"]
            .file_lag
            .lock()
            .unwrap()
            .insert("/a \"b\".log".to_string(), 42);
        metrics.dropped(DropReason::BufferFull, 2);
        let text = metrics.render();
        assert!(
            text.contains("periscope_agent_lines_read_total{source=\"app\"} 3"),
            "{text}"
        );
        assert!(
            text.contains(
                "periscope_agent_file_lag_bytes{source=\"app\",path=\"/a \\\"b\\\".log\"} 42"
            ),
            "{text}"
        );
        assert!(
            text.contains("periscope_agent_dropped_records_total{reason=\"buffer_full\"} 2"),
            "{text}"
        );
    }
}
