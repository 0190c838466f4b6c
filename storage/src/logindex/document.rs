//! Converts a [`LogRow`] to the tantivy document that indexes it, and back.
//!
//! Search results are rebuilt only from the stored `source` field (the row as JSON), never from
//! the indexed fields, which are lossy by design (tokenized, lowercased, flattened).

use std::borrow::Cow;

use tantivy::TantivyDocument;
use tantivy::schema::{OwnedValue, Value};

use super::schema::LogFields;
use crate::error::StorageError;
use crate::model::LogRow;
use crate::value::{AttrValue, Attributes, attributes_to_plain_json};

/// Builds the document indexing `row`.
pub(crate) fn row_to_document(
    row: &LogRow,
    fields: &LogFields,
) -> Result<TantivyDocument, StorageError> {
    let mut doc = TantivyDocument::new();
    add_text_if_present(&mut doc, fields.body, &row.body_text());
    add_text_if_present(&mut doc, fields.service, &row.origin.service_name);
    add_text_if_present(&mut doc, fields.severity, &row.severity_text);
    doc.add_i64(fields.severity_number, i64::from(row.severity_number));
    if let Some(trace_id) = row.trace_id {
        doc.add_text(fields.trace_id, trace_id.to_hex());
    }
    if let Some(span_id) = row.span_id {
        doc.add_text(fields.span_id, span_id.to_hex());
    }
    doc.add_i64(fields.timestamp, row.time_unix_nano);
    add_json_if_present(&mut doc, fields.attributes, &row.attributes);
    add_json_if_present(&mut doc, fields.resource, &row.origin.resource_attributes);
    // Compact JSON (no whitespace); the doc store lz4-compresses blocks of documents, which
    // squeezes out the key names repeated from row to row.
    let source = serde_json::to_vec(&json_safe(row))?;
    doc.add_bytes(fields.source, &source);
    Ok(doc)
}

/// Rebuilds the row from a stored document.
pub(crate) fn document_to_row(
    doc: &TantivyDocument,
    fields: &LogFields,
) -> Result<LogRow, StorageError> {
    let source = doc
        .get_first(fields.source)
        .and_then(|value| value.as_bytes())
        .ok_or_else(|| StorageError::Corrupt("log index document has no source".to_string()))?;
    serde_json::from_slice(source)
        .map_err(|err| StorageError::Corrupt(format!("log index source does not decode: {err}")))
}

/// Empty strings would index an empty token that no query can usefully match.
fn add_text_if_present(doc: &mut TantivyDocument, field: tantivy::schema::Field, text: &str) {
    if !text.is_empty() {
        doc.add_text(field, text);
    }
}

fn add_json_if_present(
    doc: &mut TantivyDocument,
    field: tantivy::schema::Field,
    attributes: &Attributes,
) {
    if !attributes.is_empty() {
        let value = OwnedValue::from(attributes_to_plain_json(attributes));
        doc.add_field_value(field, &value);
    }
}

/// JSON has no NaN or infinity: serde_json writes them as `null`, which then fails to decode
/// as a double and would make the row unreadable. Such doubles are kept as their text instead
/// (the only lossy case); rows without them are not copied.
fn json_safe(row: &LogRow) -> Cow<'_, LogRow> {
    let all_finite = is_finite(&row.body)
        && row.attributes.iter().all(|(_, value)| is_finite(value))
        && row
            .origin
            .resource_attributes
            .iter()
            .all(|(_, value)| is_finite(value))
        && row
            .origin
            .scope_attributes
            .iter()
            .all(|(_, value)| is_finite(value));
    if all_finite {
        return Cow::Borrowed(row);
    }
    let mut safe = row.clone();
    replace_non_finite(&mut safe.body);
    let origin = std::sync::Arc::make_mut(&mut safe.origin);
    for (_, value) in safe
        .attributes
        .iter_mut()
        .chain(origin.resource_attributes.iter_mut())
        .chain(origin.scope_attributes.iter_mut())
    {
        replace_non_finite(value);
    }
    Cow::Owned(safe)
}

fn is_finite(value: &AttrValue) -> bool {
    match value {
        AttrValue::Double(number) => number.is_finite(),
        AttrValue::Array(items) => items.iter().all(is_finite),
        AttrValue::Map(entries) => entries.iter().all(|(_, value)| is_finite(value)),
        _ => true,
    }
}

fn replace_non_finite(value: &mut AttrValue) {
    match value {
        AttrValue::Double(number) if !number.is_finite() => {
            *value = AttrValue::Str(number.to_string());
        }
        AttrValue::Array(items) => items.iter_mut().for_each(replace_non_finite),
        AttrValue::Map(entries) => entries
            .iter_mut()
            .for_each(|(_, value)| replace_non_finite(value)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logindex::schema::build_schema;

    fn row_with(body: AttrValue, attributes: Attributes) -> LogRow {
        LogRow {
            time_unix_nano: 1,
            observed_time_unix_nano: 2,
            severity_number: 9,
            severity_text: "INFO".into(),
            body,
            attributes,
            dropped_attributes_count: 0,
            trace_id: None,
            span_id: None,
            flags: 0,
            event_name: String::new(),
            origin: Default::default(),
        }
    }

    #[test]
    fn finite_rows_round_trip_exactly() {
        let (_, fields) = build_schema();
        let row = row_with(
            AttrValue::Map(vec![("k".into(), AttrValue::Double(1.5))]),
            vec![("y".into(), AttrValue::Bytes(vec![0, 255]))],
        );
        let doc = row_to_document(&row, &fields).expect("document");
        assert_eq!(document_to_row(&doc, &fields).expect("row"), row);
    }

    #[test]
    fn non_finite_doubles_become_text_instead_of_breaking_the_row() {
        let (_, fields) = build_schema();
        let row = row_with(
            AttrValue::Double(f64::NAN),
            vec![(
                "a".into(),
                AttrValue::Array(vec![AttrValue::Double(f64::INFINITY), AttrValue::Int(1)]),
            )],
        );
        let doc = row_to_document(&row, &fields).expect("document");
        let back = document_to_row(&doc, &fields).expect("row");
        assert_eq!(back.body, AttrValue::Str("NaN".into()));
        assert_eq!(
            back.attributes[0].1,
            AttrValue::Array(vec![AttrValue::Str("inf".into()), AttrValue::Int(1)])
        );
    }
}
