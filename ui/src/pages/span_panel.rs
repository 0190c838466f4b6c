//! The span panel of the trace view: identity, timing, status, attributes grouped by span,
//! resource and scope, events (exception stack traces kept readable), links to other traces.

use periscope_query::{AttrValue, Attributes, SPAN_KIND_NAMES, SpanRow};

use super::format;
use super::layout::{link, safe_href};
use super::summary::service_class;

/// A key and its value as text; `href` only for http(s) URLs.
pub(crate) struct KeyValue {
    pub(crate) key: String,
    pub(crate) value: String,
    pub(crate) href: Option<String>,
    /// Multi-line text (stack traces, SQL) is shown in a `<pre>`.
    pub(crate) multiline: bool,
}

pub(crate) fn key_values(attributes: &Attributes) -> Vec<KeyValue> {
    attributes
        .iter()
        .map(|(key, value)| key_value(key, value))
        .collect()
}

pub(crate) fn key_value(key: &str, value: &AttrValue) -> KeyValue {
    let text = value.to_display_string();
    KeyValue {
        key: key.to_string(),
        href: safe_href(&text).map(str::to_string),
        multiline: text.contains('\n'),
        value: text,
    }
}

pub(crate) struct EventView {
    pub(crate) name: String,
    pub(crate) offset: String,
    pub(crate) attributes: Vec<KeyValue>,
    pub(crate) is_exception: bool,
}

pub(crate) struct LinkView {
    pub(crate) href: String,
    pub(crate) trace_id: String,
    pub(crate) span_id: String,
    pub(crate) attributes: Vec<KeyValue>,
}

/// Everything the panel shows about one span.
pub(crate) struct SpanPanel {
    pub(crate) span_id: String,
    pub(crate) parent_id: String,
    pub(crate) name: String,
    pub(crate) service: String,
    pub(crate) class: String,
    pub(crate) kind: String,
    pub(crate) status: String,
    pub(crate) status_message: String,
    pub(crate) error: bool,
    pub(crate) start: String,
    pub(crate) offset: String,
    pub(crate) duration: String,
    pub(crate) trace_state: String,
    pub(crate) flags: String,
    pub(crate) attributes: Vec<KeyValue>,
    pub(crate) resource: Vec<KeyValue>,
    pub(crate) scope: String,
    pub(crate) scope_attributes: Vec<KeyValue>,
    pub(crate) events: Vec<EventView>,
    pub(crate) links: Vec<LinkView>,
    pub(crate) dropped: String,
    pub(crate) logs_href: String,
}

impl SpanPanel {
    pub(crate) fn of(
        span: &SpanRow,
        trace_start_ns: i64,
        range_params: &[(&'static str, String)],
    ) -> SpanPanel {
        let status = match span.status_code {
            1 => "OK",
            2 => "ERROR",
            _ => "UNSET",
        };
        let scope = match (
            span.origin.scope_name.is_empty(),
            span.origin.scope_version.is_empty(),
        ) {
            (true, _) => String::new(),
            (false, true) => span.origin.scope_name.clone(),
            (false, false) => format!("{} {}", span.origin.scope_name, span.origin.scope_version),
        };
        let events = span
            .events
            .iter()
            .map(|event| EventView {
                name: event.name.clone(),
                offset: format::duration((event.time_unix_nano - trace_start_ns) as f64),
                attributes: key_values(&event.attributes),
                is_exception: event.name == "exception",
            })
            .collect();
        let links = span
            .links
            .iter()
            .map(|span_link| {
                let mut params = range_params.to_vec();
                params.push(("span", span_link.span_id.to_hex()));
                LinkView {
                    href: link(&format!("/trace/{}", span_link.trace_id.to_hex()), &params),
                    trace_id: span_link.trace_id.to_hex(),
                    span_id: span_link.span_id.to_hex(),
                    attributes: key_values(&span_link.attributes),
                }
            })
            .collect();
        let dropped_counts = [
            (span.dropped_attributes_count, "attributes"),
            (span.dropped_events_count, "events"),
            (span.dropped_links_count, "links"),
        ];
        let dropped: Vec<String> = dropped_counts
            .iter()
            .filter(|(count, _)| *count > 0)
            .map(|(count, what)| format!("{count} {what}"))
            .collect();
        let mut logs_params = vec![("q", format!("span_id:{}", span.span_id.to_hex()))];
        logs_params.extend(range_params.iter().cloned());
        SpanPanel {
            span_id: span.span_id.to_hex(),
            parent_id: span
                .parent_span_id
                .map(|id| id.to_hex())
                .unwrap_or_default(),
            name: span.name.clone(),
            service: span.origin.service_name.clone(),
            class: service_class(&span.origin.service_name),
            kind: SPAN_KIND_NAMES
                .get(span.kind as usize)
                .copied()
                .unwrap_or("unknown")
                .to_string(),
            status: status.to_string(),
            status_message: span.status_message.clone(),
            error: span.status_code == 2,
            start: format::time(span.start_time_unix_nano),
            offset: format::duration((span.start_time_unix_nano - trace_start_ns) as f64),
            duration: format::duration(span.duration_ns() as f64),
            trace_state: span.trace_state.clone(),
            flags: format!("{:#04x}", span.flags & 0xff),
            attributes: key_values(&span.attributes),
            resource: key_values(&span.origin.resource_attributes),
            scope,
            scope_attributes: key_values(&span.origin.scope_attributes),
            events,
            links,
            dropped: dropped.join(", "),
            logs_href: link("/logs", &logs_params),
        }
    }
}
