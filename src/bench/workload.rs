//! Realistic OTLP requests for benchmarks: traces of a small shop (services calling each
//! other, ~15 attributes per span, events, errors) and log records replayed from real log
//! corpora with numbers randomised. Every record carries `bench.client` and a unique
//! `bench.seq`, so what was sent can be checked against what is stored exactly.

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};

use super::rng::Rng;

const SERVICES: [&str; 5] = ["frontend", "checkout", "payments", "inventory", "postgres"];
const ROUTES: [&str; 6] = ["/", "/cart", "/checkout", "/pay", "/items/{id}", "/search"];
const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];

pub(crate) fn string(text: impl Into<String>) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(text.into())),
    })
}

pub(crate) fn int(number: i64) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::IntValue(number)),
    })
}

pub(crate) fn kv(key: &str, value: Option<AnyValue>) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value,
        ..Default::default()
    }
}

pub(crate) fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn resource(service: &str, host: u64) -> Resource {
    Resource {
        attributes: vec![
            kv("service.name", string(service)),
            kv("service.version", string("1.4.2")),
            kv("deployment.environment.name", string("production")),
            kv("host.name", string(format!("host-{host}"))),
            kv("telemetry.sdk.language", string("rust")),
            kv("telemetry.sdk.name", string("opentelemetry")),
        ],
        ..Default::default()
    }
}

/// Generates span requests; one per `next_request` call.
pub struct TraceWorkload {
    rng: Rng,
    client: String,
    next_seq: u64,
    /// Probability (percent) that a span is an error.
    error_percent: u64,
    /// Every 50th trace id sent, for lookups by id.
    pub(crate) sampled_trace_ids: Vec<[u8; 16]>,
    num_traces: u64,
}

impl TraceWorkload {
    /// A generator for one client.
    pub fn new(client: &str, seed: u64) -> TraceWorkload {
        TraceWorkload {
            rng: Rng::new(seed),
            client: client.to_string(),
            next_seq: 0,
            error_percent: 2,
            sampled_trace_ids: Vec::new(),
            num_traces: 0,
        }
    }

    /// One request of about `num_spans` spans (whole traces of depth up to 4).
    pub fn next_request(&mut self, num_spans: usize) -> ExportTraceServiceRequest {
        let mut by_service: Vec<Vec<Span>> = vec![Vec::new(); SERVICES.len()];
        let mut produced = 0;
        while produced < num_spans {
            produced += self.trace(&mut by_service, num_spans - produced);
        }
        let resource_spans = by_service
            .into_iter()
            .enumerate()
            .filter(|(_, spans)| !spans.is_empty())
            .map(|(index, spans)| ResourceSpans {
                resource: Some(resource(SERVICES[index], index as u64)),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "periscope.bench".to_string(),
                        version: "1".to_string(),
                        ..Default::default()
                    }),
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect();
        ExportTraceServiceRequest { resource_spans }
    }

    /// Adds one trace (at most `budget` spans); returns how many spans it has.
    fn trace(&mut self, by_service: &mut [Vec<Span>], budget: usize) -> usize {
        let trace_bytes = self.rng.trace_id();
        if self.num_traces.is_multiple_of(50) {
            self.sampled_trace_ids.push(trace_bytes);
        }
        self.num_traces += 1;
        let trace_id = trace_bytes.to_vec();
        let start = now_nanos() - 1_000_000_000;
        let mut stack: Vec<(Vec<u8>, usize, u64, u64)> = Vec::new(); // (span id, depth, start, duration)
        let root_duration = 5_000_000 + self.rng.below(200_000_000);
        let mut count = 0;
        let root_id = self.push_span(by_service, &trace_id, None, 0, start, root_duration);
        count += 1;
        stack.push((root_id, 0, start, root_duration));
        while let Some((parent, depth, parent_start, parent_duration)) = stack.pop() {
            if depth >= 3 || count >= budget {
                continue;
            }
            let children = 1 + self.rng.below(2) as usize;
            for child in 0..children {
                if count >= budget {
                    break;
                }
                let slot = parent_duration / (children as u64 + 1);
                let child_start =
                    parent_start + slot * child as u64 + self.rng.below(slot.max(1) / 4 + 1);
                let duration = slot / 2 + self.rng.below(slot / 2 + 1);
                let id = self.push_span(
                    by_service,
                    &trace_id,
                    Some(&parent),
                    depth + 1,
                    child_start,
                    duration,
                );
                count += 1;
                stack.push((id, depth + 1, child_start, duration));
            }
        }
        count
    }

