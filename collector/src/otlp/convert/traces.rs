//! `ExportTraceServiceRequest` bytes → span columns, read in place.
//!
//! Spans are the bulk of ingest, so their request is walked with [`Fields`] and each span
//! goes straight into the storage column builders: no message struct per span, no buffer
//! per string, no owned row. The rare parts (resource, scope, events, links, array and map
//! attribute values) are decoded with prost and converted by the shared helpers, so every
//! rule has one implementation.

use std::borrow::Cow;
use std::sync::Arc;

use periscope_storage::batch::{SpanBatchBuilder, SpanFields};
use periscope_storage::value::AttrRef;
use periscope_storage::{AttrValue, Origin, SpanEvent, SpanLink};
use prost::Message;

use super::common::{
    Conversion, Limits, Rejection, TOO_DEEP, any_value, attributes, check_count, check_time,
    origin, span_id, text, text_ref, trace_id, truncate_ref,
};
use crate::error::CollectorError;
use crate::otlp::proto_reader::{Fields, ProtoError, Value};
use crate::otlp::wire::common::v1::{AnyValue, InstrumentationScope};
use crate::otlp::wire::resource::v1::Resource;
use crate::otlp::wire::trace::v1::span;

const BAD_TRACE_ID: Rejection = "invalid trace id (must be 16 bytes, not all zero)";
const BAD_SPAN_ID: Rejection = "invalid span id (must be 8 bytes, not all zero)";
const BAD_PARENT_ID: Rejection = "invalid parent span id (must be empty or 8 bytes, not all zero)";
const BAD_LINK_ID: Rejection = "invalid link trace or span id";
const END_BEFORE_START: Rejection = "end time before start time";

/// What went wrong with one span: it is rejected alone, or the whole body is not protobuf.
enum SpanError {
    Rejected(Rejection),
    Proto(ProtoError),
}

impl From<ProtoError> for SpanError {
    fn from(err: ProtoError) -> Self {
        SpanError::Proto(err)
    }
}

impl From<Rejection> for SpanError {
    fn from(reason: Rejection) -> Self {
        SpanError::Rejected(reason)
    }
}

fn invalid(err: ProtoError) -> CollectorError {
    CollectorError::InvalidArgument(format!("invalid OTLP protobuf: {err}"))
}

fn invalid_prost(err: prost::DecodeError) -> CollectorError {
    CollectorError::InvalidArgument(format!("invalid OTLP protobuf: {err}"))
}

/// Converts every span of an encoded request; invalid spans are rejected one by one. A body
/// that is not protobuf, or holds more than `max_records` spans, fails as a whole.
pub(crate) fn convert_traces(
    body: &[u8],
    limits: &Limits,
    max_records: usize,
) -> Result<Conversion<SpanBatchBuilder>, CollectorError> {
    // Spans of the benchmark workload encode to ~400 bytes.
    let estimate = (body.len() / 256).clamp(16, 16 * 1024);
    let mut state = State {
        conversion: Conversion::with_rows(SpanBatchBuilder::with_capacity(estimate)),
        limits,
        max_records,
        seen: 0,
        attributes: Vec::new(),
        raw: RawSpan::default(),
    };
    let mut request = Fields::new(body);
    while let Some((number, value)) = request.next_field().map_err(invalid)? {
        if number == 1 {
            state.resource_spans(value.bytes().map_err(invalid)?)?;
        }
    }
    check_count(state.seen, max_records)?;
    Ok(state.conversion)
}

/// An attribute value held while its span is checked; appended only if the span is kept.
enum HeldValue<'a> {
    Borrowed(AttrRef<'a>),
    Owned(AttrValue),
}

impl HeldValue<'_> {
    fn as_attr_ref(&self) -> AttrRef<'_> {
        match self {
            HeldValue::Borrowed(value) => *value,
            HeldValue::Owned(value) => value.as_ref(),
        }
    }
}

