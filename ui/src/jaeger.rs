//! Jaeger's trace JSON (what Grafana's Jaeger data source decodes), with the exact OTLP fields
//! of each span alongside, serialized straight from the stored rows.
//!
//! No `serde_json::Value` tree is built: for a 100 000-span trace (~120 MB of JSON) the tree
//! of maps cost seven seconds to build, serialize and drop, ten times the serialization alone.
//! Every type here borrows the rows and writes its part as the serializer asks for it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use periscope_query::{AttrValue, Attributes, SPAN_KIND_NAMES, SpanEvent, SpanRow, Trace};
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeStruct, Serializer};

/// Jaeger's response envelope: `{"data": …, "total": …, "limit": 0, "offset": 0, "errors": null}`.
#[derive(Serialize)]
pub(crate) struct Envelope<T: Serialize> {
    pub(crate) data: T,
    pub(crate) total: usize,
    pub(crate) limit: usize,
    pub(crate) offset: usize,
    pub(crate) errors: Option<()>,
}

impl<T: Serialize> Envelope<T> {
    pub(crate) fn new(data: T, total: usize) -> Envelope<T> {
        Envelope {
            data,
            total,
            limit: 0,
            offset: 0,
            errors: None,
        }
    }
}

/// Traces in Jaeger's shape: a JSON array of [`JaegerTrace`].
pub(crate) struct JaegerTraces<'a>(pub(crate) &'a [Trace]);

impl Serialize for JaegerTraces<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(JaegerTrace))
    }
}

/// One trace: its spans plus one process per distinct service and resource.
pub(crate) struct JaegerTrace<'a>(pub(crate) &'a Trace);

impl Serialize for JaegerTrace<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let trace = self.0;
        // Index into `processes` of each span's process (`p1` is index 0).
        let mut processes: Vec<&SpanRow> = Vec::new();
        let mut process_of_span = Vec::with_capacity(trace.spans.len());
        for span in &trace.spans {
            let same = |other: &&SpanRow| {
                std::sync::Arc::ptr_eq(&other.origin, &span.origin)
                    || (other.origin.service_name == span.origin.service_name
                        && other.origin.resource_attributes == span.origin.resource_attributes)
            };
            let index = match processes.iter().position(same) {
                Some(index) => index,
                None => {
                    processes.push(span);
                    processes.len() - 1
                }
            };
            process_of_span.push(index);
        }
        let mut out = serializer.serialize_struct("Trace", 4)?;
        out.serialize_field("traceID", &trace.trace_id.to_hex())?;
        out.serialize_field(
            "spans",
            &Spans {
                spans: &trace.spans,
                process_of_span: &process_of_span,
            },
        )?;
        out.serialize_field("processes", &Processes(&processes))?;
        out.serialize_field("warnings", &None::<()>)?;
        out.end()
    }
}

struct Spans<'a> {
    spans: &'a [SpanRow],
    process_of_span: &'a [usize],
}

impl Serialize for Spans<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.spans.iter().zip(self.process_of_span).map(
            |(span, process)| JaegerSpan {
                span,
                process_id: ProcessId(*process),
            },
        ))
    }
}

/// `p1`, `p2`, … from a 0-based index.
#[derive(Clone, Copy)]
struct ProcessId(usize);

impl Serialize for ProcessId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("p{}", self.0 + 1))
    }
}

/// `{"p1": {"serviceName": …, "tags": [resource attributes but service.name]}, …}`.
struct Processes<'a>(&'a [&'a SpanRow]);

impl Serialize for Processes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_map(Some(self.0.len()))?;
        for (index, span) in self.0.iter().enumerate() {
            out.serialize_entry(&ProcessId(index), &Process(span))?;
        }
        out.end()
    }
}

struct Process<'a>(&'a SpanRow);

impl Serialize for Process<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let origin = &self.0.origin;
        let tags = || {
            origin
                .resource_attributes
                .iter()
                .filter(|(key, _)| key != "service.name")
                .map(|(key, value)| Tag::attribute(key, value))
        };
        let mut out = serializer.serialize_struct("Process", 2)?;
        out.serialize_field("serviceName", &origin.service_name)?;
        out.serialize_field("tags", &Lazy(tags))?;
        out.end()
    }
}

/// A JSON array of what the closure's iterator yields, produced while serializing.
struct Lazy<F>(F);

impl<F, I> Serialize for Lazy<F>
where
    F: Fn() -> I,
    I: Iterator,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq((self.0)())
    }
}

/// A Jaeger tag: `{"key": …, "type": "string"|"bool"|"int64"|"float64"|"binary", "value": …}`.
#[derive(Serialize)]
struct Tag<'a> {
    key: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    value: TagValue<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum TagValue<'a> {
    Text(&'a str),
    Owned(String),
    Bool(bool),
    Int(i64),
    Float(f64),
}