    fn push_span(
        &mut self,
        by_service: &mut [Vec<Span>],
        trace_id: &[u8],
        parent: Option<&Vec<u8>>,
        depth: usize,
        start: u64,
        duration: u64,
    ) -> Vec<u8> {
        let span_id = self.rng.span_id().to_vec();
        let service_index = depth.min(SERVICES.len() - 1)
            + if depth > 1 {
                self.rng.below(2) as usize
            } else {
                0
            };
        let service_index = service_index.min(SERVICES.len() - 1);
        let is_db = SERVICES[service_index] == "postgres";
        let is_error = self.rng.chance(self.error_percent);
        let route = *self.rng.pick(&ROUTES);
        let method = *self.rng.pick(&METHODS);
        let status = if is_error { 500 } else { 200 };
        let seq = self.next_seq;
        self.next_seq += 1;
        let mut attributes = vec![
            kv("bench.client", string(self.client.as_str())),
            kv("bench.seq", int(seq as i64)),
            kv("http.request.method", string(method)),
            kv("http.route", string(route)),
            kv("http.response.status_code", int(status)),
            kv(
                "url.path",
                string(route.replace("{id}", &self.rng.below(10_000).to_string())),
            ),
            kv(
                "server.address",
                string(format!("{}.internal", SERVICES[service_index])),
            ),
            kv("server.port", int(8080)),
            kv("network.protocol.version", string("1.1")),
            kv(
                "user_agent.original",
                string("Mozilla/5.0 (X11; Linux x86_64) bench"),
            ),
            kv("thread.id", int(self.rng.below(64) as i64)),
            kv(
                "customer.tier",
                string(*self.rng.pick(&["free", "pro", "enterprise"])),
            ),
            kv("cart.items", int(self.rng.below(20) as i64)),
        ];
        if is_db {
            attributes.push(kv("db.system.name", string("postgresql")));
            attributes.push(kv(
                "db.query.text",
                string("SELECT * FROM items WHERE id = $1"),
            ));
        }
        let mut events = Vec::new();
        if is_error {
            events.push(span::Event {
                time_unix_nano: start + duration / 2,
                name: "exception".to_string(),
                attributes: vec![
                    kv("exception.type", string("TimeoutError")),
                    kv("exception.message", string("upstream timed out after 2s")),
                ],
                ..Default::default()
            });
        } else if self.rng.chance(10) {
            events.push(span::Event {
                time_unix_nano: start + duration / 3,
                name: "cache miss".to_string(),
                attributes: vec![kv(
                    "cache.key",
                    string(format!("item:{}", self.rng.below(1000))),
                )],
                ..Default::default()
            });
        }
        by_service[service_index].push(Span {
            trace_id: trace_id.to_vec(),
            span_id: span_id.clone(),
            parent_span_id: parent.cloned().unwrap_or_default(),
            name: format!("{method} {route}"),
            kind: if parent.is_none() { 2 } else { 3 },
            start_time_unix_nano: start,
            end_time_unix_nano: start + duration,
            attributes,
            events,
            status: is_error.then(|| Status {
                message: "upstream timed out".to_string(),
                code: 2,
            }),
            flags: 0x100,
            ..Default::default()
        });
        span_id
    }
}

/// Generates log requests from a corpus of real lines.
pub(crate) struct LogWorkload {
    rng: Rng,
    client: String,
    lines: Vec<String>,
    next_seq: u64,
    /// Raw bytes of the bodies sent (the "raw log bytes" of size ratios).
    pub(crate) body_bytes: u64,
}

