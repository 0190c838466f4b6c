//! Lifting the well-known fields out of parsed fields; the rest become attributes.

use opentelemetry_proto::tonic::common::v1::any_value::Value as OtlpValue;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList};
use serde_json::{Map, Value};

use super::time;
use crate::config::TimestampFormat;

/// Attribute nesting kept as structure; deeper values are stored as JSON text
/// (shared/RELIABILITY.md §2.2 caps nesting at 16).
const MAX_DEPTH: usize = 16;
/// Attributes per record (shared/RELIABILITY.md §2.2); the rest are counted as dropped.
const MAX_ATTRIBUTES: usize = 128;

/// A parsed record, in OTLP terms.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parsed {
    /// The body: the message field, or the whole text.
    pub body: AnyValue,
    /// Fields that are not body, time, severity or trace context.
    pub attributes: Vec<KeyValue>,
    /// Attributes over the cap.
    pub dropped_attributes: u32,
    /// Event time; 0 when absent (the collector uses the observed time).
    pub time_unix_nano: u64,
    /// OTel severity number, 0 when unknown.
    pub severity_number: i32,
    /// The severity as written.
    pub severity_text: String,
    /// 16 bytes or empty.
    pub trace_id: Vec<u8>,
    /// 8 bytes or empty.
    pub span_id: Vec<u8>,
    /// W3C trace flags.
    pub flags: u32,
}

impl Parsed {
    /// The text as body and nothing else.
    pub fn plain(text: &str) -> Self {
        Self {
            body: string_value(text.to_string()),
            ..Self::default()
        }
    }
}

pub(crate) fn string_value(text: String) -> AnyValue {
    AnyValue {
        value: Some(OtlpValue::StringValue(text)),
    }
}

/// An attribute.
pub fn key_value(key: String, value: AnyValue) -> KeyValue {
    KeyValue {
        key,
        value: Some(value),
        ..KeyValue::default()
    }
}

pub(super) fn extract(
    mut map: Map<String, Value>,
    text: &str,
    message_fields: &[String],
    timestamp_fields: &[String],
    timestamp_format: TimestampFormat,
    severity_fields: &[String],
) -> Parsed {
    let mut parsed = Parsed::plain(text);
    if let Some(message) = take_first(&mut map, message_fields) {
        parsed.body = match message {
            Value::String(text) => string_value(text),
            other => to_any(other, 0),
        };
    }
    for name in timestamp_fields {
        if let Some(nanos) = map.get(name).and_then(|v| time::parse(v, timestamp_format)) {
            parsed.time_unix_nano = nanos;
            map.remove(name);
            break;
        }
    }
    if let Some(severity) = take_first(&mut map, severity_fields) {
        let (number, text) = severity_of(&severity);
        parsed.severity_number = number;
        parsed.severity_text = text;
    }
    lift_trace_context(&mut map, &mut parsed);
    for (key, value) in map {
        if value.is_null() {
            continue;
        }
        if parsed.attributes.len() >= MAX_ATTRIBUTES {
            parsed.dropped_attributes += 1;
            continue;
        }
        parsed.attributes.push(key_value(key, to_any(value, 0)));
    }
    parsed
}

fn take_first(map: &mut Map<String, Value>, names: &[String]) -> Option<Value> {
    names
        .iter()
        .find_map(|name| map.remove(name).filter(|v| !v.is_null()))
}

/// Text → OTel severity number (shared/COMPAT.md §11), plus pino/bunyan's numeric levels.
fn severity_of(value: &Value) -> (i32, String) {
    match value {
        Value::String(text) => (severity_number(text), text.clone()),
        Value::Number(number) => {
            let level = number.as_i64().unwrap_or(0);
            let mapped = match level {
                10 => 1,
                20 => 5,
                30 => 9,
                40 => 13,
                50 => 17,
                60 => 21,
                1..=24 => level as i32,
                _ => 0,
            };
            (mapped, number.to_string())
        }
        other => (0, other.to_string()),
    }
}

/// Case-insensitive severity text → number; 0 when unknown.
pub(crate) fn severity_number(text: &str) -> i32 {
    match text.trim().to_ascii_lowercase().as_str() {
        "trace" => 1,
        "debug" => 5,
        "info" | "notice" | "information" => 9,
        "warn" | "warning" => 13,
        "error" | "err" => 17,
        "fatal" | "critical" | "crit" | "alert" | "emerg" | "panic" => 21,
        _ => 0,
    }
}

/// `trace_id`/`span_id`/`trace_flags`, `traceId`/`spanId`, ECS `trace.id`/`span.id` (dotted
/// keys or nested objects). Invalid or all-zero ids are left where they were, as attributes.
fn lift_trace_context(map: &mut Map<String, Value>, parsed: &mut Parsed) {
    if let Some(id) = take_id(map, &["trace_id", "traceId", "trace.id"], "trace", 16) {
        parsed.trace_id = id;
    }
    if let Some(id) = take_id(map, &["span_id", "spanId", "span.id"], "span", 8) {
        parsed.span_id = id;
    }
    let flags = ["trace_flags", "traceFlags"].iter().find_map(|name| {
        let value = map.get(*name)?;
        let flags = match value {
            Value::String(text) => u8::from_str_radix(text, 16).ok()?,
            _ => u8::try_from(value.as_u64()?).ok()?,
        };
        Some((*name, flags))
    });
    if let Some((name, flags)) = flags {
        map.remove(name);
        parsed.flags = u32::from(flags);
    }
}

fn take_id(
    map: &mut Map<String, Value>,
    names: &[&str],
    nested: &str,
    len: usize,
) -> Option<Vec<u8>> {
    for name in names {
        if let Some(id) = map.get(*name).and_then(|v| decode_id(v, len)) {
            map.remove(*name);
            return Some(id);
        }
    }
    let object = map.get_mut(nested)?.as_object_mut()?;
    let id = object.get("id").and_then(|v| decode_id(v, len))?;
    object.remove("id");
    if object.is_empty() {
        map.remove(nested);
    }
    Some(id)
}

fn decode_id(value: &Value, len: usize) -> Option<Vec<u8>> {
    let text = value.as_str()?.trim();
    if text.len() != len * 2 {
        return None;
    }
    let bytes = hex::decode(text).ok()?;
    bytes.iter().any(|b| *b != 0).then_some(bytes)
}

fn to_any(value: Value, depth: usize) -> AnyValue {
    let inner = match value {
        Value::Null => return AnyValue { value: None },
        Value::Bool(b) => OtlpValue::BoolValue(b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => OtlpValue::IntValue(i),
            None => OtlpValue::DoubleValue(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => OtlpValue::StringValue(s),
        nested if depth >= MAX_DEPTH => OtlpValue::StringValue(nested.to_string()),
        Value::Array(items) => OtlpValue::ArrayValue(ArrayValue {
            values: items.into_iter().map(|v| to_any(v, depth + 1)).collect(),
        }),
        Value::Object(fields) => OtlpValue::KvlistValue(KeyValueList {
            values: fields
                .into_iter()
                .map(|(key, v)| key_value(key, to_any(v, depth + 1)))
                .collect(),
        }),
    };
    AnyValue { value: Some(inner) }
}
