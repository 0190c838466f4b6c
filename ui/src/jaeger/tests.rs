use std::sync::Arc;

use periscope_query::{Origin, SpanId, SpanLink, TraceId};
use periscope_storage::test_support::span_row;
use serde_json::{Value, json};

use super::*;

fn origin(service: &str, host: &str) -> Arc<Origin> {
    Arc::new(Origin {
        service_name: service.to_string(),
        resource_attributes: vec![
            (
                "service.name".to_string(),
                AttrValue::Str(service.to_string()),
            ),
            ("host.name".to_string(), AttrValue::Str(host.to_string())),
        ],
        scope_name: "shop".to_string(),
        scope_version: "1.2".to_string(),
        scope_attributes: Vec::new(),
    })
}

fn span(id: u8, parent: Option<u8>, origin: Arc<Origin>) -> SpanRow {
    SpanRow {
        parent_span_id: parent.map(|parent| SpanId([parent; 8])),
        flags: 0x101,
        name: format!("op {id}"),
        end_time_unix_nano: 5_002_123_456,
        origin,
        ..span_row([0xab; 16], [id; 8], 5_000_123_456, "")
    }
}

fn to_value(traces: &[Trace]) -> Value {
    serde_json::from_slice(&serde_json::to_vec(&Envelope::new(JaegerTraces(traces), 1)).unwrap())
        .unwrap()
}

#[test]
fn spans_tags_logs_and_processes_in_jaeger_shape() {
    let frontend = origin("frontend", "web-1");
    let mut root = span(1, None, frontend.clone());
    root.attributes = vec![
        (
            "http.route".to_string(),
            AttrValue::Str("/checkout".to_string()),
        ),
        ("retries".to_string(), AttrValue::Int(i64::MAX)),
        ("ratio".to_string(), AttrValue::Double(0.5)),
        ("cached".to_string(), AttrValue::Bool(false)),
        ("blob".to_string(), AttrValue::Bytes(vec![1, 2, 3])),
        (
            "items".to_string(),
            AttrValue::Array(vec![AttrValue::Int(1), AttrValue::Str("two".to_string())]),
        ),
    ];
    root.status_code = 2;
    root.status_message = "card declined".to_string();
    root.events = vec![SpanEvent {
        time_unix_nano: 5_001_000_000,
        name: "exception".to_string(),
        attributes: vec![(
            "exception.type".to_string(),
            AttrValue::Str("PaymentError".to_string()),
        )],
        dropped_attributes_count: 0,
    }];
    root.links = vec![SpanLink {
        trace_id: TraceId([0xcd; 16]),
        span_id: SpanId([9; 8]),
        trace_state: String::new(),
        flags: 0,
        attributes: Vec::new(),
        dropped_attributes_count: 0,
    }];
    let child = span(2, Some(1), frontend);
    let other_host = span(3, Some(1), origin("frontend", "web-2"));
    // Same service and resource in another Arc (another request): the same process.
    let same_resource = span(4, Some(1), origin("frontend", "web-1"));
    let trace = Trace {
        trace_id: TraceId([0xab; 16]),
        spans: vec![root, child, other_host, same_resource],
    };
    let json = to_value(&[trace]);

    assert_eq!(json["total"], 1);
    assert_eq!(json["errors"], Value::Null);
    let trace = &json["data"][0];
    assert_eq!(trace["traceID"], "ab".repeat(16));
    assert_eq!(
        trace["processes"],
        json!({
            "p1": {"serviceName": "frontend", "tags": [{"key": "host.name", "type": "string", "value": "web-1"}]},
            "p2": {"serviceName": "frontend", "tags": [{"key": "host.name", "type": "string", "value": "web-2"}]},
        })
    );
    let spans = trace["spans"].as_array().unwrap();
    let processes: Vec<&Value> = spans.iter().map(|span| &span["processID"]).collect();
    assert_eq!(
        processes,
        [&json!("p1"), &json!("p1"), &json!("p2"), &json!("p1")]
    );

    let root = &spans[0];
    assert_eq!(root["spanID"], "01".repeat(8));
    assert_eq!(root["operationName"], "op 1");
    assert_eq!(root["startTime"], 5_000_123);
    assert_eq!(root["duration"], 2_000);
    assert_eq!(root["flags"], 1, "only the W3C trace flags byte");
    assert_eq!(
        root["references"],
        json!([{"refType": "FOLLOWS_FROM", "traceID": "cd".repeat(16), "spanID": "09".repeat(8)}])
    );
    assert_eq!(
        root["tags"],
        json!([
            {"key": "http.route", "type": "string", "value": "/checkout"},
            {"key": "retries", "type": "int64", "value": i64::MAX},
            {"key": "ratio", "type": "float64", "value": 0.5},
            {"key": "cached", "type": "bool", "value": false},
            {"key": "blob", "type": "binary", "value": "AQID"},
            {"key": "items", "type": "string", "value": "[1,\"two\"]"},
            {"key": "span.kind", "type": "string", "value": "server"},
            {"key": "otel.status_code", "type": "string", "value": "ERROR"},
            {"key": "error", "type": "bool", "value": true},
            {"key": "otel.status_description", "type": "string", "value": "card declined"},
            {"key": "otel.scope.name", "type": "string", "value": "shop"},
            {"key": "otel.scope.version", "type": "string", "value": "1.2"},
        ])
    );
    assert_eq!(
        root["logs"],
        json!([{"timestamp": 5_001_000, "fields": [
            {"key": "event", "type": "string", "value": "exception"},
            {"key": "exception.type", "type": "string", "value": "PaymentError"},
        ]}])
    );
    assert_eq!(
        spans[1]["references"],
        json!([{"refType": "CHILD_OF", "traceID": "ab".repeat(16), "spanID": "01".repeat(8)}])
    );

    let otlp = &root["otlp"];
    assert_eq!(otlp["parentSpanId"], "");
    assert_eq!(otlp["startTimeUnixNano"], "5000123456");
    assert_eq!(otlp["flags"], 0x101);
    assert_eq!(
        otlp["attributes"][1],
        json!({"key": "retries", "value": {"intValue": i64::MAX.to_string()}})
    );
    assert_eq!(
        otlp["attributes"][5]["value"],
        json!({"arrayValue": {"values": [{"intValue": "1"}, {"stringValue": "two"}]}})
    );
    assert_eq!(
        otlp["status"],
        json!({"code": 2, "message": "card declined"})
    );
    assert_eq!(otlp["events"][0]["timeUnixNano"], "5001000000");
    assert_eq!(otlp["links"][0]["spanId"], "09".repeat(8));
    assert_eq!(
        otlp["resource"]["attributes"][0]["value"],
        json!({"stringValue": "frontend"})
    );
    assert_eq!(
        otlp["scope"],
        json!({"name": "shop", "version": "1.2", "attributes": []})
    );
}