/// Lines used when no corpus directory is given: varied, with numbers and ids.
const BUILTIN_LINES: [&str; 8] = [
    "GET /api/v1/items/4821 200 12ms user=31 agent=Mozilla/5.0",
    "payment declined for order 99812: card expired (gateway=stripe attempt=2)",
    "connection pool exhausted: 64/64 in use, waited 250ms for a connection to db-primary:5432",
    "user 7731 logged in from 10.2.3.4 via sso provider=okta session=ab93f1",
    "cache miss key=item:1902 ttl=300 size=2048 region=eu-west-1",
    "slow query took 1834ms: SELECT * FROM orders WHERE customer_id = 4411 ORDER BY created_at",
    "retrying request to inventory (attempt 3 of 5) after 503 Service Unavailable",
    "{\"level\":\"info\",\"msg\":\"order shipped\",\"order_id\":77120,\"carrier\":\"dhl\"}",
];

impl LogWorkload {
    /// A generator over the `*.log` files of `corpus_dir`, or built-in lines.
    pub(crate) fn new(
        client: &str,
        seed: u64,
        corpus_dir: Option<&std::path::Path>,
    ) -> std::io::Result<LogWorkload> {
        let mut lines = Vec::new();
        if let Some(dir) = corpus_dir {
            let mut paths: Vec<_> = std::fs::read_dir(dir)?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|path| path.extension().is_some_and(|ext| ext == "log"))
                .collect();
            paths.sort();
            for path in paths {
                let bytes = std::fs::read(&path)?;
                lines.extend(
                    String::from_utf8_lossy(&bytes)
                        .lines()
                        .filter(|l| !l.is_empty())
                        .map(str::to_string),
                );
            }
        }
        if lines.is_empty() {
            lines = BUILTIN_LINES.iter().map(|line| line.to_string()).collect();
        }
        Ok(LogWorkload {
            rng: Rng::new(seed),
            client: client.to_string(),
            lines,
            next_seq: 0,
            body_bytes: 0,
        })
    }

    /// Replaces every digit run with random digits, so the index sees realistic variety
    /// instead of the same few thousand lines over and over.
    fn randomise(&mut self, line: &str) -> String {
        let mut out = String::with_capacity(line.len());
        for character in line.chars() {
            if character.is_ascii_digit() {
                out.push(char::from(b'0' + self.rng.below(10) as u8));
            } else {
                out.push(character);
            }
        }
        out
    }

    /// One request with `num_records` log records.
    pub(crate) fn next_request(&mut self, num_records: usize) -> ExportLogsServiceRequest {
        let now = now_nanos();
        let mut records = Vec::with_capacity(num_records);
        for index in 0..num_records {
            let template = self.lines[self.rng.below(self.lines.len() as u64) as usize].clone();
            let body = self.randomise(&template);
            self.body_bytes += body.len() as u64;
            let seq = self.next_seq;
            self.next_seq += 1;
            let severity = *self.rng.pick(&[
                (9, "INFO"),
                (9, "INFO"),
                (13, "WARN"),
                (17, "ERROR"),
                (5, "DEBUG"),
            ]);
            let correlated = self.rng.chance(30);
            records.push(LogRecord {
                time_unix_nano: now - (num_records - index) as u64 * 1000,
                observed_time_unix_nano: now,
                severity_number: severity.0,
                severity_text: severity.1.to_string(),
                body: string(body),
                attributes: vec![
                    kv("bench.client", string(self.client.as_str())),
                    kv("bench.seq", int(seq as i64)),
                    kv("log.file.name", string("app.log")),
                    kv(
                        "thread.name",
                        string(format!("worker-{}", self.rng.below(16))),
                    ),
                ],
                trace_id: if correlated {
                    self.rng.trace_id().to_vec()
                } else {
                    Vec::new()
                },
                span_id: if correlated {
                    self.rng.span_id().to_vec()
                } else {
                    Vec::new()
                },
                flags: u32::from(correlated),
                ..Default::default()
            });
        }
        let service = SERVICES[self.rng.below(4) as usize];
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(resource(service, 1)),
                scope_logs: vec![ScopeLogs {
                    log_records: records,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }
}
