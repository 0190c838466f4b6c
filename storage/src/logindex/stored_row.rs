//! The compact binary forms of log rows: the row kept in the index's doc store, the origin
//! (resource and scope) documents it points to, and the rows of a WAL payload.
//!
//! JSON cost a serialisation per record and twice the bytes (key names, hex ids, numbers as
//! text, base64). This form writes lengths and integers as LEB128 varints, signed ones
//! zigzagged, ids as raw bytes and doubles as their 8 bytes, so every value round-trips exactly
//! (NaN and infinities included). A stored row names its origin by id (see
//! [`origins`](super::origins)): the rows of a service share one origin, which the index keeps
//! once. The record's time is not stored here: the index keeps it in the `timestamp` fast
//! field (about a byte a row there, against nine that compress poorly here), and reading a row
//! takes it back.
//!
//! ```text
//! row    = ROW_FORMAT origin_id:u64 LE record
//! origin = str(service) attrs(resource) str(scope name) str(scope version) attrs(scope)
//! record = zigzag(observed - time) zigzag(severity number) str(severity text)
//!          value(body) attrs(attributes) varint(dropped) u8(ids present: 1 trace, 2 span)
//!          [16 trace id bytes] [8 span id bytes] varint(flags) str(event name)
//! attrs  = varint(count) (str(key) value)*
//! value  = tag:u8 payload (0 str, 1 bool, 2 zigzag int, 3 f64 LE, 4 bytes, 5 array, 6 map, 7 empty)
//! ```

use std::sync::Arc;

use crate::error::StorageError;
use crate::model::{LogRow, Origin, SpanId, TraceId};
use crate::value::{AttrValue, Attributes};
use crate::varint::{put_bytes, put_varint, take_varint};

/// First byte of a WAL payload of rows; a new layout gets a new number.
const FORMAT: u8 = 1;

/// First byte of a row in the doc store. Format 1 carried the origin inline; indexes of that
/// layout have another schema and are refused when opened.
const ROW_FORMAT: u8 = 2;

/// Deepest nesting decoded. Ingest caps nesting far below this; the guard only keeps a
/// corrupt document from recursing without bound.
const MAX_DEPTH: usize = 128;

const TAG_STR: u8 = 0;
const TAG_BOOL: u8 = 1;
const TAG_INT: u8 = 2;
const TAG_DOUBLE: u8 = 3;
const TAG_BYTES: u8 = 4;
const TAG_ARRAY: u8 = 5;
const TAG_MAP: u8 = 6;
const TAG_EMPTY: u8 = 7;

const HAS_TRACE_ID: u8 = 1;
const HAS_SPAN_ID: u8 = 2;

/// Encodes `origin` (the part rows of one request share).
pub(crate) fn encode_origin(origin: &Origin, out: &mut Vec<u8>) {
    put_str(out, &origin.service_name);
    put_attributes(out, &origin.resource_attributes);
    put_str(out, &origin.scope_name);
    put_str(out, &origin.scope_version);
    put_attributes(out, &origin.scope_attributes);
}

/// Encodes `row`, all but its time, naming its origin by `origin_id`.
pub(crate) fn encode_row(row: &LogRow, origin_id: u64, out: &mut Vec<u8>) {
    out.push(ROW_FORMAT);
    out.extend_from_slice(&origin_id.to_le_bytes());
    put_record(row, out);
}

/// The part of a row that is its own: everything but the origin and the time.
fn put_record(row: &LogRow, out: &mut Vec<u8>) {
    put_signed(
        out,
        row.observed_time_unix_nano.wrapping_sub(row.time_unix_nano),
    );
    put_signed(out, i64::from(row.severity_number));
    put_str(out, &row.severity_text);
    put_value(out, &row.body);
    put_attributes(out, &row.attributes);
    put_varint(out, u64::from(row.dropped_attributes_count));
    let ids = if row.trace_id.is_some() {
        HAS_TRACE_ID
    } else {
        0
    } | if row.span_id.is_some() {
        HAS_SPAN_ID
    } else {
        0
    };
    out.push(ids);
    if let Some(trace_id) = row.trace_id {
        out.extend_from_slice(&trace_id.0);
    }
    if let Some(span_id) = row.span_id {
        out.extend_from_slice(&span_id.0);
    }
    put_varint(out, u64::from(row.flags));
    put_str(out, &row.event_name);
}