struct State<'a, 'l> {
    conversion: Conversion<SpanBatchBuilder>,
    limits: &'l Limits,
    max_records: usize,
    seen: usize,
    /// Reused from span to span.
    attributes: Vec<(Cow<'a, str>, HeldValue<'a>)>,
    raw: RawSpan<'a>,
}

/// Fields 1 and 2 of a `ResourceSpans` or `ScopeSpans`: every occurrence of its resource
/// (or scope), and its children, in wire order. Field 3 (`schema_url`) is only checked.
type HeadAndChildren<'a> = (Vec<&'a [u8]>, Vec<&'a [u8]>);

fn head_and_children(bytes: &[u8]) -> Result<HeadAndChildren<'_>, CollectorError> {
    let (mut head, mut children) = (Vec::new(), Vec::new());
    let mut fields = Fields::new(bytes);
    while let Some((number, value)) = fields.next_field().map_err(invalid)? {
        match number {
            1 => head.push(value.bytes().map_err(invalid)?),
            2 => children.push(value.bytes().map_err(invalid)?),
            3 => drop(value.bytes().map_err(invalid)?),
            _ => {}
        }
    }
    Ok((head, children))
}

/// Merges every occurrence of an embedded message field, as prost does for a field that
/// appears more than once.
fn merged<M: Message + Default>(occurrences: &[&[u8]]) -> Result<Option<M>, CollectorError> {
    if occurrences.is_empty() {
        return Ok(None);
    }
    let mut message = M::default();
    for bytes in occurrences {
        message.merge(*bytes).map_err(invalid_prost)?;
    }
    Ok(Some(message))
}

