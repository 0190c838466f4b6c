//! Converts a [`LogRow`] to the tantivy documents that index it, and back.
//!
//! Search results are rebuilt only from the stored `source` field (the row in the compact
//! form of [`stored_row`](super::stored_row)) and the origin it names, never from the indexed
//! fields, which are lossy by design (tokenized, lowercased, flattened).

use std::collections::HashSet;
use std::sync::Arc;

use tantivy::TantivyDocument;
use tantivy::schema::document::{ReferenceValue, ReferenceValueLeaf};
use tantivy::schema::{Field, Value};

use super::origins::{ORIGIN_DOCUMENT, origin_id};
use super::schema::LogFields;
use super::stored_row::{decode_row, encode_origin, encode_row};
use crate::error::StorageError;
use crate::model::{LogRow, Origin};
use crate::value::AttrValue;

/// Builds documents. Knows which origins the index holds (or will at the next commit), and
/// remembers the id of the last origin: the rows of one request share it, so it is encoded
/// and hashed once per request rather than once per row.
pub(crate) struct DocumentBuilder {
    known_origins: HashSet<u64>,
    origin: Option<Arc<Origin>>,
    origin_id: u64,
    source: Vec<u8>,
}

impl DocumentBuilder {
    /// A builder for an index that holds the origins `known_origins`.
    pub(crate) fn new(known_origins: HashSet<u64>) -> DocumentBuilder {
        DocumentBuilder {
            known_origins,
            origin: None,
            origin_id: ORIGIN_DOCUMENT,
            source: Vec::new(),
        }
    }

    /// Pushes the document indexing `row` to `out`, after the origin document of the row's
    /// origin if the index does not hold it yet.
    pub(crate) fn build(
        &mut self,
        row: &LogRow,
        fields: &LogFields,
        out: &mut Vec<TantivyDocument>,
    ) {
        let same_origin = self
            .origin
            .as_ref()
            .is_some_and(|origin| Arc::ptr_eq(origin, &row.origin) || **origin == *row.origin);
        if !same_origin {
            let mut encoded = Vec::new();
            encode_origin(&row.origin, &mut encoded);
            self.origin_id = origin_id(&encoded);
            self.origin = Some(row.origin.clone());
            if self.known_origins.insert(self.origin_id) {
                out.push(origin_document(row, self.origin_id, &encoded, fields));
            }
        }
        let mut doc = TantivyDocument::new();
        match &row.body {
            AttrValue::Str(text) => add_text_if_present(&mut doc, fields.body, text),
            other => add_text_if_present(&mut doc, fields.body, &other.to_display_string()),
        }
        add_text_if_present(&mut doc, fields.service, &row.origin.service_name);
        add_text_if_present(&mut doc, fields.severity, &row.severity_text);
        doc.add_i64(fields.severity_number, i64::from(row.severity_number));
        if let Some(trace_id) = row.trace_id {
            let mut hex = [0u8; 32];
            doc.add_text(fields.trace_id, hex_str(&trace_id.0, &mut hex));
        }
        if let Some(span_id) = row.span_id {
            let mut hex = [0u8; 16];
            doc.add_text(fields.span_id, hex_str(&span_id.0, &mut hex));
        }
        doc.add_i64(fields.timestamp, row.time_unix_nano);
        add_object_if_present(&mut doc, fields.attributes, &row.attributes);
        doc.add_u64(fields.origin, self.origin_id);
        self.source.clear();
        encode_row(row, self.origin_id, &mut self.source);
        doc.add_bytes(fields.source, &self.source);
        out.push(doc);
    }
}

/// The document that indexes an origin's resource and stores the origin, `encoded`.
fn origin_document(row: &LogRow, id: u64, encoded: &[u8], fields: &LogFields) -> TantivyDocument {
    let mut doc = TantivyDocument::new();
    doc.add_u64(fields.origin, ORIGIN_DOCUMENT);
    doc.add_u64(fields.origin_id, id);
    // The record fast fields get a value too (the first record's time, "unspecified"
    // severity): a column that some documents lack is stored as optional, and every read
    // of it (time ranges, the sort by time, histograms) then goes through a rank lookup,
    // which made the logs page twice as slow at 10M records. Queries that could match an
    // origin document exclude them (`query.rs`).
    doc.add_i64(fields.timestamp, row.time_unix_nano);
    doc.add_i64(fields.severity_number, 0);
    add_object_if_present(&mut doc, fields.resource, &row.origin.resource_attributes);
    doc.add_bytes(fields.source, encoded);
    doc
}

/// Rebuilds the row from a stored document and its `timestamp` fast-field value; `origin`
/// finds the origin the row names by its id.
pub(crate) fn document_to_row(
    doc: &TantivyDocument,
    fields: &LogFields,
    time_unix_nano: i64,
    origin: impl FnOnce(u64) -> Result<Arc<Origin>, StorageError>,
) -> Result<LogRow, StorageError> {
    let source = doc
        .get_first(fields.source)
        .and_then(|value| value.as_bytes())
        .ok_or_else(|| StorageError::Corrupt("log index document has no source".to_string()))?;
    decode_row(source, time_unix_nano, origin)
}

