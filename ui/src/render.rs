//! Our stored rows as JSON: Jaeger's trace shape (what Grafana decodes) with the exact OTLP
//! fields alongside, and log hits.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use periscope_query::{AttrValue, Attributes, LogRow, SPAN_KIND_NAMES, SpanRow, Trace};
use serde_json::{Value, json};

/// An attribute value in OTLP-JSON form: exact type, 64-bit ints as strings.
pub(crate) fn otlp_value(value: &AttrValue) -> Value {
    match value {
        AttrValue::Str(text) => json!({"stringValue": text}),
        AttrValue::Bool(flag) => json!({"boolValue": flag}),
        AttrValue::Int(number) => json!({"intValue": number.to_string()}),
        AttrValue::Double(number) => json!({"doubleValue": number}),
        AttrValue::Bytes(bytes) => json!({"bytesValue": BASE64.encode(bytes)}),
        AttrValue::Array(items) => {
            json!({"arrayValue": {"values": items.iter().map(otlp_value).collect::<Vec<_>>()}})
        }
        AttrValue::Map(entries) => json!({"kvlistValue": {"values": otlp_attributes(entries)}}),
        AttrValue::Empty => json!({}),
    }
}

/// Attributes in OTLP-JSON form: `[{"key": …, "value": {…}}]`.
pub(crate) fn otlp_attributes(attributes: &Attributes) -> Vec<Value> {
    attributes
        .iter()
        .map(|(key, value)| json!({"key": key, "value": otlp_value(value)}))
        .collect()
}

/// Attributes as one plain JSON object.
pub(crate) fn plain_attributes(attributes: &Attributes) -> Value {
    Value::Object(
        attributes
            .iter()
            .map(|(key, value)| (key.clone(), value.to_plain_json()))
            .collect(),
    )
}

fn jaeger_tag(key: &str, value: &AttrValue) -> Value {
    let (kind, rendered) = match value {
        AttrValue::Str(text) => ("string", json!(text)),
        AttrValue::Bool(flag) => ("bool", json!(flag)),
        AttrValue::Int(number) => ("int64", json!(number)),
        AttrValue::Double(number) => ("float64", json!(number)),
        AttrValue::Bytes(bytes) => ("binary", json!(BASE64.encode(bytes))),
        AttrValue::Array(_) | AttrValue::Map(_) | AttrValue::Empty => {
            ("string", json!(value.to_display_string()))
        }
    };
    json!({"key": key, "type": kind, "value": rendered})
}

fn string_tag(key: &str, value: &str) -> Value {
    json!({"key": key, "type": "string", "value": value})
}

fn micros(nanos: i64) -> i64 {
    nanos / 1000
}

fn jaeger_span(span: &SpanRow, process_id: &str) -> Value {
    let trace_id = span.trace_id.to_hex();
    let mut references = Vec::new();
    if let Some(parent) = span.parent_span_id {
        references
            .push(json!({"refType": "CHILD_OF", "traceID": trace_id, "spanID": parent.to_hex()}));
    }
    for link in &span.links {
        references.push(json!({"refType": "FOLLOWS_FROM", "traceID": link.trace_id.to_hex(), "spanID": link.span_id.to_hex()}));
    }
    let mut tags: Vec<Value> = span
        .attributes
        .iter()
        .map(|(key, value)| jaeger_tag(key, value))
        .collect();
    if let Some(kind) = SPAN_KIND_NAMES
        .get(span.kind as usize)
        .filter(|_| span.kind > 0)
    {
        tags.push(string_tag("span.kind", kind));
    }
    match span.status_code {
        1 => tags.push(string_tag("otel.status_code", "OK")),
        2 => {
            tags.push(string_tag("otel.status_code", "ERROR"));
            tags.push(json!({"key": "error", "type": "bool", "value": true}));
            if !span.status_message.is_empty() {
                tags.push(string_tag("otel.status_description", &span.status_message));
            }
        }
        _ => {}
    }
    if !span.origin.scope_name.is_empty() {
        tags.push(string_tag("otel.scope.name", &span.origin.scope_name));
    }
    if !span.origin.scope_version.is_empty() {
        tags.push(string_tag("otel.scope.version", &span.origin.scope_version));
    }
    let logs: Vec<Value> = span
        .events
        .iter()
        .map(|event| {
            let mut fields = vec![string_tag("event", &event.name)];
            fields.extend(
                event
                    .attributes
                    .iter()
                    .map(|(key, value)| jaeger_tag(key, value)),
            );
            json!({"timestamp": micros(event.time_unix_nano), "fields": fields})
        })
        .collect();
    json!({
        "traceID": trace_id,
        "spanID": span.span_id.to_hex(),
        "processID": process_id,
        "operationName": span.name,
        "startTime": micros(span.start_time_unix_nano),
        "duration": micros(span.duration_ns()),
        "flags": span.flags & 0xff,
        "references": references,
        "tags": tags,
        "logs": logs,
        "warnings": null,
        // Exact OTLP fields, beyond what Jaeger can express (ns times, typed attributes).
        "otlp": otlp_span(span),
    })
}