impl<'a> State<'a, '_> {
    fn resource_spans(&mut self, bytes: &'a [u8]) -> Result<(), CollectorError> {
        let (resource, scopes) = head_and_children(bytes)?;
        let resource = merged::<Resource>(&resource)?;
        for scope in scopes {
            self.scope_spans(scope, resource.as_ref())?;
        }
        Ok(())
    }

    fn scope_spans(
        &mut self,
        bytes: &'a [u8],
        resource: Option<&Resource>,
    ) -> Result<(), CollectorError> {
        let (scope, spans) = head_and_children(bytes)?;
        let scope = merged::<InstrumentationScope>(&scope)?;
        let origin = origin(resource, scope.as_ref(), self.limits, &mut self.conversion);
        for span in spans {
            self.seen += 1;
            // Counted to the end so the error names the request's size; not converted.
            if self.seen > self.max_records {
                continue;
            }
            match self.span(span, &origin) {
                Ok(()) => {}
                Err(SpanError::Rejected(reason)) => self.conversion.reject(reason),
                Err(SpanError::Proto(err)) => return Err(invalid(err)),
            }
        }
        Ok(())
    }

    fn span(&mut self, bytes: &'a [u8], origin: &Arc<Origin>) -> Result<(), SpanError> {
        // The raw span's lists are reused from span to span, not allocated per span.
        let mut raw = std::mem::take(&mut self.raw);
        raw.clear();
        let result = self.span_from(&mut raw, bytes, origin);
        self.raw = raw;
        result
    }

    fn span_from(
        &mut self,
        raw: &mut RawSpan<'a>,
        bytes: &'a [u8],
        origin: &Arc<Origin>,
    ) -> Result<(), SpanError> {
        let mut fields = Fields::new(bytes);
        while let Some((number, value)) = fields.next_field()? {
            raw.set(number, value)?;
        }
        let limits = self.limits;
        let trace = trace_id(raw.trace_id).ok_or(BAD_TRACE_ID)?;
        let id = span_id(raw.span_id).ok_or(BAD_SPAN_ID)?;
        let parent = if raw.parent_span_id.is_empty() {
            None
        } else {
            Some(span_id(raw.parent_span_id).ok_or(BAD_PARENT_ID)?)
        };
        let start = check_time(raw.start, limits)?;
        let end = check_time(raw.end, limits)?;
        if end < start {
            return Err(END_BEFORE_START.into());
        }
        let dropped = self.attributes(&raw.attributes)?;
        let mut events = Vec::with_capacity(raw.events.len());
        for event in &raw.events {
            let event = span::Event::decode(*event).map_err(|_| ProtoError("invalid event"))?;
            events.push(convert_event(event, limits, &mut self.conversion)?);
        }
        let mut links = Vec::with_capacity(raw.links.len());
        for link in &raw.links {
            let link = span::Link::decode(*link).map_err(|_| ProtoError("invalid link"))?;
            links.push(convert_link(link, limits, &mut self.conversion)?);
        }
        let status_message = raw
            .status_message
            .map(|message| text_ref(message, &mut self.conversion))
            .unwrap_or_default();
        let trace_state = text_ref(raw.trace_state, &mut self.conversion);
        let name = text_ref(raw.name, &mut self.conversion);
        let fields = SpanFields {
            trace_id: trace.0,
            span_id: id.0,
            parent_span_id: parent.map(|id| id.0),
            trace_state: &trace_state,
            flags: raw.flags,
            name: &name,
            kind: raw.kind,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            status_code: raw.status_code,
            status_message: &status_message,
            dropped_attributes_count: raw.dropped_attributes_count.saturating_add(dropped),
            dropped_events_count: raw.dropped_events_count,
            dropped_links_count: raw.dropped_links_count,
        };
        self.conversion.rows.append(
            &fields,
            self.attributes
                .iter()
                .map(|(key, value)| (key.as_ref(), value.as_attr_ref())),
            &events,
            &links,
            origin,
        );
        Ok(())
    }

    /// Converts a span's attributes into `self.attributes`, keeping at most
    /// `max_attributes`; returns how many were dropped.
    fn attributes(&mut self, pairs: &[&'a [u8]]) -> Result<u32, SpanError> {
        self.attributes.clear();
        let limits = self.limits;
        for pair in pairs.iter().take(limits.max_attributes) {
            let (key, value) = self.key_value(pair)?;
            self.attributes.push((key, value));
        }
        let dropped = pairs.len().saturating_sub(limits.max_attributes);
        self.conversion.dropped_attributes += dropped as u64;
        Ok(u32::try_from(dropped).unwrap_or(u32::MAX))
    }

    fn key_value(&mut self, bytes: &'a [u8]) -> Result<(Cow<'a, str>, HeldValue<'a>), SpanError> {
        let mut key: &[u8] = &[];
        // Nearly always exactly one value: a Vec only for the rare repeated occurrence.
        let mut first: Option<&[u8]> = None;
        let mut values: Vec<&[u8]> = Vec::new();
        let mut fields = Fields::new(bytes);
        while let Some((number, value)) = fields.next_field()? {
            match number {
                1 => key = value.bytes()?,
                2 => match first {
                    None => first = Some(value.bytes()?),
                    Some(earlier) => {
                        if values.is_empty() {
                            values.push(earlier);
                        }
                        values.push(value.bytes()?);
                    }
                },
                3 => drop(value.int32()?),
                _ => {}
            }
        }
        let limits = self.limits;
        let conversion = &mut self.conversion;
        let key = text_ref(key, conversion);
        let key = truncate_ref(
            key,
            limits.max_attribute_bytes,
            &mut conversion.truncated_values,
        );
        let value = match (first, values.is_empty()) {
            (Some(value), true) => match scalar(value, limits, conversion)? {
                Some(held) => held,
                None => HeldValue::Owned(owned_value(&[value], limits, conversion)?),
            },
            (None, _) => HeldValue::Owned(owned_value(&[], limits, conversion)?),
            (Some(_), false) => HeldValue::Owned(owned_value(&values, limits, conversion)?),
        };
        Ok((key, value))
    }
}