impl<'a> Tag<'a> {
    fn text(key: &'a str, value: &'a str) -> Tag<'a> {
        Tag {
            key,
            kind: "string",
            value: TagValue::Text(value),
        }
    }

    fn attribute(key: &'a str, value: &'a AttrValue) -> Tag<'a> {
        let (kind, value) = match value {
            AttrValue::Str(text) => ("string", TagValue::Text(text)),
            AttrValue::Bool(flag) => ("bool", TagValue::Bool(*flag)),
            AttrValue::Int(number) => ("int64", TagValue::Int(*number)),
            AttrValue::Double(number) => ("float64", TagValue::Float(*number)),
            AttrValue::Bytes(bytes) => ("binary", TagValue::Owned(BASE64.encode(bytes))),
            AttrValue::Array(_) | AttrValue::Map(_) | AttrValue::Empty => {
                ("string", TagValue::Owned(value.to_display_string()))
            }
        };
        Tag { key, kind, value }
    }
}

fn micros(nanos: i64) -> i64 {
    nanos / 1000
}

struct JaegerSpan<'a> {
    span: &'a SpanRow,
    process_id: ProcessId,
}

impl Serialize for JaegerSpan<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let span = self.span;
        let trace_id = span.trace_id.to_hex();
        let mut out = serializer.serialize_struct("Span", 12)?;
        out.serialize_field("traceID", &trace_id)?;
        out.serialize_field("spanID", &span.span_id.to_hex())?;
        out.serialize_field("processID", &self.process_id)?;
        out.serialize_field("operationName", &span.name)?;
        out.serialize_field("startTime", &micros(span.start_time_unix_nano))?;
        out.serialize_field("duration", &micros(span.duration_ns()))?;
        out.serialize_field("flags", &(span.flags & 0xff))?;
        out.serialize_field("references", &Lazy(|| references(span, &trace_id)))?;
        out.serialize_field("tags", &Lazy(|| span_tags(span)))?;
        out.serialize_field("logs", &Lazy(|| span.events.iter().map(EventLog)))?;
        out.serialize_field("warnings", &None::<()>)?;
        // Exact OTLP fields, beyond what Jaeger can express (ns times, typed attributes).
        out.serialize_field("otlp", &OtlpSpan(span))?;
        out.end()
    }
}

#[derive(Serialize)]
struct Reference<'a> {
    #[serde(rename = "refType")]
    ref_type: &'static str,
    #[serde(rename = "traceID")]
    trace_id: std::borrow::Cow<'a, str>,
    #[serde(rename = "spanID")]
    span_id: String,
}

/// The parent as `CHILD_OF`, then each link as `FOLLOWS_FROM`.
fn references<'a>(span: &'a SpanRow, trace_id: &'a str) -> impl Iterator<Item = Reference<'a>> {
    let parent = span.parent_span_id.map(|parent| Reference {
        ref_type: "CHILD_OF",
        trace_id: trace_id.into(),
        span_id: parent.to_hex(),
    });
    let links = span.links.iter().map(|link| Reference {
        ref_type: "FOLLOWS_FROM",
        trace_id: link.trace_id.to_hex().into(),
        span_id: link.span_id.to_hex(),
    });
    parent.into_iter().chain(links)
}

/// The span's attributes, then what Jaeger keeps as tags: kind, status, scope.
fn span_tags(span: &SpanRow) -> impl Iterator<Item = Tag<'_>> {
    let attributes = span
        .attributes
        .iter()
        .map(|(key, value)| Tag::attribute(key, value));
    let kind = SPAN_KIND_NAMES
        .get(span.kind as usize)
        .filter(|_| span.kind > 0)
        .map(|kind| Tag::text("span.kind", kind));
    let error = span.status_code == 2;
    let status = [
        match span.status_code {
            1 => Some(Tag::text("otel.status_code", "OK")),
            2 => Some(Tag::text("otel.status_code", "ERROR")),
            _ => None,
        },
        error.then_some(Tag {
            key: "error",
            kind: "bool",
            value: TagValue::Bool(true),
        }),
        (error && !span.status_message.is_empty())
            .then(|| Tag::text("otel.status_description", &span.status_message)),
    ];
    let origin = &span.origin;
    let scope = [
        (!origin.scope_name.is_empty()).then(|| Tag::text("otel.scope.name", &origin.scope_name)),
        (!origin.scope_version.is_empty())
            .then(|| Tag::text("otel.scope.version", &origin.scope_version)),
    ];
    attributes
        .chain(kind)
        .chain(status.into_iter().flatten())
        .chain(scope.into_iter().flatten())
}

/// A span event as a Jaeger log: `{"timestamp": µs, "fields": [event name, attributes…]}`.
struct EventLog<'a>(&'a SpanEvent);

impl Serialize for EventLog<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let event = self.0;
        let fields = || {
            std::iter::once(Tag::text("event", &event.name)).chain(
                event
                    .attributes
                    .iter()
                    .map(|(key, value)| Tag::attribute(key, value)),
            )
        };
        let mut out = serializer.serialize_struct("Log", 2)?;
        out.serialize_field("timestamp", &micros(event.time_unix_nano))?;
        out.serialize_field("fields", &Lazy(fields))?;
        out.end()
    }
}

