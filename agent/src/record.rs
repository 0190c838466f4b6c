//! Records → OTLP: each record gets its file attributes, and a source's records are grouped
//! into one `ExportLogsServiceRequest` with the source's resource.

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as OtlpValue;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message as _;

use crate::buffer::{BufferEntry, FileMark, Signal};
use crate::multiline::RawRecord;
use crate::parse::Parsed;
use crate::tail::{FileKey, Fingerprint};

/// Turns a record and its parse result into an OTLP log record.
pub fn log_record(raw: &RawRecord, parsed: Parsed, observed_unix_nano: u64) -> LogRecord {
    let mut attributes = parsed.attributes;
    let name = raw
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    attributes.push(kv(
        "log.file.path",
        string(raw.path.to_string_lossy().into_owned()),
    ));
    attributes.push(kv("log.file.name", string(name)));
    attributes.push(kv(
        "log.file.offset",
        AnyValue {
            value: Some(OtlpValue::IntValue(
                i64::try_from(raw.offset).unwrap_or(i64::MAX),
            )),
        },
    ));
    if raw.truncated {
        attributes.push(kv(
            "log.truncated",
            AnyValue {
                value: Some(OtlpValue::BoolValue(true)),
            },
        ));
    }
    LogRecord {
        time_unix_nano: parsed.time_unix_nano,
        observed_time_unix_nano: observed_unix_nano,
        severity_number: parsed.severity_number,
        severity_text: parsed.severity_text,
        body: Some(parsed.body),
        attributes,
        dropped_attributes_count: parsed.dropped_attributes,
        flags: parsed.flags,
        trace_id: parsed.trace_id,
        span_id: parsed.span_id,
        ..LogRecord::default()
    }
}

fn kv(key: &str, value: AnyValue) -> KeyValue {
    crate::parse::key_value(key.to_string(), value)
}

fn string(text: String) -> AnyValue {
    AnyValue {
        value: Some(OtlpValue::StringValue(text)),
    }
}

/// Nanoseconds since the epoch, now.
pub fn now_unix_nano() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The resource every record of a source carries.
pub fn resource(host_name: &str, service_name: &str, extra: &BTreeMap<String, String>) -> Resource {
    let mut attributes = vec![
        kv("service.name", string(service_name.to_string())),
        kv("host.name", string(host_name.to_string())),
    ];
    for (key, value) in extra {
        if key != "service.name" && key != "host.name" {
            attributes.push(kv(key, string(value.clone())));
        }
    }
    Resource {
        attributes,
        ..Resource::default()
    }
}

/// Limits on one batch.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    /// Encoded bytes.
    pub max_bytes: usize,
    /// Records.
    pub max_records: usize,
    /// Age of the oldest record or mark.
    pub timeout: std::time::Duration,
}

/// A source's records and checkpoint marks on their way to the disk buffer.
#[derive(Debug)]
pub struct Batch {
    source: String,
    resource: Resource,
    limits: BatchLimits,
    records: Vec<LogRecord>,
    bytes: usize,
    marks: BTreeMap<FileKey, FileMark>,
    opened_at: Option<Instant>,
    /// Flush even if empty (records that the source now exists).
    force: bool,
}

impl Batch {
    /// An empty batch for `source`.
    pub fn new(source: String, resource: Resource, limits: BatchLimits) -> Self {
        Self {
            source,
            resource,
            limits,
            records: Vec::new(),
            bytes: 0,
            marks: BTreeMap::new(),
            opened_at: None,
            force: false,
        }
    }

    /// Makes the next flush happen even without content.
    pub fn force_flush(&mut self, now: Instant) {
        self.force = true;
        self.opened_at.get_or_insert(now);
    }

    /// Records that everything of file `key` before `offset` is covered by this batch.
    pub fn mark(
        &mut self,
        key: FileKey,
        fingerprint: Fingerprint,
        path: &std::path::Path,
        offset: u64,
        now: Instant,
    ) {
        self.opened_at.get_or_insert(now);
        let mark = self.marks.entry(key).or_insert_with(|| FileMark {
            key,
            fingerprint,
            offset,
            path: path.to_string_lossy().into_owned(),
        });
        mark.fingerprint = fingerprint;
        mark.offset = offset;
        if *mark.path != *path.to_string_lossy() {
            mark.path = path.to_string_lossy().into_owned();
        }
    }

    /// Adds a record; custody of its file up to `raw.end` comes with it.
    pub fn push(&mut self, raw: &RawRecord, record: LogRecord, now: Instant) {
        self.bytes += record.encoded_len() + 4;
        self.records.push(record);
        self.mark(raw.key, raw.fingerprint, &raw.path, raw.end, now);
    }

    /// Whether a limit is reached.
    pub fn is_due(&self, now: Instant) -> bool {
        if self.records.len() >= self.limits.max_records || self.bytes >= self.limits.max_bytes {
            return true;
        }
        self.opened_at
            .is_some_and(|opened| now.duration_since(opened) >= self.limits.timeout)
    }

    /// Whether nothing would be flushed.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.marks.is_empty() && !self.force
    }

    /// Takes the content as a buffer entry; `None` when empty.
    pub fn take(&mut self) -> Option<BufferEntry> {
        if self.is_empty() {
            return None;
        }
        self.opened_at = None;
        self.force = false;
        self.bytes = 0;
        let records = std::mem::take(&mut self.records);
        let num_records = records.len() as u32;
        let payload = if records.is_empty() {
            Vec::new()
        } else {
            ExportLogsServiceRequest {
                resource_logs: vec![ResourceLogs {
                    resource: Some(self.resource.clone()),
                    scope_logs: vec![ScopeLogs {
                        scope: Some(InstrumentationScope {
                            name: "periscope-agent".to_string(),
                            version: env!("CARGO_PKG_VERSION").to_string(),
                            ..InstrumentationScope::default()
                        }),
                        log_records: records,
                        ..ScopeLogs::default()
                    }],
                    ..ResourceLogs::default()
                }],
            }
            .encode_to_vec()
        };
        Some(BufferEntry {
            signal: Signal::Logs,
            num_records,
            source: self.source.clone(),
            marks: std::mem::take(&mut self.marks).into_values().collect(),
            payload: payload.into(),
        })
    }
}
