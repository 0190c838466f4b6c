//! A span as slices of its request: the fields read in wire order, before any check.

use crate::otlp::proto_reader::{Fields, ProtoError, Value};

/// What a request's spans are converted in order of: trace id bytes (big-endian, so the
/// order of the hex text the flusher sorts by), then start time.
pub(super) type SortKey = ([u8; 16], u64);

/// Reads a span's [`SortKey`] without converting it. Encoders write fields in number order,
/// so this stops at the first field after the start time. Only an order: an id that is
/// missing or malformed sorts as zeros and is rejected by the conversion.
pub(super) fn sort_key(bytes: &[u8]) -> Result<SortKey, ProtoError> {
    let (mut trace_id, mut start) = ([0; 16], 0);
    let mut fields = Fields::new(bytes);
    while let Some((number, value)) = fields.next_field()? {
        match number {
            1 => trace_id = value.bytes()?.try_into().unwrap_or([0; 16]),
            7 => start = value.fixed64()?,
            8.. => break,
            _ => {}
        }
    }
    Ok((trace_id, start))
}

/// A span's fields as slices of the request, before any check.
#[derive(Default)]
pub(super) struct RawSpan<'a> {
    pub(super) trace_id: &'a [u8],
    pub(super) span_id: &'a [u8],
    pub(super) trace_state: &'a [u8],
    pub(super) parent_span_id: &'a [u8],
    pub(super) flags: u32,
    pub(super) name: &'a [u8],
    pub(super) kind: i32,
    pub(super) start: u64,
    pub(super) end: u64,
    pub(super) attributes: Vec<&'a [u8]>,
    pub(super) dropped_attributes_count: u32,
    pub(super) events: Vec<&'a [u8]>,
    pub(super) dropped_events_count: u32,
    pub(super) links: Vec<&'a [u8]>,
    pub(super) dropped_links_count: u32,
    pub(super) status_message: Option<&'a [u8]>,
    pub(super) status_code: i32,
}

impl<'a> RawSpan<'a> {
    /// Back to an empty span, keeping the lists' capacity.
    pub(super) fn clear(&mut self) {
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
    pub(super) fn set(&mut self, number: u32, value: Value<'a>) -> Result<(), ProtoError> {
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
