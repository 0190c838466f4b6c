//! Realistic OTLP requests for benchmarks: traces of a small shop (services calling each
//! other, ~15 attributes per span, events, errors), log records replayed from real log
//! corpora with numbers randomised (`logs`), and metric series (`metrics`). Every span and log
//! record carries `bench.client` and a unique `bench.seq`, so what was sent can be checked
//! against what is stored exactly.

mod logs;
mod metrics;

pub(crate) use logs::{LogWorkload, NEEDLE};
pub(crate) use metrics::{METRIC_NAMES, MetricWorkload};

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};

use super::rng::Rng;

pub(crate) const SERVICES: [&str; 5] =
    ["frontend", "checkout", "payments", "inventory", "postgres"];
pub(crate) const ROUTES: [&str; 6] = ["/", "/cart", "/checkout", "/pay", "/items/{id}", "/search"];
pub(crate) const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];

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

pub(crate) fn resource(service: &str, host: u64) -> Resource {
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
