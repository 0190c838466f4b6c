//! Log hits as JSON (traces are in [`crate::jaeger`]).

use periscope_query::{Attributes, LogRow};
use serde_json::{Value, json};

/// Attributes as one plain JSON object.
pub(crate) fn plain_attributes(attributes: &Attributes) -> Value {
    Value::Object(
        attributes
            .iter()
            .map(|(key, value)| (key.clone(), value.to_plain_json()))
            .collect(),
    )
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
