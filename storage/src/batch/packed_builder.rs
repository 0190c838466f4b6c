//! Builds attribute columns straight in the packed layout (see [`super::packed`]): the
//! conversion of a request writes each key and value once, as a length and its bytes, and
//! the flush then copies whole rows instead of packing map entries one by one.
//!
//! Why in the workers and not at the flush: packing the recent rows' maps was ~40 % of a
//! flush (a `StringArray` offset read, a varint and a copy per entry), on top of the map
//! builders' offsets and validity bits per entry while converting. Built packed, a span's
//! attributes cost one append per key and value, and a repeated resource one copy of its
//! already-packed bytes per row.

use std::sync::Arc;

use arrow::array::{ArrayRef, BinaryArray, StringBuilder};
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};

use crate::error::StorageError;
use crate::value::{AttrRef, write_typed_codes};
use crate::varint::put_bytes;

/// A binary column of packed rows, written entry by entry: no scratch copy of a row.
pub(crate) struct PackedColumn {
    offsets: Vec<i32>,
    bytes: Vec<u8>,
}

impl PackedColumn {
    /// Room for `rows` rows of about `bytes` bytes (a length above 127 bytes takes more than
    /// the one byte counted per entry; the buffer then grows).
    pub(crate) fn with_size(rows: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        PackedColumn {
            offsets,
            bytes: Vec::with_capacity(bytes),
        }
    }

    /// Appends one entry (a length and its bytes) to the current row.
    pub(crate) fn put(&mut self, text: &[u8]) {
        put_bytes(&mut self.bytes, text);
    }

    /// Appends entries already packed to the current row.
    pub(crate) fn put_packed(&mut self, packed: &[u8]) {
        self.bytes.extend_from_slice(packed);
    }

    /// Ends the current row. Past 2 GiB the offsets saturate and [`Self::finish`] fails.
    pub(crate) fn end_row(&mut self) {
        self.offsets
            .push(i32::try_from(self.bytes.len()).unwrap_or(i32::MAX));
    }

    pub(crate) fn finish(self) -> Result<BinaryArray, StorageError> {
        // Binary offsets are 32-bit, as in every Utf8 column: a batch's attributes over
        // 2 GiB fail (as Arrow's own builders would) rather than wrap.
        if i32::try_from(self.bytes.len()).is_err() {
            return Err(StorageError::Arrow(
                arrow::error::ArrowError::OffsetOverflowError(self.bytes.len()),
            ));
        }
        Ok(BinaryArray::new(
            OffsetBuffer::new(ScalarBuffer::from(self.offsets)),
            Buffer::from_vec(self.bytes),
            None,
        ))
    }
}

/// One attributes column in the packed layout: its keys, its values (display text) and the
/// `_typed` companion of the map layout, unchanged.
pub(crate) struct PackedAttributeColumns {
    keys: PackedColumn,
    values: PackedColumn,
    typed: StringBuilder,
    /// A non-string value's display text, before its length is known.
    scratch: String,
}

/// One row's attributes, packed once and appended to many rows (a resource).
#[derive(Debug, Clone, Default)]
pub(crate) struct PackedRow {
    keys: Vec<u8>,
    values: Vec<u8>,
    typed: Option<String>,
}

impl PackedRow {
    /// `pairs` packed.
    pub(crate) fn new<'a>(pairs: impl Iterator<Item = (&'a str, AttrRef<'a>)> + Clone) -> Self {
        let mut row = PackedRow::default();
        let mut scratch = String::new();
        for (key, value) in pairs.clone() {
            put_bytes(&mut row.keys, key.as_bytes());
            put_bytes(&mut row.values, display(value, &mut scratch));
        }
        let mut typed = String::new();
        if write_typed_codes(pairs.map(|(_, value)| value), &mut typed) {
            row.typed = Some(typed);
        }
        row
    }

    /// Bytes of packed keys and values.
    pub(crate) fn packed_bytes(&self) -> (usize, usize) {
        (self.keys.len(), self.values.len())
    }
}

impl PackedAttributeColumns {
    /// Room for `rows` rows holding about `key_bytes` and `value_bytes` (lengths included).
    pub(crate) fn with_size(rows: usize, key_bytes: usize, value_bytes: usize) -> Self {
        PackedAttributeColumns {
            keys: PackedColumn::with_size(rows, key_bytes),
            values: PackedColumn::with_size(rows, value_bytes),
            typed: StringBuilder::with_capacity(rows, 0),
            scratch: String::new(),
        }
    }

    /// Appends one row's attributes.
    pub(crate) fn append<'a>(
        &mut self,
        pairs: impl Iterator<Item = (&'a str, AttrRef<'a>)> + Clone,
    ) {
        for (key, value) in pairs.clone() {
            self.keys.put(key.as_bytes());
            self.values.put(display(value, &mut self.scratch));
        }
        self.keys.end_row();
        self.values.end_row();
        if write_typed_codes(pairs.map(|(_, value)| value), &mut self.typed) {
            self.typed.append_value("");
        } else {
            self.typed.append_null();
        }
    }

    /// Appends one row packed before.
    pub(crate) fn append_packed(&mut self, row: &PackedRow) {
        self.keys.put_packed(&row.keys);
        self.values.put_packed(&row.values);
        self.keys.end_row();
        self.values.end_row();
        self.typed.append_option(row.typed.as_deref());
    }

    /// The keys, values and typed columns.
    pub(crate) fn finish(mut self) -> Result<[ArrayRef; 3], StorageError> {
        Ok([
            Arc::new(self.keys.finish()?),
            Arc::new(self.values.finish()?),
            Arc::new(self.typed.finish()),
        ])
    }
}

/// `value`'s display text: a string as it is, anything else written into `scratch`.
fn display<'a>(value: AttrRef<'a>, scratch: &'a mut String) -> &'a [u8] {
    match value {
        AttrRef::Str(text) => text.as_bytes(),
        other => {
            scratch.clear();
            let _ = other.write_display(scratch);
            scratch.as_bytes()
        }
    }
}
