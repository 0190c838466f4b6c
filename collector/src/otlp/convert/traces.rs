//! `ExportTraceServiceRequest` → span rows.

use std::sync::Arc;

use periscope_storage::{Origin, SpanEvent, SpanLink, SpanRow};

use super::common::{
    Conversion, Limits, Rejection, attributes, check_time, origin, span_id, text, trace_id,
};
use crate::otlp::wire::collector::trace::v1::ExportTraceServiceRequest;
use crate::otlp::wire::trace::v1::{Span, span};

const BAD_TRACE_ID: Rejection = "invalid trace id (must be 16 bytes, not all zero)";
const BAD_SPAN_ID: Rejection = "invalid span id (must be 8 bytes, not all zero)";
const BAD_PARENT_ID: Rejection = "invalid parent span id (must be empty or 8 bytes, not all zero)";
const BAD_LINK_ID: Rejection = "invalid link trace or span id";
const END_BEFORE_START: Rejection = "end time before start time";

/// Converts every span of the request; invalid ones are rejected individually.
pub(crate) fn convert_traces(
    request: ExportTraceServiceRequest,
    limits: &Limits,
) -> Conversion<SpanRow> {
    let mut conversion = Conversion::new();
    for resource_spans in request.resource_spans {
        for scope_spans in resource_spans.scope_spans {
            let origin = origin(
                resource_spans.resource.as_ref(),
                scope_spans.scope.as_ref(),
                limits,
                &mut conversion,
            );
            for span in scope_spans.spans {
                match convert_span(span, &origin, limits, &mut conversion) {
                    Ok(row) => conversion.rows.push(row),
                    Err(reason) => conversion.reject(reason),
                }
            }
        }
    }
    conversion
}

fn convert_span(
    span: Span,
    origin: &Arc<Origin>,
    limits: &Limits,
    conversion: &mut Conversion<SpanRow>,
) -> Result<SpanRow, Rejection> {
    let trace = trace_id(&span.trace_id).ok_or(BAD_TRACE_ID)?;
    let id = span_id(&span.span_id).ok_or(BAD_SPAN_ID)?;
    let parent = if span.parent_span_id.is_empty() {
        None
    } else {
        Some(span_id(&span.parent_span_id).ok_or(BAD_PARENT_ID)?)
    };
    let start = check_time(span.start_time_unix_nano, limits)?;
    let end = check_time(span.end_time_unix_nano, limits)?;
    if end < start {
        return Err(END_BEFORE_START);
    }
    let (span_attributes, dropped) = attributes(span.attributes, limits, conversion)?;
    let mut events = Vec::with_capacity(span.events.len());
    for event in span.events {
        events.push(convert_event(event, limits, conversion)?);
    }
    let mut links = Vec::with_capacity(span.links.len());
    for link in span.links {
        links.push(convert_link(link, limits, conversion)?);
    }
    let (status_code, status_message) = match span.status {
        Some(status) => (status.code, text(status.message, conversion)),
        None => (0, String::new()),
    };
    Ok(SpanRow {
        trace_id: trace,
        span_id: id,
        parent_span_id: parent,
        trace_state: text(span.trace_state, conversion),
        flags: span.flags,
        name: text(span.name, conversion),
        kind: span.kind,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        status_code,
        status_message,
        attributes: span_attributes,
        dropped_attributes_count: span.dropped_attributes_count.saturating_add(dropped),
        events,
        dropped_events_count: span.dropped_events_count,
        links,
        dropped_links_count: span.dropped_links_count,
        origin: origin.clone(),
    })
}

fn convert_event(
    event: span::Event,
    limits: &Limits,
    conversion: &mut Conversion<SpanRow>,
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

fn convert_link(
    link: span::Link,
    limits: &Limits,
    conversion: &mut Conversion<SpanRow>,
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
