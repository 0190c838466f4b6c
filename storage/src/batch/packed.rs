//! The packed layout of span files: each attribute map stored as two binary columns, one
//! holding a row's keys and one its values, each a run of length-prefixed strings.
//!
//! Why: a `Map<Utf8, Utf8>` column costs the Parquet writer a definition and repetition level,
//! a dictionary lookup and a value write for every key and every value of every row, and the
//! flush's trace-id gather an offset and a copy per entry. The standard trace workload carries
//! ~20 entries a span, so the maps were half of a flush's instructions. Packed, a row is two
//! byte strings: the keys string repeats from row to row (a handful of span shapes), so its
//! dictionary makes it almost free on disk, and the values string is written as it is
//! (callgrind of the flush of 64k spans: 1.55G → 0.90G instructions; 46.3 → 45.9 B/span;
//! docs/benchmarks.md, session 15).
//!
//! Spans are built packed (`super::packed_builder`), so the recent rows, the WAL's IPC
//! records and the files share this layout; only what SQL sees has the map columns. A reader
//! turns packed columns back into the map with [`unpack_spans`] (or, in SQL, the query
//! crate's `PackedSpansTable` does the same per batch). Batches in the map layout (span
//! records of WALs written before spans were built packed) are packed by [`pack_spans`].

use std::sync::{Arc, OnceLock};

use arrow::array::{Array, ArrayRef, BinaryArray, MapArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::columns::{MapSize, map_builder_sized};
use super::packed_builder::PackedColumn;
use super::spans::spans_schema;
use crate::error::StorageError;
use crate::varint::take_bytes;

/// The span columns stored packed: each `Map<Utf8, Utf8>` column of the `spans` table.
pub const PACKED_MAP_COLUMNS: [&str; 2] = ["attributes", "resource_attributes"];

/// Name of the packed column holding `map`'s keys.
pub fn packed_keys_name(map: &str) -> String {
    format!("{map}_keys")
}

/// Name of the packed column holding `map`'s values.
pub fn packed_values_name(map: &str) -> String {
    format!("{map}_values")
}

/// Schema of a packed span file: the `spans` schema with each map column replaced, in place,
/// by its keys and values columns.
pub fn packed_spans_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let mut fields = Vec::new();
            for field in spans_schema().fields() {
                if PACKED_MAP_COLUMNS.contains(&field.name().as_str()) {
                    fields.push(Field::new(
                        packed_keys_name(field.name()),
                        DataType::Binary,
                        false,
                    ));
                    fields.push(Field::new(
                        packed_values_name(field.name()),
                        DataType::Binary,
                        false,
                    ));
                } else {
                    fields.push(field.as_ref().clone());
                }
            }
            Arc::new(Schema::new(fields))
        })
        .clone()
}

/// `batch` in the packed layout: packed if it has the map columns of the `spans` schema,
/// given the packed schema if it already has its columns (an IPC record read back).
pub fn pack_spans(batch: &RecordBatch) -> Result<RecordBatch, StorageError> {
    let packed = packed_spans_schema();
    if batch.num_columns() == packed.fields().len() {
        return Ok(RecordBatch::try_new(packed, batch.columns().to_vec())?);
    }
    let positions: Vec<(usize, usize)> = (0..batch.num_rows()).map(|row| (0, row)).collect();
    PackingGather::new(std::slice::from_ref(batch))?.gather(&positions)
}

/// Gathers rows of `spans` batches in the map layout into packed-layout batches, packing each
/// map row as it is gathered.
struct PackingGather<'a> {
    /// Each batch without its map columns.
    plain: Vec<RecordBatch>,
    /// Per map column of [`PACKED_MAP_COLUMNS`], its parts in each batch.
    maps: Vec<Vec<MapParts<'a>>>,
    /// Where each column of the packed schema comes from.
    sources: Vec<Source>,
}

#[derive(Clone, Copy)]
enum Source {
    Plain(usize),
    Keys(usize),
    Values(usize),
}

struct MapParts<'a> {
    /// Entry range of each map row.
    offsets: &'a [i32],
    key_offsets: &'a [i32],
    key_data: &'a [u8],
    value_offsets: &'a [i32],
    value_data: &'a [u8],
    /// For the null check, only made when the values have nulls at all.
    values: &'a StringArray,
    values_have_nulls: bool,
}

