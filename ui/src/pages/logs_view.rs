//! Log records as the pages show them: one summary line that expands to every field, with
//! links to the trace and span and to the surrounding lines.

use periscope_query::LogRow;

use super::format;
use super::layout::link;
use super::span_panel::{KeyValue, key_values};
use super::summary::service_class;

pub(crate) struct LogLine {
    pub(crate) time: String,
    pub(crate) time_ns: i64,
    pub(crate) severity: String,
    pub(crate) severity_class: &'static str,
    pub(crate) service: String,
    pub(crate) class: String,
    pub(crate) body: String,
    pub(crate) attributes: Vec<KeyValue>,
    pub(crate) resource: Vec<KeyValue>,
    pub(crate) scope: String,
    pub(crate) trace_id: String,
    pub(crate) span_id: String,
    /// Opens the trace (with the span selected) when the record has one.
    pub(crate) trace_href: Option<String>,
    /// The surrounding lines fragment.
    pub(crate) context_href: String,
    /// Whether the neighbours come from the same file (agent-tailed records).
    pub(crate) from_file: bool,
}

/// Severity class for colouring, from the OTLP severity number.
fn severity_class(number: i32) -> &'static str {
    match number {
        21.. => "sev-fatal",
        17..=20 => "sev-error",
        13..=16 => "sev-warn",
        9..=12 => "sev-info",
        1..=8 => "sev-debug",
        _ => "sev-unset",
    }
}

fn severity_label(row: &LogRow) -> String {
    if !row.severity_text.is_empty() {
        return row.severity_text.clone();
    }
    match row.severity_number {
        21.. => "FATAL",
        17..=20 => "ERROR",
        13..=16 => "WARN",
        9..=12 => "INFO",
        5..=8 => "DEBUG",
        1..=4 => "TRACE",
        _ => "-",
    }
    .to_string()
}

/// The file and byte offset of an agent-tailed record.
pub(crate) fn file_position(row: &LogRow) -> Option<(String, i64)> {
    let mut path = None;
    let mut offset = None;
    for (key, value) in &row.attributes {
        match key.as_str() {
            "log.file.path" => path = Some(value.to_display_string()),
            "log.file.offset" => offset = value.to_display_string().parse::<i64>().ok(),
            _ => {}
        }
    }
    Some((path?, offset?))
}

pub(crate) fn log_lines(rows: &[LogRow], range_params: &[(&'static str, String)]) -> Vec<LogLine> {
    rows.iter()
        .map(|row| {
            let trace_id = row.trace_id.map(|id| id.to_hex()).unwrap_or_default();
            let span_id = row.span_id.map(|id| id.to_hex()).unwrap_or_default();
            let trace_href = (!trace_id.is_empty()).then(|| {
                let mut params = range_params.to_vec();
                if !span_id.is_empty() {
                    params.push(("span", span_id.clone()));
                }
                link(&format!("/trace/{trace_id}"), &params)
            });
            let position = file_position(row);
            let mut context = vec![
                ("t", row.time_unix_nano.to_string()),
                ("service", row.origin.service_name.clone()),
            ];
            if let Some((path, offset)) = &position {
                context.push(("path", path.clone()));
                context.push(("offset", offset.to_string()));
            }
            let scope = if row.origin.scope_version.is_empty() {
                row.origin.scope_name.clone()
            } else {
                format!("{} {}", row.origin.scope_name, row.origin.scope_version)
            };
            LogLine {
                time: format::time(row.time_unix_nano),
                time_ns: row.time_unix_nano,
                severity: severity_label(row),
                severity_class: severity_class(row.severity_number),
                service: row.origin.service_name.clone(),
                class: service_class(&row.origin.service_name),
                body: row.body_text(),
                attributes: key_values(&row.attributes),
                resource: key_values(&row.origin.resource_attributes),
                scope,
                trace_id,
                span_id,
                trace_href,
                context_href: link("/logs/context", &context),
                from_file: position.is_some(),
            }
        })
        .collect()
}
