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

mod raw_span;

use raw_span::{RawSpan, SortKey, sort_key};

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
///
/// The spans are converted in (trace id, start) order, not wire order: the flusher sorts a
/// whole flush that way, and its gather then reads each request's rows front to back (rows
/// still in cache) instead of jumping around in every batch. SDKs group spans by resource,
/// so a trace's spans are spread over the request.
pub(crate) fn convert_traces(
    body: &[u8],
    limits: &Limits,
    max_records: usize,
) -> Result<Conversion<SpanBatchBuilder>, CollectorError> {
    let mut state = State {
        conversion: Conversion::with_rows(SpanBatchBuilder::with_capacity(0)),
        limits,
        max_records,
        seen: 0,
        origins: Vec::new(),
        pending: Vec::new(),
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
    state.convert_pending()?;
    Ok(state.conversion)
}

/// A span found in the request, converted once the whole request has been walked.
struct Pending<'a> {
    key: SortKey,
    bytes: &'a [u8],
    /// Index into `State::origins`.
    origin: usize,
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
    /// The origin of each resource + scope group, in wire order.
    origins: Vec<Arc<Origin>>,
    pending: Vec<Pending<'a>>,
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
        self.origins.push(origin);
        for span in spans {
            self.seen += 1;
            // Counted to the end so the error names the request's size; not converted.
            if self.seen > self.max_records {
                continue;
            }
            self.pending.push(Pending {
                key: sort_key(span).map_err(invalid)?,
                bytes: span,
                origin: self.origins.len() - 1,
            });
        }
        Ok(())
    }

    /// Converts the pending spans in (trace id, start) order; ties keep wire order.
    fn convert_pending(&mut self) -> Result<(), CollectorError> {
        let mut pending = std::mem::take(&mut self.pending);
        pending.sort_by_key(|span| span.key);
        let origins = std::mem::take(&mut self.origins);
        let encoded_bytes = pending.iter().map(|span| span.bytes.len()).sum();
        self.conversion.rows =
            SpanBatchBuilder::with_capacity_and_bytes(pending.len(), encoded_bytes);
        for span in pending {
            match self.span(span.bytes, &origins[span.origin]) {
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
mod tests;