impl<'a> PackingGather<'a> {
    /// A gather over `batches`, all in the `spans` schema.
    fn new(batches: &'a [RecordBatch]) -> Result<PackingGather<'a>, StorageError> {
        let schema = spans_schema();
        let mut plain_columns = Vec::new();
        let mut map_columns = Vec::new();
        let mut sources = Vec::new();
        for (index, field) in schema.fields().iter().enumerate() {
            match PACKED_MAP_COLUMNS
                .iter()
                .position(|map| map == field.name())
            {
                Some(map) => {
                    map_columns.push(index);
                    sources.push(Source::Keys(map));
                    sources.push(Source::Values(map));
                }
                None => {
                    sources.push(Source::Plain(plain_columns.len()));
                    plain_columns.push(index);
                }
            }
        }
        let mut plain = Vec::with_capacity(batches.len());
        let mut maps: Vec<Vec<MapParts>> = (0..map_columns.len())
            .map(|_| Vec::with_capacity(batches.len()))
            .collect();
        for batch in batches {
            if batch.num_columns() != schema.fields().len() {
                return Err(StorageError::Corrupt(
                    "a batch to pack is not in the spans schema".to_string(),
                ));
            }
            plain.push(batch.project(&plain_columns)?);
            for (parts, &column) in maps.iter_mut().zip(&map_columns) {
                let map = batch
                    .column(column)
                    .as_any()
                    .downcast_ref::<MapArray>()
                    .ok_or_else(|| StorageError::Corrupt("attributes are not a map".to_string()))?;
                let keys = as_strings(map.keys(), "map keys")?;
                let values = as_strings(map.values(), "map values")?;
                parts.push(MapParts {
                    offsets: map.value_offsets(),
                    key_offsets: keys.value_offsets(),
                    key_data: keys.value_data(),
                    value_offsets: values.value_offsets(),
                    value_data: values.value_data(),
                    values,
                    values_have_nulls: values.null_count() > 0,
                });
            }
        }
        Ok(PackingGather {
            plain,
            maps,
            sources,
        })
    }

    /// The rows at `positions` ((batch, row) pairs), in order, in the packed layout.
    fn gather(&self, positions: &[(usize, usize)]) -> Result<RecordBatch, StorageError> {
        let plain_refs: Vec<&RecordBatch> = self.plain.iter().collect();
        let plain = arrow::compute::interleave_record_batch(&plain_refs, positions)?;
        let packed: Vec<(BinaryArray, BinaryArray)> = self
            .maps
            .iter()
            .map(|parts| pack_rows(parts, positions))
            .collect::<Result<_, _>>()?;
        let columns = self
            .sources
            .iter()
            .map(|source| match *source {
                Source::Plain(index) => plain.column(index).clone(),
                Source::Keys(map) => Arc::new(packed[map].0.clone()) as ArrayRef,
                Source::Values(map) => Arc::new(packed[map].1.clone()) as ArrayRef,
            })
            .collect();
        Ok(RecordBatch::try_new(packed_spans_schema(), columns)?)
    }
}

/// One map column's rows at `positions`, packed as (keys, values): per row, each key (value)
/// as a LEB128 length and its bytes. A null value is packed as an empty string, which is how
/// readers show it.
///
/// Reads the map's offset and data buffers directly and sizes both outputs up front: per
/// entry, `StringArray::value` and a doubling `Vec` were a third of the packing (S1 profile
/// of the flusher, session 16).
fn pack_rows(
    parts: &[MapParts],
    positions: &[(usize, usize)],
) -> Result<(BinaryArray, BinaryArray), StorageError> {
    let (mut key_bytes, mut value_bytes) = (0, 0);
    for &(batch, row) in positions {
        let part = &parts[batch];
        let (first, end) = part.entries(row);
        let entries = end - first;
        key_bytes += part.key_offsets[end] as usize - part.key_offsets[first] as usize + entries;
        value_bytes +=
            part.value_offsets[end] as usize - part.value_offsets[first] as usize + entries;
    }
    let mut keys = PackedColumn::with_size(positions.len(), key_bytes);
    let mut values = PackedColumn::with_size(positions.len(), value_bytes);
    for &(batch, row) in positions {
        let part = &parts[batch];
        let (first, end) = part.entries(row);
        for entry in first..end {
            keys.put(part.key(entry));
            values.put(part.value(entry));
        }
        keys.end_row();
        values.end_row();
    }
    Ok((keys.finish()?, values.finish()?))
}

impl MapParts<'_> {
    /// The entries of map row `row`, as a range of entry indices.
    fn entries(&self, row: usize) -> (usize, usize) {
        (self.offsets[row] as usize, self.offsets[row + 1] as usize)
    }

    fn key(&self, entry: usize) -> &[u8] {
        let (start, end) = (self.key_offsets[entry], self.key_offsets[entry + 1]);
        &self.key_data[start as usize..end as usize]
    }