/// Encodes the rows of one request as a WAL payload: each distinct origin once, then every
/// row as its origin's index, its time and its record. Building Arrow columns and an IPC
/// stream instead cost a tenth of log ingest's CPU, for rows that only the indexer reads.
///
/// ```text
/// rows = FORMAT varint(origins) bytes(origin)* varint(rows) (varint(origin index) zigzag(time) record)*
/// ```
pub(crate) fn encode_rows(rows: &[LogRow], out: &mut Vec<u8>) {
    let mut origins: Vec<&Arc<Origin>> = Vec::new();
    let mut indexes = Vec::with_capacity(rows.len());
    for row in rows {
        // Rows of one OTLP group share their Arc, and a request has few groups.
        let index = origins
            .iter()
            .position(|origin| Arc::ptr_eq(origin, &row.origin) || **origin == row.origin)
            .unwrap_or_else(|| {
                origins.push(&row.origin);
                origins.len() - 1
            });
        indexes.push(index);
    }
    out.push(FORMAT);
    put_varint(out, origins.len() as u64);
    let mut origin_bytes = Vec::new();
    for origin in &origins {
        origin_bytes.clear();
        encode_origin(origin, &mut origin_bytes);
        put_bytes(out, &origin_bytes);
    }
    put_varint(out, rows.len() as u64);
    for (row, index) in rows.iter().zip(indexes) {
        put_varint(out, index as u64);
        put_signed(out, row.time_unix_nano);
        put_record(row, out);
    }
}

/// Decodes rows written by [`encode_rows`]; rows of one origin share its `Arc` again.
pub(crate) fn decode_rows(bytes: &[u8]) -> Result<Vec<LogRow>, StorageError> {
    let mut reader = Reader { bytes, depth: 0 };
    reader.format(FORMAT)?;
    let origin_count = reader.length()?;
    let mut origins = Vec::with_capacity(origin_count);
    for _ in 0..origin_count {
        let len = reader.length()?;
        origins.push(Arc::new(Reader::origin(reader.take(len)?)?));
    }
    let row_count = reader.length()?;
    let mut rows = Vec::with_capacity(row_count);
    for _ in 0..row_count {
        let origin = usize::try_from(reader.varint()?)
            .ok()
            .and_then(|index| origins.get(index))
            .ok_or_else(|| corrupt("origin index out of range".to_string()))?;
        let time_unix_nano = reader.signed()?;
        rows.push(reader.record(origin.clone(), time_unix_nano)?);
    }
    reader.finish()?;
    Ok(rows)
}

/// Decodes a row written by [`encode_row`], whose time is `time_unix_nano`; `origin` finds
/// the origin the row names.
pub(crate) fn decode_row(
    bytes: &[u8],
    time_unix_nano: i64,
    origin: impl FnOnce(u64) -> Result<Arc<Origin>, StorageError>,
) -> Result<LogRow, StorageError> {
    let mut reader = Reader { bytes, depth: 0 };
    reader.format(ROW_FORMAT)?;
    let origin_id = u64::from_le_bytes(reader.array()?);
    let row = reader.record(origin(origin_id)?, time_unix_nano)?;
    reader.finish()?;
    Ok(row)
}

/// Decodes an origin written by [`encode_origin`].
pub(crate) fn decode_origin(bytes: &[u8]) -> Result<Origin, StorageError> {
    Reader::origin(bytes)
}

fn put_signed(out: &mut Vec<u8>, value: i64) {
    put_varint(out, ((value << 1) ^ (value >> 63)) as u64);
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_bytes(out, text.as_bytes());
}

fn put_attributes(out: &mut Vec<u8>, attributes: &Attributes) {
    put_varint(out, attributes.len() as u64);
    for (key, value) in attributes {
        put_str(out, key);
        put_value(out, value);
    }
}

fn put_value(out: &mut Vec<u8>, value: &AttrValue) {
    match value {
        AttrValue::Str(text) => {
            out.push(TAG_STR);
            put_str(out, text);
        }
        AttrValue::Bool(flag) => {
            out.push(TAG_BOOL);
            out.push(u8::from(*flag));
        }
        AttrValue::Int(number) => {
            out.push(TAG_INT);
            put_signed(out, *number);
        }
        AttrValue::Double(number) => {
            out.push(TAG_DOUBLE);
            out.extend_from_slice(&number.to_le_bytes());
        }
        AttrValue::Bytes(bytes) => {
            out.push(TAG_BYTES);
            put_bytes(out, bytes);
        }
        AttrValue::Array(items) => {
            out.push(TAG_ARRAY);
            put_varint(out, items.len() as u64);
            for item in items {
                put_value(out, item);
            }
        }
        AttrValue::Map(entries) => {
            out.push(TAG_MAP);
            put_attributes(out, entries);
        }
        AttrValue::Empty => out.push(TAG_EMPTY),
    }
}

fn corrupt(message: String) -> StorageError {
    StorageError::Corrupt(format!("stored log row: {message}"))
}