/// An attribute value in OTLP-JSON form: exact type, 64-bit ints as strings.
pub(crate) struct OtlpValue<'a>(pub(crate) &'a AttrValue);

impl Serialize for OtlpValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_map(None)?;
        match self.0 {
            AttrValue::Str(text) => out.serialize_entry("stringValue", text)?,
            AttrValue::Bool(flag) => out.serialize_entry("boolValue", flag)?,
            AttrValue::Int(number) => out.serialize_entry("intValue", &number.to_string())?,
            AttrValue::Double(number) => out.serialize_entry("doubleValue", number)?,
            AttrValue::Bytes(bytes) => out.serialize_entry("bytesValue", &BASE64.encode(bytes))?,
            AttrValue::Array(items) => out.serialize_entry(
                "arrayValue",
                &Values {
                    values: Lazy(|| items.iter().map(OtlpValue)),
                },
            )?,
            AttrValue::Map(entries) => out.serialize_entry(
                "kvlistValue",
                &Values {
                    values: OtlpAttributes(entries),
                },
            )?,
            AttrValue::Empty => {}
        }
        out.end()
    }
}

/// `{"values": …}`, OTLP's wrapper of arrays and key-value lists.
#[derive(Serialize)]
struct Values<T: Serialize> {
    values: T,
}

/// Attributes in OTLP-JSON form: `[{"key": …, "value": {…}}]`.
pub(crate) struct OtlpAttributes<'a>(pub(crate) &'a Attributes);

impl Serialize for OtlpAttributes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct KeyValue<'a> {
            key: &'a str,
            value: OtlpValue<'a>,
        }
        serializer.collect_seq(self.0.iter().map(|(key, value)| KeyValue {
            key,
            value: OtlpValue(value),
        }))
    }
}

/// The span in OTLP-JSON form.
struct OtlpSpan<'a>(&'a SpanRow);

impl Serialize for OtlpSpan<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Event<'a> {
            time_unix_nano: String,
            name: &'a str,
            attributes: OtlpAttributes<'a>,
            dropped_attributes_count: u32,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Link<'a> {
            trace_id: String,
            span_id: String,
            trace_state: &'a str,
            flags: u32,
            attributes: OtlpAttributes<'a>,
            dropped_attributes_count: u32,
        }
        #[derive(Serialize)]
        struct Status<'a> {
            code: i32,
            message: &'a str,
        }
        #[derive(Serialize)]
        struct Resource<'a> {
            attributes: OtlpAttributes<'a>,
        }
        #[derive(Serialize)]
        struct Scope<'a> {
            name: &'a str,
            version: &'a str,
            attributes: OtlpAttributes<'a>,
        }
        let span = self.0;
        let origin = &span.origin;
        let events = || {
            span.events.iter().map(|event| Event {
                time_unix_nano: event.time_unix_nano.to_string(),
                name: &event.name,
                attributes: OtlpAttributes(&event.attributes),
                dropped_attributes_count: event.dropped_attributes_count,
            })
        };
        let links = || {
            span.links.iter().map(|link| Link {
                trace_id: link.trace_id.to_hex(),
                span_id: link.span_id.to_hex(),
                trace_state: &link.trace_state,
                flags: link.flags,
                attributes: OtlpAttributes(&link.attributes),
                dropped_attributes_count: link.dropped_attributes_count,
            })
        };
        let mut out = serializer.serialize_struct("OtlpSpan", 18)?;
        out.serialize_field("traceId", &span.trace_id.to_hex())?;
        out.serialize_field("spanId", &span.span_id.to_hex())?;
        out.serialize_field(
            "parentSpanId",
            &span
                .parent_span_id
                .map(|id| id.to_hex())
                .unwrap_or_default(),
        )?;
        out.serialize_field("traceState", &span.trace_state)?;
        out.serialize_field("flags", &span.flags)?;
        out.serialize_field("name", &span.name)?;
        out.serialize_field("kind", &span.kind)?;
        out.serialize_field("startTimeUnixNano", &span.start_time_unix_nano.to_string())?;
        out.serialize_field("endTimeUnixNano", &span.end_time_unix_nano.to_string())?;
        out.serialize_field("attributes", &OtlpAttributes(&span.attributes))?;
        out.serialize_field("droppedAttributesCount", &span.dropped_attributes_count)?;
        out.serialize_field("events", &Lazy(events))?;
        out.serialize_field("droppedEventsCount", &span.dropped_events_count)?;
        out.serialize_field("links", &Lazy(links))?;
        out.serialize_field("droppedLinksCount", &span.dropped_links_count)?;
        out.serialize_field(
            "status",
            &Status {
                code: span.status_code,
                message: &span.status_message,
            },
        )?;
        out.serialize_field(
            "resource",
            &Resource {
                attributes: OtlpAttributes(&origin.resource_attributes),
            },
        )?;
        out.serialize_field(
            "scope",
            &Scope {
                name: &origin.scope_name,
                version: &origin.scope_version,
                attributes: OtlpAttributes(&origin.scope_attributes),
            },
        )?;
        out.end()
    }
}

#[cfg(test)]
mod tests;