/// A string or scalar `AnyValue` read in place; `None` for arrays, maps and the rest,
/// which [`owned_value`] converts.
fn scalar<'a>(
    bytes: &'a [u8],
    limits: &Limits,
    conversion: &mut Conversion<SpanBatchBuilder>,
) -> Result<Option<HeldValue<'a>>, SpanError> {
    if limits.max_nesting_depth < 1 {
        return Err(TOO_DEEP.into());
    }
    // A oneof: the last field on the wire wins.
    let mut last: Option<(u32, Value<'a>)> = None;
    let mut fields = Fields::new(bytes);
    while let Some((number, value)) = fields.next_field()? {
        if (1..=8).contains(&number) {
            last = Some((number, value));
        }
    }
    let Some((number, value)) = last else {
        return Ok(None);
    };
    Ok(Some(HeldValue::Borrowed(match number {
        1 => {
            let text = text_ref(value.bytes()?, conversion);
            let text = truncate_ref(
                text,
                limits.max_attribute_bytes,
                &mut conversion.truncated_values,
            );
            match text {
                Cow::Borrowed(text) => AttrRef::Str(text),
                Cow::Owned(text) => return Ok(Some(HeldValue::Owned(AttrValue::Str(text)))),
            }
        }
        2 => AttrRef::Bool(value.varint()? != 0),
        3 => AttrRef::Int(value.varint()? as i64),
        4 => AttrRef::Double(f64::from_bits(value.fixed64()?)),
        7 => AttrRef::Bytes(value.bytes()?),
        _ => return Ok(None),
    })))
}

/// The rare values (arrays, maps, no value, repeated occurrences) through prost and the
/// shared converter.
fn owned_value(
    occurrences: &[&[u8]],
    limits: &Limits,
    conversion: &mut Conversion<SpanBatchBuilder>,
) -> Result<AttrValue, SpanError> {
    let value =
        merged::<AnyValue>(occurrences).map_err(|_| ProtoError("invalid attribute value"))?;
    Ok(any_value(value, 1, limits, conversion)?)
}

/// A span's fields as slices of the request, before any check.
#[derive(Default)]
struct RawSpan<'a> {
    trace_id: &'a [u8],
    span_id: &'a [u8],
    trace_state: &'a [u8],
    parent_span_id: &'a [u8],
    flags: u32,
    name: &'a [u8],
    kind: i32,
    start: u64,
    end: u64,
    attributes: Vec<&'a [u8]>,
    dropped_attributes_count: u32,
    events: Vec<&'a [u8]>,
    dropped_events_count: u32,
    links: Vec<&'a [u8]>,
    dropped_links_count: u32,
    status_message: Option<&'a [u8]>,
    status_code: i32,
}

impl<'a> RawSpan<'a> {
    /// Back to an empty span, keeping the lists' capacity.
    fn clear(&mut self) {
        let mut attributes = std::mem::take(&mut self.attributes);
        let mut events = std::mem::take(&mut self.events);
        let mut links = std::mem::take(&mut self.links);
        attributes.clear();
        events.clear();
        links.clear();
        *self = RawSpan {
            attributes,
            events,
            links,
            ..RawSpan::default()
        };
    }

    /// Field numbers of `opentelemetry.proto.trace.v1.Span`.
    fn set(&mut self, number: u32, value: Value<'a>) -> Result<(), ProtoError> {
        match number {
            1 => self.trace_id = value.bytes()?,
            2 => self.span_id = value.bytes()?,
            3 => self.trace_state = value.bytes()?,
            4 => self.parent_span_id = value.bytes()?,
            5 => self.name = value.bytes()?,
            6 => self.kind = value.int32()?,
            7 => self.start = value.fixed64()?,
            8 => self.end = value.fixed64()?,
            9 => self.attributes.push(value.bytes()?),
            10 => self.dropped_attributes_count = value.uint32()?,
            11 => self.events.push(value.bytes()?),
            12 => self.dropped_events_count = value.uint32()?,
            13 => self.links.push(value.bytes()?),
            14 => self.dropped_links_count = value.uint32()?,
            15 => self.set_status(value.bytes()?)?,
            16 => self.flags = value.fixed32()?,
            _ => {}
        }
        Ok(())
    }