fn otlp_span(span: &SpanRow) -> Value {
    json!({
        "traceId": span.trace_id.to_hex(),
        "spanId": span.span_id.to_hex(),
        "parentSpanId": span.parent_span_id.map(|id| id.to_hex()).unwrap_or_default(),
        "traceState": span.trace_state,
        "flags": span.flags,
        "name": span.name,
        "kind": span.kind,
        "startTimeUnixNano": span.start_time_unix_nano.to_string(),
        "endTimeUnixNano": span.end_time_unix_nano.to_string(),
        "attributes": otlp_attributes(&span.attributes),
        "droppedAttributesCount": span.dropped_attributes_count,
        "events": span.events.iter().map(|event| json!({
            "timeUnixNano": event.time_unix_nano.to_string(),
            "name": event.name,
            "attributes": otlp_attributes(&event.attributes),
            "droppedAttributesCount": event.dropped_attributes_count,
        })).collect::<Vec<_>>(),
        "droppedEventsCount": span.dropped_events_count,
        "links": span.links.iter().map(|link| json!({
            "traceId": link.trace_id.to_hex(),
            "spanId": link.span_id.to_hex(),
            "traceState": link.trace_state,
            "flags": link.flags,
            "attributes": otlp_attributes(&link.attributes),
            "droppedAttributesCount": link.dropped_attributes_count,
        })).collect::<Vec<_>>(),
        "droppedLinksCount": span.dropped_links_count,
        "status": {"code": span.status_code, "message": span.status_message},
        "resource": {"attributes": otlp_attributes(&span.origin.resource_attributes)},
        "scope": {
            "name": span.origin.scope_name,
            "version": span.origin.scope_version,
            "attributes": otlp_attributes(&span.origin.scope_attributes),
        },
    })
}

/// One trace in Jaeger's shape: spans plus one process per distinct resource.
pub(crate) fn jaeger_trace(trace: &Trace) -> Value {
    let mut processes: Vec<(&SpanRow, String)> = Vec::new();
    let mut spans = Vec::with_capacity(trace.spans.len());
    for span in &trace.spans {
        let existing = processes.iter().find(|(other, _)| {
            other.origin.service_name == span.origin.service_name
                && other.origin.resource_attributes == span.origin.resource_attributes
        });
        let process_id = match existing {
            Some((_, id)) => id.clone(),
            None => {
                let id = format!("p{}", processes.len() + 1);
                processes.push((span, id.clone()));
                id
            }
        };
        spans.push(jaeger_span(span, &process_id));
    }
    let processes: serde_json::Map<String, Value> = processes
        .into_iter()
        .map(|(span, id)| {
            let tags: Vec<Value> = span
                .origin
                .resource_attributes
                .iter()
                .filter(|(key, _)| key != "service.name")
                .map(|(key, value)| jaeger_tag(key, value))
                .collect();
            (
                id,
                json!({"serviceName": span.origin.service_name, "tags": tags}),
            )
        })
        .collect();
    json!({
        "traceID": trace.trace_id.to_hex(),
        "spans": spans,
        "processes": processes,
        "warnings": null,
    })
}

/// One log search hit.
pub(crate) fn log_hit(row: &LogRow) -> Value {
    json!({
        "timestamp": row.time_unix_nano,
        "observed_timestamp": row.observed_time_unix_nano,
        "severity_text": row.severity_text,
        "severity_number": row.severity_number,
        "service": row.origin.service_name,
        "body": row.body.to_plain_json(),
        "attributes": plain_attributes(&row.attributes),
        "resource": plain_attributes(&row.origin.resource_attributes),
        "scope": {"name": row.origin.scope_name, "version": row.origin.scope_version},
        "trace_id": row.trace_id.map(|id| id.to_hex()),
        "span_id": row.span_id.map(|id| id.to_hex()),
        "flags": row.flags,
        "event_name": row.event_name,
    })
}