    fn value(&self, entry: usize) -> &[u8] {
        if self.values_have_nulls && self.values.is_null(entry) {
            return &[];
        }
        let (start, end) = (self.value_offsets[entry], self.value_offsets[entry + 1]);
        &self.value_data[start as usize..end as usize]
    }
}

/// A batch read from a packed span file (any projection of it) with every packed pair turned
/// back into its map column, where the keys column stood. Other batches come back unchanged.
pub fn unpack_spans(batch: RecordBatch) -> Result<RecordBatch, StorageError> {
    let schema = batch.schema();
    if !PACKED_MAP_COLUMNS
        .iter()
        .any(|map| schema.index_of(&packed_keys_name(map)).is_ok())
    {
        return Ok(batch);
    }
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        let name = field.name().as_str();
        if let Some(map) = PACKED_MAP_COLUMNS
            .iter()
            .find(|map| packed_keys_name(map) == name)
        {
            let values = batch
                .column_by_name(&packed_values_name(map))
                .ok_or_else(|| {
                    StorageError::Corrupt(format!("{} without {}", name, packed_values_name(map)))
                })?;
            let unpacked = unpack_map(binary(column, name)?, binary(values, name)?)?;
            fields.push(Field::new(*map, unpacked.data_type().clone(), false));
            columns.push(Arc::new(unpacked) as ArrayRef);
        } else if PACKED_MAP_COLUMNS
            .iter()
            .any(|map| packed_values_name(map) == name)
        {
            continue;
        } else {
            fields.push(field.as_ref().clone());
            columns.push(column.clone());
        }
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

fn binary<'a>(column: &'a ArrayRef, name: &str) -> Result<&'a BinaryArray, StorageError> {
    column
        .as_any()
        .downcast_ref::<BinaryArray>()
        .ok_or_else(|| StorageError::Corrupt(format!("packed column {name} is not binary")))
}

/// The map column packed as `keys` and `values` by [`PackingGather`].
pub fn unpack_map(keys: &BinaryArray, values: &BinaryArray) -> Result<MapArray, StorageError> {
    if keys.len() != values.len() {
        return Err(StorageError::Corrupt(
            "packed keys and values differ in rows".to_string(),
        ));
    }
    let entries_bytes = |array: &BinaryArray| {
        let offsets = array.value_offsets();
        (offsets[array.len()] - offsets[0]) as usize
    };
    let mut builder = map_builder_sized(MapSize {
        rows: keys.len(),
        // Unknown without a first pass; the entry offsets grow as needed.
        entries: 0,
        key_bytes: entries_bytes(keys),
        value_bytes: entries_bytes(values),
    });
    for row in 0..keys.len() {
        let mut key_cursor = keys.value(row);
        let mut value_cursor = values.value(row);
        while !key_cursor.is_empty() {
            let key = take_string(&mut key_cursor)?;
            let value = take_string(&mut value_cursor)?;
            builder.keys().append_value(key);
            builder.values().append_value(value);
        }
        if !value_cursor.is_empty() {
            return Err(StorageError::Corrupt(
                "packed values outnumber their keys".to_string(),
            ));
        }
        builder.append(true)?;
    }
    Ok(builder.finish())
}

/// The value of the first entry with key `key` in one packed row (`keys`, `values` as
/// [`unpack_map`] reads them), without rebuilding the row: what `attributes['k']` reads.
/// `None` when no entry has the key.
pub fn packed_value<'a>(
    mut keys: &[u8],
    mut values: &'a [u8],
    key: &[u8],
) -> Result<Option<&'a str>, StorageError> {
    let damaged = |problem: &str| StorageError::Corrupt(format!("packed string {problem}"));
    while !keys.is_empty() {
        let candidate = take_bytes(&mut keys).map_err(damaged)?;
        let value = take_bytes(&mut values).map_err(damaged)?;
        if candidate == key {
            return std::str::from_utf8(value)
                .map(Some)
                .map_err(|_| damaged("is not UTF-8"));
        }
    }
    Ok(None)
}

fn as_strings<'a>(array: &'a ArrayRef, what: &str) -> Result<&'a StringArray, StorageError> {
    array
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| StorageError::Corrupt(format!("{what} are not text")))
}

fn take_string<'a>(cursor: &mut &'a [u8]) -> Result<&'a str, StorageError> {
    let text = take_bytes(cursor)
        .map_err(|problem| StorageError::Corrupt(format!("packed string {problem}")))?;
    std::str::from_utf8(text)
        .map_err(|_| StorageError::Corrupt("packed string is not UTF-8".to_string()))
}

#[cfg(test)]
mod tests;
