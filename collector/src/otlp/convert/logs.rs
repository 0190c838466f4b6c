//! `ExportLogsServiceRequest` → log rows.

use std::sync::Arc;

use periscope_storage::{LogRow, Origin};

use super::common::{
    Conversion, Limits, Rejection, any_value, attributes, check_time, origin, span_id, text,
    trace_id,
};
use crate::otlp::wire::collector::logs::v1::ExportLogsServiceRequest;
use crate::otlp::wire::logs::v1::LogRecord;

/// Converts every log record of the request; invalid ones are rejected individually.
/// Bad trace or span ids do not reject a log record: the ids are dropped and counted.
pub(crate) fn convert_logs(
    request: ExportLogsServiceRequest,
    limits: &Limits,
) -> (Conversion<Vec<LogRow>>, u64) {
    let mut conversion = Conversion::new();
    let mut dropped_ids = 0;
    for resource_logs in request.resource_logs {
        for scope_logs in resource_logs.scope_logs {
            let origin = origin(
                resource_logs.resource.as_ref(),
                scope_logs.scope.as_ref(),
                limits,
                &mut conversion,
            );
            for record in scope_logs.log_records {
                match convert_record(record, &origin, limits, &mut conversion, &mut dropped_ids) {
                    Ok(row) => conversion.rows.push(row),
                    Err(reason) => conversion.reject(reason),
                }
            }
        }
    }
    (conversion, dropped_ids)
}

fn convert_record(
    record: LogRecord,
    origin: &Arc<Origin>,
    limits: &Limits,
    conversion: &mut Conversion<Vec<LogRow>>,
    dropped_ids: &mut u64,
) -> Result<LogRow, Rejection> {
    // Time 0 means unknown: fall back to when it was observed, then to when we received it.
    let observed = match record.observed_time_unix_nano {
        0 => limits.now_unix_nano,
        observed => check_time(observed, limits)?,
    };
    let time = match record.time_unix_nano {
        0 => observed,
        time => check_time(time, limits)?,
    };
    let trace = match record.trace_id.as_slice() {
        [] => None,
        bytes => {
            let id = trace_id(bytes);
            *dropped_ids += u64::from(id.is_none());
            id
        }
    };
    let span = match record.span_id.as_slice() {
        [] => None,
        bytes => {
            let id = span_id(bytes);
            *dropped_ids += u64::from(id.is_none());
            id
        }
    };
    let body = any_value(record.body, 1, limits, conversion)?;
    let (record_attributes, dropped) = attributes(record.attributes, limits, conversion)?;
    Ok(LogRow {
        time_unix_nano: time,
        observed_time_unix_nano: observed,
        severity_number: record.severity_number,
        severity_text: text(record.severity_text, conversion),
        body,
        attributes: record_attributes,
        dropped_attributes_count: record.dropped_attributes_count.saturating_add(dropped),
        trace_id: trace,
        span_id: span,
        flags: record.flags,
        event_name: text(record.event_name, conversion),
        origin: origin.clone(),
    })
}
