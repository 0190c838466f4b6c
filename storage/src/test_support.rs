//! A span fixture for tests, of this crate and of the crates above it (through the
//! `test-support` feature, enabled only in their dev-dependencies).

use std::sync::Arc;

use crate::model::{Origin, SpanId, SpanRow, TraceId};

/// A server span of `service`, 1 µs long, named "op", without attributes, events or links;
/// tests change what they need with struct update syntax.
pub fn span_row(trace_id: [u8; 16], span_id: [u8; 8], start: i64, service: &str) -> SpanRow {
    SpanRow {
        trace_id: TraceId(trace_id),
        span_id: SpanId(span_id),
        parent_span_id: None,
        trace_state: String::new(),
        flags: 0,
        name: "op".to_string(),
        kind: 2,
        start_time_unix_nano: start,
        end_time_unix_nano: start + 1_000,
        status_code: 0,
        status_message: String::new(),
        attributes: Vec::new(),
        dropped_attributes_count: 0,
        events: Vec::new(),
        dropped_events_count: 0,
        links: Vec::new(),
        dropped_links_count: 0,
        origin: Arc::new(Origin {
            service_name: service.to_string(),
            ..Origin::default()
        }),
    }
}