    /// `Status` is a message; a repeated occurrence merges field by field, as in prost.
    fn set_status(&mut self, bytes: &'a [u8]) -> Result<(), ProtoError> {
        let message = self.status_message.get_or_insert(&[]);
        let mut fields = Fields::new(bytes);
        while let Some((number, value)) = fields.next_field()? {
            match number {
                2 => *message = value.bytes()?,
                3 => self.status_code = value.int32()?,
                _ => {}
            }
        }
        Ok(())
    }
}

fn convert_event<Rows>(
    event: span::Event,
    limits: &Limits,
    conversion: &mut Conversion<Rows>,
) -> Result<SpanEvent, Rejection> {
    let (event_attributes, dropped) = attributes(event.attributes, limits, conversion)?;
    Ok(SpanEvent {
        // Event times outside the window are kept: the span itself passed the check.
        time_unix_nano: i64::try_from(event.time_unix_nano).unwrap_or(i64::MAX),
        name: text(event.name, conversion),
        attributes: event_attributes,
        dropped_attributes_count: event.dropped_attributes_count.saturating_add(dropped),
    })
}

fn convert_link<Rows>(
    link: span::Link,
    limits: &Limits,
    conversion: &mut Conversion<Rows>,
) -> Result<SpanLink, Rejection> {
    let linked_trace = trace_id(&link.trace_id).ok_or(BAD_LINK_ID)?;
    let linked_span = span_id(&link.span_id).ok_or(BAD_LINK_ID)?;
    let (link_attributes, dropped) = attributes(link.attributes, limits, conversion)?;
    Ok(SpanLink {
        trace_id: linked_trace,
        span_id: linked_span,
        trace_state: text(link.trace_state, conversion),
        flags: link.flags,
        attributes: link_attributes,
        dropped_attributes_count: link.dropped_attributes_count.saturating_add(dropped),
    })
}

#[cfg(test)]
mod tests {
    use periscope_storage::batch::spans_from_batch;
    use periscope_storage::{SpanId, SpanRow, TraceId};

    use super::*;
    use crate::otlp::wire::collector::trace::v1::ExportTraceServiceRequest;
    use crate::otlp::wire::common::v1::{ArrayValue, KeyValue, KeyValueList, any_value};
    use crate::otlp::wire::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

    const NOW: i64 = 1_700_000_000_000_000_000;

    fn limits() -> Limits {
        Limits {
            max_attributes: 4,
            max_attribute_bytes: 12,
            max_nesting_depth: 3,
            min_time_unix_nano: NOW - 1_000_000_000_000,
            max_time_unix_nano: NOW + 1_000_000_000_000,
            now_unix_nano: NOW,
        }
    }

