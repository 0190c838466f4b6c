//! Appends spans to the columns of the `spans` table one at a time, from borrowed parts.
//!
//! The collector feeds it straight from the request bytes (no owned row per span: that
//! decode-then-copy was the largest cost of span ingest), and [`super::spans_to_batch`]
//! feeds it from [`SpanRow`]s, so both build byte-identical batches.
//!
//! Batches come out in the packed layout ([`super::packed_spans_schema`]): the layout of the
//! recent rows, the WAL's IPC records and the files alike, so a flush copies rows as they are.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Int32Builder, Int64Builder, RecordBatch, StringBuilder, UInt32Builder,
};

use super::columns::{ResourceLayout, append_hex, origin_columns};
use super::packed::packed_spans_schema;
use super::packed_builder::PackedAttributeColumns;
use crate::error::StorageError;
use crate::model::{Origin, SpanEvent, SpanLink};
use crate::value::AttrRef;

/// The scalar fields of one span, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct SpanFields<'a> {
    /// Trace id.
    pub trace_id: [u8; 16],
    /// Span id.
    pub span_id: [u8; 8],
    /// Parent span id, `None` for a root.
    pub parent_span_id: Option<[u8; 8]>,
    /// W3C tracestate.
    pub trace_state: &'a str,
    /// OTLP flags.
    pub flags: u32,
    /// Operation name.
    pub name: &'a str,
    /// OTLP span kind number.
    pub kind: i32,
    /// Start, ns since the epoch.
    pub start_time_unix_nano: i64,
    /// End, ns since the epoch.
    pub end_time_unix_nano: i64,
    /// Status code.
    pub status_code: i32,
    /// Status message.
    pub status_message: &'a str,
    /// Attributes dropped by the sender or our cap.
    pub dropped_attributes_count: u32,
    /// Events dropped.
    pub dropped_events_count: u32,
    /// Links dropped.
    pub dropped_links_count: u32,
}

/// Spans in the packed layout of the `spans` table, built only by [`SpanBatchBuilder`] so the schema is right.
#[derive(Debug, Clone)]
pub struct SpanBatch(RecordBatch);

impl SpanBatch {
    /// The Arrow batch.
    pub fn into_inner(self) -> RecordBatch {
        self.0
    }

    /// Number of spans.
    pub fn num_rows(&self) -> usize {
        self.0.num_rows()
    }
}

/// Column builders of the `spans` table.
pub struct SpanBatchBuilder {
    trace_id: StringBuilder,
    span_id: StringBuilder,
    parent_span_id: StringBuilder,
    trace_state: StringBuilder,
    flags: UInt32Builder,
    name: StringBuilder,
    kind: Int32Builder,
    start: Int64Builder,
    end: Int64Builder,
    duration: Int64Builder,
    status_code: Int32Builder,
    status_message: StringBuilder,
    attributes: PackedAttributeColumns,
    dropped_attributes: UInt32Builder,
    events: StringBuilder,
    dropped_events: UInt32Builder,
    links: StringBuilder,
    dropped_links: UInt32Builder,
    origins: Vec<Arc<Origin>>,
}

impl SpanBatchBuilder {
    /// Builders sized for about `capacity` spans.
    pub fn with_capacity(capacity: usize) -> Self {
        Self::with_capacity_and_bytes(capacity, 0)
    }

