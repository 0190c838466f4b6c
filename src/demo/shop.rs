//! The simulated shop: a frontend calling checkout, inventory and payments, which call a
//! PostgreSQL database. Produces whole traces with correlated logs: card declines (errors
//! with exception events and stack traces), slow database queries (latency spikes), access
//! logs tailed from a file (with `log.file.path` and `log.file.offset`, as the agent sends
//! them), and request counters for the metrics.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

mod flows;

use flows::exception_event;

use crate::bench::rng::Rng;
use crate::bench::workload::{int, kv, string};

pub(crate) const SERVICES: [&str; 5] =
    ["frontend", "checkout", "payments", "inventory", "postgres"];

const MS: u64 = 1_000_000;
const SERVER: i32 = 2;
const CLIENT: i32 = 3;
const INTERNAL: i32 = 1;
const ACCESS_LOG: &str = "/var/log/shop/frontend-access.log";

/// Requests served, for the `http.server.requests` counter: (service, route, status).
pub(crate) type RequestCounts = BTreeMap<(&'static str, String, i64), u64>;

pub(crate) fn resource(service: &str) -> Resource {
    let host = match service {
        "frontend" | "checkout" => "web-1",
        "postgres" => "db-1",
        _ => "app-1",
    };
    Resource {
        attributes: vec![
            kv("service.name", string(service)),
            kv("service.version", string("2.3.1")),
            kv("deployment.environment.name", string("demo")),
            kv("host.name", string(host)),
            kv("telemetry.sdk.language", string("rust")),
        ],
        ..Default::default()
    }
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "periscope.demo".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        ..Default::default()
    })
}

/// One span to emit.
struct SpanSpec<'a> {
    service: &'static str,
    id: [u8; 8],
    parent: Option<[u8; 8]>,
    name: &'a str,
    kind: i32,
    start: u64,
    end: u64,
    attributes: Vec<KeyValue>,
    error: Option<&'a str>,
}

/// Builds traffic; drained into requests by [`Shop::take`].
pub(crate) struct Shop {
    rng: Rng,
    next_order: u64,
    file_offset: i64,
    spans: BTreeMap<&'static str, Vec<Span>>,
    logs: BTreeMap<&'static str, Vec<LogRecord>>,
    /// Cumulative request counts since the demo started.
    pub(crate) requests: RequestCounts,
}

impl Shop {
    /// `file_start` is where the access log file starts (bytes): runs that follow each
    /// other must not reuse offsets, so the demo passes the time in µs.
    pub(crate) fn new(seed: u64, file_start: i64) -> Shop {
        Shop {
            rng: Rng::new(seed),
            next_order: 1000,
            file_offset: file_start,
            spans: BTreeMap::new(),
            logs: BTreeMap::new(),
            requests: BTreeMap::new(),
        }
    }

    fn between(&mut self, low_ms: u64, high_ms: u64) -> u64 {
        low_ms * MS + self.rng.below((high_ms - low_ms).max(1) * MS)
    }

    fn push(&mut self, trace_id: [u8; 16], spec: SpanSpec<'_>) {
        let mut events = Vec::new();
        if let Some(message) = spec.error {
            events.push(exception_event(spec.service, message, spec.end));
        }
        self.spans.entry(spec.service).or_default().push(Span {
            trace_id: trace_id.to_vec(),
            span_id: spec.id.to_vec(),
            parent_span_id: spec.parent.map(|id| id.to_vec()).unwrap_or_default(),
            name: spec.name.to_string(),
            kind: spec.kind,
            start_time_unix_nano: spec.start,
            end_time_unix_nano: spec.end,
            attributes: spec.attributes,
            events,
            status: spec.error.map(|message| Status {
                message: message.to_string(),
                code: 2,
            }),
            flags: 0x101,
            ..Default::default()
        });
    }

    fn log(
        &mut self,
        service: &'static str,
        time: u64,
        severity: (i32, &str),
        body: String,
        context: Option<([u8; 16], [u8; 8])>,
        mut attributes: Vec<KeyValue>,
    ) {
        if service == "frontend" {
            // Access lines come from a tailed file, as periscope-agent would send them.
            attributes.push(kv("log.file.path", string(ACCESS_LOG)));
            attributes.push(kv("log.file.offset", int(self.file_offset)));
            self.file_offset += body.len() as i64 + 1;
        }
        self.logs.entry(service).or_default().push(LogRecord {
            time_unix_nano: time,
            observed_time_unix_nano: time + 2 * MS,
            severity_number: severity.0,
            severity_text: severity.1.to_string(),
            body: string(body),
            attributes,
            trace_id: context.map(|(trace, _)| trace.to_vec()).unwrap_or_default(),
            span_id: context.map(|(_, span)| span.to_vec()).unwrap_or_default(),
            flags: u32::from(context.is_some()),
            ..Default::default()
        });
    }

    fn count(&mut self, service: &'static str, route: &str, status: i64) {
        *self
            .requests
            .entry((service, route.to_string(), status))
            .or_default() += 1;
    }

    /// Log lines outside any request: health checks, cache refreshes, connection pool notes.
    pub(crate) fn background(&mut self, time: u64) {
        let service = *self.rng.pick(&SERVICES[1..]);
        let (severity, body) = match self.rng.below(4) {
            0 => ((9, "INFO"), "health check ok".to_string()),
            1 => (
                (5, "DEBUG"),
                format!("cache refreshed: {} entries", self.rng.below(5000)),
            ),
            2 => (
                (9, "INFO"),
                format!("connection pool: {} of 20 in use", self.rng.below(20)),
            ),
            _ => (
                (13, "WARN"),
                "config reload skipped: file unchanged".to_string(),
            ),
        };
        let thread = format!("worker-{}", self.rng.below(8));
        self.log(
            service,
            time,
            severity,
            body,
            None,
            vec![kv("thread.name", string(thread))],
        );
    }

    /// Drains what was generated into one trace and one log request.
    pub(crate) fn take(&mut self) -> (ExportTraceServiceRequest, ExportLogsServiceRequest) {
        let resource_spans = std::mem::take(&mut self.spans)
            .into_iter()
            .map(|(service, spans)| ResourceSpans {
                resource: Some(resource(service)),
                scope_spans: vec![ScopeSpans {
                    scope: scope(),
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect();
        let resource_logs = std::mem::take(&mut self.logs)
            .into_iter()
            .map(|(service, log_records)| ResourceLogs {
                resource: Some(resource(service)),
                scope_logs: vec![ScopeLogs {
                    scope: scope(),
                    log_records,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect();
        (
            ExportTraceServiceRequest { resource_spans },
            ExportLogsServiceRequest { resource_logs },
        )
    }
}
