//! Every figure of a run, as written to results.json. A scenario that was not selected stays
//! `null` (or an empty list).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::stats::Latency;

/// One ingest load.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Ingest {
    /// Records acknowledged.
    pub(crate) sent: u64,
    /// Records found stored afterwards.
    pub(crate) stored: u64,
    /// Server CPU seconds spent.
    pub(crate) cpu_seconds: f64,
    /// The same by server thread name (`tokio-rt-worker`, `flusher`, `wal-writer`, …).
    pub(crate) cpu_by_thread: BTreeMap<String, f64>,
    /// Records per server CPU-second.
    pub(crate) per_cpu_second: f64,
    /// Records per wall-clock second (the client shares the machine).
    pub(crate) per_wall_second: f64,
    /// Ack latency per request.
    pub(crate) ack_latency: Latency,
    /// Refusals retried.
    pub(crate) retries: u64,
}

/// S2: spans over OTLP/HTTP.
#[derive(Debug, Default, Serialize)]
pub(crate) struct HttpSpans {
    /// Protobuf bodies, gzip.
    pub(crate) protobuf_gzip: Ingest,
    /// OTLP/JSON bodies, uncompressed.
    pub(crate) json: Ingest,
}

/// S3: log ingest.
#[derive(Debug, Default, Serialize)]
pub(crate) struct LogIngest {
    /// Records.
    pub(crate) records: Ingest,
    /// Raw body bytes sent.
    pub(crate) body_bytes: u64,
    /// Raw body MB per server CPU-second.
    pub(crate) mb_per_cpu_second: f64,
    /// OTLP-encoded log record bytes sent.
    pub(crate) record_bytes: u64,
    /// OTLP-encoded log record MB per server CPU-second.
    pub(crate) record_mb_per_cpu_second: f64,
}

/// S5 at one size.
#[derive(Debug, Default, Serialize)]
pub(crate) struct TraceLookups {
    /// S1 spans stored when measured.
    pub(crate) spans_stored: u64,
    /// Existing ids.
    pub(crate) found: Latency,
    /// Missing ids.
    pub(crate) missing: Latency,
}

/// S7.
#[derive(Debug, Default, Serialize)]
pub(crate) struct LogNeedle {
    /// S3 lines stored.
    pub(crate) lines_stored: u64,
    /// A rare token.
    pub(crate) rare_token: Latency,
    /// Hits of the rare token.
    pub(crate) rare_token_hits: u64,
    /// A trace id (`trace_id:…`).
    pub(crate) trace_id: Latency,
}

/// S8.
#[derive(Debug, Default, Serialize)]
pub(crate) struct LogAggregate {
    /// S3 lines stored.
    pub(crate) lines_stored: u64,
    /// The term counted.
    pub(crate) term: String,
    /// Its matches over all data.
    pub(crate) hits: u64,
    /// Server time of the logs page (count, 60-bucket histogram, facets) over all data.
    pub(crate) latency: Latency,
}

/// S10: steady state on a fresh server of its own.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Steady {
    /// Measured seconds (after the warm-up).
    pub(crate) seconds: f64,
    /// Spans per second asked for / acknowledged over the whole load.
    pub(crate) spans_per_second_target: f64,
    /// Spans acknowledged per wall-clock second.
    pub(crate) spans_per_second: f64,
    /// Log records per second asked for.
    pub(crate) logs_per_second_target: f64,
    /// Log records acknowledged per wall-clock second.
    pub(crate) logs_per_second: f64,
    /// Server CPU, percent of one core, over the measured window.
    pub(crate) cpu_percent_of_core: f64,
    /// RSS over the measured window, MiB.
    pub(crate) rss_median_mib: f64,
    /// Highest RSS sample, MiB.
    pub(crate) rss_max_mib: f64,
    /// Data directory growth, MiB per minute.
    pub(crate) disk_growth_mib_per_minute: f64,
    /// Spans and log records acknowledged / stored.
    pub(crate) spans_sent: u64,
    /// Spans found stored.
    pub(crate) spans_stored: u64,
    /// Log records acknowledged.
    pub(crate) logs_sent: u64,
    /// Log records found stored.
    pub(crate) logs_stored: u64,
}

/// Server time of one UI page.
#[derive(Debug, Default, Serialize)]
pub(crate) struct PageTime {
    /// What the page is.
    pub(crate) page: String,
    /// Path and query requested.
    pub(crate) path: String,
    /// Time to the whole answer.
    pub(crate) latency: Latency,
}

/// Bytes on disk after a graceful stop.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Disk {
    /// Span Parquet bytes per span acknowledged (S1, S2, probes).
    pub(crate) bytes_per_span: Option<f64>,
    /// Log index bytes per raw log body byte (S3).
    pub(crate) log_index_bytes_per_raw_byte: Option<f64>,
    /// Log index bytes per OTLP-encoded log record byte (S3).
    pub(crate) log_index_bytes_per_record_byte: Option<f64>,
    /// Metric Parquet bytes per point (S4).
    pub(crate) bytes_per_metric_point: Option<f64>,
    /// Bytes by store.
    pub(crate) spans_bytes: u64,
    /// Log index bytes.
    pub(crate) logs_bytes: u64,
    /// Metric bytes.
    pub(crate) metrics_bytes: u64,
    /// WAL bytes left.
    pub(crate) wal_bytes: u64,
}

/// Every figure of a run.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Results {
    /// The machine it ran on.
    pub(crate) machine: Value,
    /// The command-line arguments of the run.
    pub(crate) arguments: Vec<String>,
    /// Scenario ids run.
    pub(crate) scenarios: Vec<&'static str>,
    /// Idle server RSS before any load, MiB.
    pub(crate) idle_rss_mib: f64,
    /// Peak server RSS over the run (not S10), MiB.
    pub(crate) peak_rss_mib: f64,
    /// S1 span ingest over gRPC.
    pub(crate) s1: Option<Ingest>,
    /// S2 span ingest over OTLP/HTTP.
    pub(crate) s2: Option<HttpSpans>,
    /// S3 log ingest.
    pub(crate) s3: Option<LogIngest>,
    /// S4 metric ingest (data points).
    pub(crate) s4: Option<Ingest>,
    /// S5 trace by id, at 1M spans and at the end (full scale), or at the end only.
    pub(crate) s5: Vec<TraceLookups>,
    /// S6 trace search.
    pub(crate) s6: Option<Latency>,
    /// S7 log needle.
    pub(crate) s7: Option<LogNeedle>,
    /// S8 log aggregate.
    pub(crate) s8: Option<LogAggregate>,
    /// S9 ack → visible through the trace API.
    pub(crate) s9: Option<Latency>,
    /// S10 steady state.
    pub(crate) s10: Option<Steady>,
    /// UI page server times.
    pub(crate) pages: Vec<PageTime>,
    /// Bytes on disk.
    pub(crate) disk: Option<Disk>,
}