/// Reads the encoding back; every read checks the bounds, so corrupt bytes give an error.
struct Reader<'a> {
    bytes: &'a [u8],
    depth: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], StorageError> {
        if len > self.bytes.len() {
            return Err(corrupt("truncated".to_string()));
        }
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, StorageError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], StorageError> {
        let mut array = [0; N];
        array.copy_from_slice(self.take(N)?);
        Ok(array)
    }

    fn varint(&mut self) -> Result<u64, StorageError> {
        take_varint(&mut self.bytes).map_err(|problem| corrupt(problem.to_string()))
    }

    fn signed(&mut self) -> Result<i64, StorageError> {
        let value = self.varint()?;
        Ok(((value >> 1) as i64) ^ -((value & 1) as i64))
    }

    fn u32(&mut self) -> Result<u32, StorageError> {
        u32::try_from(self.varint()?).map_err(|_| corrupt("count out of range".to_string()))
    }

    /// A length, which can never exceed the bytes left (each element takes at least one).
    fn length(&mut self) -> Result<usize, StorageError> {
        let len = self.varint()?;
        usize::try_from(len)
            .ok()
            .filter(|&len| len <= self.bytes.len())
            .ok_or_else(|| corrupt("length past the end".to_string()))
    }

    fn string(&mut self) -> Result<String, StorageError> {
        let len = self.length()?;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| corrupt("text is not UTF-8".to_string()))
    }

    fn attributes(&mut self) -> Result<Attributes, StorageError> {
        let count = self.length()?;
        let mut attributes = Vec::with_capacity(count);
        for _ in 0..count {
            let key = self.string()?;
            attributes.push((key, self.value()?));
        }
        Ok(attributes)
    }

    fn value(&mut self) -> Result<AttrValue, StorageError> {
        Ok(match self.byte()? {
            TAG_STR => AttrValue::Str(self.string()?),
            TAG_BOOL => AttrValue::Bool(self.byte()? != 0),
            TAG_INT => AttrValue::Int(self.signed()?),
            TAG_DOUBLE => AttrValue::Double(f64::from_le_bytes(self.array()?)),
            TAG_BYTES => {
                let len = self.length()?;
                AttrValue::Bytes(self.take(len)?.to_vec())
            }
            TAG_ARRAY | TAG_MAP if self.depth >= MAX_DEPTH => {
                return Err(corrupt(format!("nested deeper than {MAX_DEPTH} levels")));
            }
            TAG_ARRAY => {
                self.depth += 1;
                let count = self.length()?;
                let mut items = Vec::with_capacity(count);
                for _ in 0..count {
                    items.push(self.value()?);
                }
                self.depth -= 1;
                AttrValue::Array(items)
            }
            TAG_MAP => {
                self.depth += 1;
                let entries = self.attributes()?;
                self.depth -= 1;
                AttrValue::Map(entries)
            }
            TAG_EMPTY => AttrValue::Empty,
            tag => return Err(corrupt(format!("unknown value tag {tag}"))),
        })
    }

    fn format(&mut self, expected: u8) -> Result<(), StorageError> {
        match self.byte()? {
            format if format == expected => Ok(()),
            format => Err(corrupt(format!("unknown stored log row format {format}"))),
        }
    }

    /// An origin written by [`encode_origin`], all of `bytes`.
    fn origin(bytes: &[u8]) -> Result<Origin, StorageError> {
        let mut reader = Reader { bytes, depth: 0 };
        let origin = Origin {
            service_name: reader.string()?,
            resource_attributes: reader.attributes()?,
            scope_name: reader.string()?,
            scope_version: reader.string()?,
            scope_attributes: reader.attributes()?,
        };
        reader.finish()?;
        Ok(origin)
    }

    /// A record written by [`put_record`].
    fn record(&mut self, origin: Arc<Origin>, time_unix_nano: i64) -> Result<LogRow, StorageError> {
        let observed_time_unix_nano = time_unix_nano.wrapping_add(self.signed()?);
        let severity_number = i32::try_from(self.signed()?)
            .map_err(|_| corrupt("severity number out of range".to_string()))?;
        let severity_text = self.string()?;
        let body = self.value()?;
        let attributes = self.attributes()?;
        let dropped_attributes_count = self.u32()?;
        let ids = self.byte()?;
        let trace_id = if ids & HAS_TRACE_ID != 0 {
            Some(TraceId(self.array()?))
        } else {
            None
        };
        let span_id = if ids & HAS_SPAN_ID != 0 {
            Some(SpanId(self.array()?))
        } else {
            None
        };
        let flags = self.u32()?;
        let event_name = self.string()?;
        Ok(LogRow {
            time_unix_nano,
            observed_time_unix_nano,
            severity_number,
            severity_text,
            body,
            attributes,
            dropped_attributes_count,
            trace_id,
            span_id,
            flags,
            event_name,
            origin,
        })
    }

    fn finish(&self) -> Result<(), StorageError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(corrupt(format!("{} bytes left over", self.bytes.len())))
        }
    }
}

#[cfg(test)]
mod tests;