    /// Builders sized for about `capacity` spans taking about `encoded_bytes` of OTLP
    /// protobuf: the attribute map, most of a span's bytes, is reserved from that.
    pub fn with_capacity_and_bytes(capacity: usize, encoded_bytes: usize) -> Self {
        // The standard trace workload: ~490 bytes and ~15 attributes a span, a third of the
        // bytes keys and a third values. Over-reserving only costs address space (pages are
        // touched when written).
        let (key_bytes, value_bytes) = (encoded_bytes / 3, encoded_bytes / 3);
        SpanBatchBuilder {
            trace_id: StringBuilder::with_capacity(capacity, capacity * 32),
            span_id: StringBuilder::with_capacity(capacity, capacity * 16),
            parent_span_id: StringBuilder::with_capacity(capacity, capacity * 16),
            trace_state: StringBuilder::with_capacity(capacity, 0),
            flags: UInt32Builder::with_capacity(capacity),
            name: StringBuilder::with_capacity(capacity, capacity * 16),
            kind: Int32Builder::with_capacity(capacity),
            start: Int64Builder::with_capacity(capacity),
            end: Int64Builder::with_capacity(capacity),
            duration: Int64Builder::with_capacity(capacity),
            status_code: Int32Builder::with_capacity(capacity),
            status_message: StringBuilder::with_capacity(capacity, 0),
            attributes: PackedAttributeColumns::with_size(capacity, key_bytes, value_bytes),
            dropped_attributes: UInt32Builder::with_capacity(capacity),
            events: StringBuilder::with_capacity(capacity, 0),
            dropped_events: UInt32Builder::with_capacity(capacity),
            links: StringBuilder::with_capacity(capacity, 0),
            dropped_links: UInt32Builder::with_capacity(capacity),
            origins: Vec::with_capacity(capacity),
        }
    }

    /// Spans appended so far.
    pub fn len(&self) -> usize {
        self.origins.len()
    }

    /// True before the first span.
    pub fn is_empty(&self) -> bool {
        self.origins.is_empty()
    }

    /// Appends one span.
    pub fn append<'a>(
        &mut self,
        span: &SpanFields<'_>,
        attributes: impl Iterator<Item = (&'a str, AttrRef<'a>)> + Clone,
        events: &[SpanEvent],
        links: &[SpanLink],
        origin: &Arc<Origin>,
    ) {
        append_hex(&mut self.trace_id, &span.trace_id);
        append_hex(&mut self.span_id, &span.span_id);
        match &span.parent_span_id {
            Some(parent) => append_hex(&mut self.parent_span_id, parent),
            None => self.parent_span_id.append_null(),
        }
        self.trace_state.append_value(span.trace_state);
        self.flags.append_value(span.flags);
        self.name.append_value(span.name);
        self.kind.append_value(span.kind);
        self.start.append_value(span.start_time_unix_nano);
        self.end.append_value(span.end_time_unix_nano);
        self.duration.append_value(
            span.end_time_unix_nano
                .saturating_sub(span.start_time_unix_nano)
                .max(0),
        );
        self.status_code.append_value(span.status_code);
        self.status_message.append_value(span.status_message);
        self.attributes.append(attributes);
        self.dropped_attributes
            .append_value(span.dropped_attributes_count);
        append_json(&mut self.events, events);
        self.dropped_events.append_value(span.dropped_events_count);
        append_json(&mut self.links, links);
        self.dropped_links.append_value(span.dropped_links_count);
        self.origins.push(origin.clone());
    }

    /// The finished batch.
    pub fn finish(mut self) -> Result<SpanBatch, StorageError> {
        let [attributes_keys, attributes_values, attributes_typed] = self.attributes.finish()?;
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.trace_id.finish()),
            Arc::new(self.span_id.finish()),
            Arc::new(self.parent_span_id.finish()),
            Arc::new(self.trace_state.finish()),
            Arc::new(self.flags.finish()),
            Arc::new(self.name.finish()),
            Arc::new(self.kind.finish()),
            Arc::new(self.start.finish()),
            Arc::new(self.end.finish()),
            Arc::new(self.duration.finish()),
            Arc::new(self.status_code.finish()),
            Arc::new(self.status_message.finish()),
            attributes_keys,
            attributes_values,
            attributes_typed,
            Arc::new(self.dropped_attributes.finish()),
            Arc::new(self.events.finish()),
            Arc::new(self.dropped_events.finish()),
            Arc::new(self.links.finish()),
            Arc::new(self.dropped_links.finish()),
        ];
        columns.extend(origin_columns(
            self.origins.iter().map(Arc::as_ref),
            ResourceLayout::Packed,
        )?);
        Ok(SpanBatch(RecordBatch::try_new(
            packed_spans_schema(),
            columns,
        )?))
    }
}

/// Events and links as JSON, null when there are none.
fn append_json<T: serde::Serialize>(builder: &mut StringBuilder, items: &[T]) {
    match (!items.is_empty())
        .then(|| serde_json::to_string(items).ok())
        .flatten()
    {
        Some(json) => builder.append_value(json),
        None => builder.append_null(),
    }
}
