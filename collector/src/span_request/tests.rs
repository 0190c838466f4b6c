use periscope_storage::AttrValue;
use periscope_storage::batch::spans_from_batch;
use prost::Message;

use super::*;
use crate::otlp::wire::collector::trace::v1::ExportTraceServiceRequest;
use crate::otlp::wire::common::v1::{AnyValue, KeyValue, any_value};
use crate::otlp::wire::resource::v1::Resource;
use crate::otlp::wire::trace::v1::{ResourceSpans, ScopeSpans, Span};

/// A clock reading long past: a span at this time is outside today's accepted window.
const THEN: i64 = 1_500_000_000_000_000_000;

fn limits_at(now: i64) -> Limits {
    Limits {
        max_attributes: 2,
        max_attribute_bytes: 5,
        max_nesting_depth: 3,
        min_time_unix_nano: now - 1_000_000_000,
        max_time_unix_nano: now + 1_000_000_000,
        now_unix_nano: now,
    }
}

fn span(id: u8, start: i64, attributes: usize) -> Span {
    Span {
        trace_id: vec![id; 16],
        span_id: vec![id; 8],
        name: b"GET /".to_vec(),
        start_time_unix_nano: start as u64,
        end_time_unix_nano: start as u64 + 5,
        attributes: (0..attributes)
            .map(|i| KeyValue {
                key: format!("k{i}").into_bytes(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(b"a long value".to_vec())),
                }),
                key_strindex: 0,
            })
            .collect(),
        ..Span::default()
    }
}

fn request(spans: Vec<Span>) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource::default()),
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
    .encode_to_vec()
}

#[test]
fn replay_converts_under_the_recorded_limits_and_clock() {
    let limits = limits_at(THEN);
    // Kept: in the window of THEN, with attributes over both limits. Rejected: too old.
    let body = request(vec![span(1, THEN, 4), span(2, THEN - 10_000_000_000, 0)]);
    let acknowledged = convert_traces(&body, &limits, 10).expect("converts");
    assert_eq!(acknowledged.rejected, 1);
    let acknowledged = acknowledged.rows.finish().expect("batch").into_inner();

    let decoder = span_request_decoder();
    let replayed = decoder(&header(&limits, 10), &body).expect("replays");
    assert_eq!(replayed, acknowledged);
    let rows = spans_from_batch(&replayed).expect("rows");
    assert_eq!(rows.len(), 1);
    // Two attributes of four, values cut to five bytes: the recorded limits, not defaults.
    assert_eq!(rows[0].attributes.len(), 2);
    assert_eq!(rows[0].dropped_attributes_count, 2);
    assert_eq!(rows[0].attributes[0].1, AttrValue::Str("a lon".to_string()));

    // Under today's clock the same request would be rejected whole: the header's clock won.
    let today = limits_at(Limits::now_unix_nano());
    let now = convert_traces(&body, &today, 10).expect("converts");
    assert_eq!(now.rows.len(), 0);
}

#[test]
fn the_record_cap_is_recorded_too() {
    let body = request(vec![span(1, THEN, 0), span(2, THEN, 0)]);
    let decoder = span_request_decoder();
    assert!(decoder(&header(&limits_at(THEN), 2), &body).is_ok());
    assert!(decoder(&header(&limits_at(THEN), 1), &body).is_err());
}

#[test]
fn unknown_headers_are_refused_with_a_reason() {
    let body = request(vec![span(1, THEN, 0)]);
    let decoder = span_request_decoder();
    let mut newer = header(&limits_at(THEN), 10);
    newer[0] = VERSION + 1;
    let err = decoder(&newer, &body).expect_err("unknown version");
    assert!(err.contains("unknown span request header"), "{err}");
    assert!(decoder(&[VERSION], &body).is_err());
    assert!(decoder(&header(&limits_at(THEN), 10), b"\xff\xff").is_err());
}