/// Lowercase hex of `bytes` in `out` (twice as long), without allocating.
fn hex_str<'a>(bytes: &[u8], out: &'a mut [u8]) -> &'a str {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (byte, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0xf)];
    }
    std::str::from_utf8(out).unwrap_or_default()
}

/// Empty strings would index an empty token that no query can usefully match.
fn add_text_if_present(doc: &mut TantivyDocument, field: Field, text: &str) {
    if !text.is_empty() {
        doc.add_text(field, text);
    }
}

fn add_object_if_present(
    doc: &mut TantivyDocument,
    field: Field,
    attributes: &[(String, AttrValue)],
) {
    if !attributes.is_empty() {
        doc.add_field_value(field, JsonNode::Object(attributes));
    }
}

/// Attributes seen as a JSON object by tantivy, straight from the row: no intermediate JSON
/// tree is built per record.
#[derive(Debug, Clone, Copy)]
enum JsonNode<'a> {
    Object(&'a [(String, AttrValue)]),
    Value(&'a AttrValue),
}

type Entry = (String, AttrValue);

fn entry_node(entry: &Entry) -> (&str, JsonNode<'_>) {
    (entry.0.as_str(), JsonNode::Value(&entry.1))
}

impl<'a> Value<'a> for JsonNode<'a> {
    type ArrayIter = std::iter::Map<std::slice::Iter<'a, AttrValue>, fn(&'a AttrValue) -> Self>;
    type ObjectIter = std::iter::Map<std::slice::Iter<'a, Entry>, fn(&'a Entry) -> (&'a str, Self)>;

    fn as_value(&self) -> ReferenceValue<'a, Self> {
        let value = match *self {
            JsonNode::Object(entries) => {
                return ReferenceValue::Object(entries.iter().map(entry_node as fn(_) -> _));
            }
            JsonNode::Value(value) => value,
        };
        match value {
            AttrValue::Str(text) => ReferenceValue::Leaf(ReferenceValueLeaf::Str(text)),
            AttrValue::Bool(flag) => ReferenceValue::Leaf(ReferenceValueLeaf::Bool(*flag)),
            AttrValue::Int(number) => ReferenceValue::Leaf(ReferenceValueLeaf::I64(*number)),
            AttrValue::Double(number) => ReferenceValue::Leaf(ReferenceValueLeaf::F64(*number)),
            // Tantivy's JSON fields cannot index bytes (it panics); they stay readable in the
            // stored row, just not searchable.
            AttrValue::Bytes(_) | AttrValue::Empty => {
                ReferenceValue::Leaf(ReferenceValueLeaf::Null)
            }
            AttrValue::Array(items) => {
                ReferenceValue::Array(items.iter().map(JsonNode::Value as fn(_) -> _))
            }
            AttrValue::Map(entries) => {
                ReferenceValue::Object(entries.iter().map(entry_node as fn(_) -> _))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logindex::schema::build_schema;
    use crate::model::{SpanId, TraceId};

    fn row_with(body: AttrValue, origin: Origin) -> LogRow {
        LogRow {
            time_unix_nano: 1,
            observed_time_unix_nano: 2,
            severity_number: 9,
            severity_text: "INFO".into(),
            body,
            attributes: vec![("y".into(), AttrValue::Bytes(vec![0, 255]))],
            dropped_attributes_count: 0,
            trace_id: TraceId::from_hex("0af7651916cd43dd8448eb211c80319c"),
            span_id: SpanId::from_hex("b7ad6b7169203331"),
            flags: 0,
            event_name: String::new(),
            origin: Arc::new(origin),
        }
    }

    #[test]
    fn rows_round_trip_through_documents_whatever_the_origin_order() {
        let (_, fields) = build_schema();
        let first = Origin {
            service_name: "a".into(),
            ..Origin::default()
        };
        let second = Origin {
            service_name: "b".into(),
            ..Origin::default()
        };
        let mut builder = DocumentBuilder::new(HashSet::new());
        let mut origins = std::collections::HashMap::new();
        // The cached origin must follow the row's, back and forth, and each origin gets
        // one origin document, before the first record that names it.
        for origin in [&first, &first, &second, &first] {
            let row = row_with(AttrValue::Str("text".into()), origin.clone());
            let mut docs = Vec::new();
            builder.build(&row, &fields, &mut docs);
            let record = docs.pop().expect("a record document");
            for origin_doc in docs {
                let id = origin_doc
                    .get_first(fields.origin_id)
                    .and_then(|v| v.as_u64());
                let bytes = origin_doc
                    .get_first(fields.source)
                    .and_then(|v| v.as_bytes());
                let decoded = super::super::stored_row::decode_origin(bytes.expect("stored"));
                origins.insert(id.expect("id"), Arc::new(decoded.expect("origin")));
            }
            let back = document_to_row(&record, &fields, row.time_unix_nano, |id| {
                origins
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| StorageError::Corrupt("no origin".into()))
            });
            assert_eq!(back.expect("row"), row);
        }
        assert_eq!(origins.len(), 2);
    }

    #[test]
    fn ids_are_indexed_as_lowercase_hex() {
        let mut out = [0u8; 4];
        assert_eq!(hex_str(&[0xab, 0x01], &mut out), "ab01");
    }
}