    fn pair(key: &[u8], value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.to_vec(),
            value: Some(AnyValue { value: Some(value) }),
            key_strindex: 0,
        }
    }

    fn text_value(text: &[u8]) -> any_value::Value {
        any_value::Value::StringValue(text.to_vec())
    }

    fn span(id: u8) -> Span {
        Span {
            trace_id: vec![7; 16],
            span_id: vec![id; 8],
            name: b"GET /".to_vec(),
            kind: 2,
            start_time_unix_nano: NOW as u64,
            end_time_unix_nano: NOW as u64 + 5,
            ..Span::default()
        }
    }

    fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![pair(b"service.name", text_value(b"shop"))],
                    ..Resource::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: b"lib".to_vec(),
                        ..InstrumentationScope::default()
                    }),
                    spans,
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        }
    }

    fn rows(body: &[u8]) -> (Vec<SpanRow>, Conversion<SpanBatchBuilder>) {
        let mut conversion = convert_traces(body, &limits(), 10).unwrap();
        let builder = std::mem::replace(&mut conversion.rows, SpanBatchBuilder::with_capacity(0));
        let batch = builder.finish().unwrap().into_inner();
        (spans_from_batch(&batch).unwrap(), conversion)
    }

    #[test]
    fn spans_are_read_in_place_with_every_limit_applied() {
        let mut typed = span(1);
        typed.parent_span_id = vec![9; 8];
        typed.flags = 0x301;
        typed.trace_state = b"k=v".to_vec();
        typed.attributes = vec![
            pair(b"s", text_value(b"0123456789abcdef")),
            pair(b"i", any_value::Value::IntValue(-3)),
            pair(b"long-key-name", any_value::Value::DoubleValue(2.5)),
            pair(
                b"a",
                any_value::Value::ArrayValue(ArrayValue {
                    values: vec![AnyValue {
                        value: Some(any_value::Value::BoolValue(true)),
                    }],
                }),
            ),
            pair(b"dropped", any_value::Value::BytesValue(vec![1])),
        ];
        typed.dropped_attributes_count = 2;
        typed.events = vec![span::Event {
            time_unix_nano: NOW as u64 + 1,
            name: b"exception".to_vec(),
            attributes: vec![pair(b"b", any_value::Value::BytesValue(vec![0, 255]))],
            dropped_attributes_count: 0,
        }];
        typed.status = Some(Status {
            message: b"boom".to_vec(),
            code: 2,
        });
        let mut lossy = span(2);
        lossy.name = b"bad \xff name".to_vec();
        let mut too_deep = span(3);
        too_deep.attributes = vec![pair(
            b"m",
            any_value::Value::KvlistValue(KeyValueList {
                values: vec![pair(
                    b"n",
                    any_value::Value::KvlistValue(KeyValueList {
                        values: vec![pair(
                            b"o",
                            any_value::Value::ArrayValue(ArrayValue {
                                values: vec![AnyValue {
                                    value: Some(any_value::Value::IntValue(1)),
                                }],
                            }),
                        )],
                    }),
                )],
            }),
        )];
        let mut zero_trace = span(4);
        zero_trace.trace_id = vec![0; 16];
        let mut backwards = span(5);
        backwards.end_time_unix_nano = NOW as u64 - 1;
        let body = request(vec![typed, lossy, too_deep, zero_trace, backwards]).encode_to_vec();

        let (rows, conversion) = rows(&body);
        assert_eq!(conversion.rejected, 3, "{:?}", conversion.reasons);
        assert_eq!(conversion.reasons.get(TOO_DEEP), Some(&1));
        assert_eq!(conversion.reasons.get(BAD_TRACE_ID), Some(&1));
        assert_eq!(conversion.reasons.get(END_BEFORE_START), Some(&1));
        assert_eq!(conversion.invalid_utf8, 1);
        // "0123456789abcdef" and "long-key-name" cut to 12 bytes.
        assert_eq!(conversion.truncated_values, 2);
        assert_eq!(conversion.dropped_attributes, 1);

        assert_eq!(rows.len(), 2);
        let row = &rows[0];
        assert_eq!(row.trace_id, TraceId([7; 16]));
        assert_eq!(row.span_id, SpanId([1; 8]));
        assert_eq!(row.parent_span_id, Some(SpanId([9; 8])));
        assert_eq!(
            (row.flags, row.kind, row.trace_state.as_str()),
            (0x301, 2, "k=v")
        );
        assert_eq!((row.status_code, row.status_message.as_str()), (2, "boom"));
        assert_eq!(row.end_time_unix_nano - row.start_time_unix_nano, 5);
        assert_eq!(
            row.attributes,
            vec![
                ("s".to_string(), AttrValue::Str("0123456789ab".into())),
                ("i".to_string(), AttrValue::Int(-3)),
                ("long-key-nam".to_string(), AttrValue::Double(2.5)),
                (
                    "a".to_string(),
                    AttrValue::Array(vec![AttrValue::Bool(true)])
                ),
            ]
        );
        assert_eq!(row.dropped_attributes_count, 3);
        assert_eq!(row.events.len(), 1);
        assert_eq!(row.events[0].name, "exception");
        assert_eq!(
            row.events[0].attributes,
            vec![("b".to_string(), AttrValue::Bytes(vec![0, 255]))]
        );
        assert_eq!(row.origin.service_name, "shop");
        assert_eq!(row.origin.scope_name, "lib");
        assert_eq!(rows[1].name, "bad \u{fffd} name");
        assert_eq!(rows[1].parent_span_id, None);
    }

    /// Length-delimited field 1, the shape of `resource_spans` in a request.
    fn field_one(bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![0x0a];
        prost::encoding::encode_varint(bytes.len() as u64, &mut out);
        out.extend_from_slice(bytes);
        out
    }

    #[test]
    fn fields_in_any_order_and_repeated_messages_merge_as_in_prost() {
        let mut first = span(1);
        first.status = Some(Status {
            message: b"first".to_vec(),
            code: 0,
        });
        // The same span twice on the wire is one span whose fields merge: the later status
        // code wins, the earlier message stays, the attribute lists concatenate.
        first.attributes = vec![pair(b"x", text_value(b"1"))];
        let second = Span {
            status: Some(Status {
                message: Vec::new(),
                code: 2,
            }),
            attributes: vec![pair(b"y", any_value::Value::IntValue(2))],
            ..Span::default()
        };
        let mut span_bytes = first.encode_to_vec();
        span_bytes.extend(second.encode_to_vec());
        // A ResourceSpans whose resource comes after its spans: two partial messages in a row.
        let scope = ScopeSpans {
            spans: vec![Span::decode(span_bytes.as_slice()).unwrap()],
            ..ScopeSpans::default()
        };
        let mut resource_spans = ResourceSpans {
            scope_spans: vec![scope],
            ..ResourceSpans::default()
        }
        .encode_to_vec();
        resource_spans.extend(
            ResourceSpans {
                resource: request(vec![]).resource_spans[0].resource.clone(),
                ..ResourceSpans::default()
            }
            .encode_to_vec(),
        );
        let mut body = field_one(&resource_spans);
        // The merged span as prost sees it, sent again in a second group to compare.
        let expected = Span::decode(span_bytes.as_slice()).unwrap();
        assert_eq!(expected.status.as_ref().unwrap().code, 2);
        body.extend(request(vec![expected]).encode_to_vec());

        let (rows, conversion) = rows(&body);
        assert_eq!(conversion.rejected, 0);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].origin.service_name, "shop");
        assert_eq!(rows[0].status_code, 2);
        assert_eq!(rows[0].status_message, "first");
        assert_eq!(rows[0].attributes.len(), 2);
        let strip = |row: &SpanRow| SpanRow {
            origin: Arc::new(Origin::default()),
            ..row.clone()
        };
        assert_eq!(strip(&rows[0]), strip(&rows[1]));
    }

    #[test]
    fn broken_bodies_and_too_many_spans_fail_the_whole_request() {
        let body = request(vec![span(1), span(2)]).encode_to_vec();
        let truncated = &body[..body.len() - 3];
        assert!(matches!(
            convert_traces(truncated, &limits(), 10),
            Err(CollectorError::InvalidArgument(message)) if message.starts_with("invalid OTLP protobuf")
        ));
        let many = request((1..=11).map(span).collect()).encode_to_vec();
        assert!(matches!(
            convert_traces(&many, &limits(), 10),
            Err(CollectorError::TooLarge(message)) if message.contains("holds 11 records")
        ));
    }
}
