//! Column building and reading helpers shared by the three signal schemas.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Float64Array, Int32Array, Int64Array, MapArray,
    MapBuilder, MapFieldNames, RecordBatch, StringArray, StringBuilder, UInt32Array, UInt64Array,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field};

use super::packed::{packed_keys_name, packed_values_name, unpack_map};
use super::packed_builder::{PackedAttributeColumns, PackedRow};
use crate::error::StorageError;
use crate::model::Origin;
use crate::value::{AttrRef, AttrValue, Attributes, merge_typed, typed_json, write_typed_codes};

fn map_builder() -> MapBuilder<StringBuilder, StringBuilder> {
    map_builder_sized(MapSize::default())
}

/// Room to reserve in a map column up front. Growing builders by doubling while a request is
/// converted showed up as allocation and first-touch page faults in S1 profiles.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MapSize {
    pub(crate) rows: usize,
    pub(crate) entries: usize,
    pub(crate) key_bytes: usize,
    pub(crate) value_bytes: usize,
}

pub(crate) fn map_builder_sized(size: MapSize) -> MapBuilder<StringBuilder, StringBuilder> {
    // Parquet's canonical MAP names, so files read back with the schema they were written with.
    let names = MapFieldNames {
        entry: "key_value".to_string(),
        key: "key".to_string(),
        value: "value".to_string(),
    };
    MapBuilder::with_capacity(
        Some(names),
        StringBuilder::with_capacity(size.entries, size.key_bytes),
        StringBuilder::with_capacity(size.entries, size.value_bytes),
        size.rows,
    )
}

/// The `Map<Utf8, Utf8>` type of every attributes column.
pub(crate) fn attributes_type() -> DataType {
    map_builder().finish().data_type().clone()
}

pub(crate) fn field(name: &str, data_type: DataType, nullable: bool) -> Field {
    Field::new(name, data_type, nullable)
}

/// The display map (all keys, values as text) and the typed JSON of non-string values.
pub(crate) fn attribute_columns<'a>(
    rows: impl Iterator<Item = &'a Attributes>,
) -> (ArrayRef, ArrayRef) {
    let mut columns = AttributeColumns::default();
    for attributes in rows {
        columns.append(
            attributes
                .iter()
                .map(|(key, value)| (key.as_str(), value.as_ref())),
        );
    }
    columns.finish()
}

/// The builders of one attributes column and its `_typed` companion.
pub(crate) struct AttributeColumns {
    map: MapBuilder<StringBuilder, StringBuilder>,
    typed: StringBuilder,
}

impl Default for AttributeColumns {
    fn default() -> Self {
        AttributeColumns {
            map: map_builder(),
            typed: StringBuilder::new(),
        }
    }
}

impl AttributeColumns {
    /// Builders with room for `size` (the typed column's text is rare and small).
    pub(crate) fn with_size(size: MapSize) -> Self {
        AttributeColumns {
            map: map_builder_sized(size),
            typed: StringBuilder::with_capacity(size.rows, 0),
        }
    }

    /// Appends one row's attributes.
    pub(crate) fn append<'a>(
        &mut self,
        pairs: impl Iterator<Item = (&'a str, AttrRef<'a>)> + Clone,
    ) {
        self.append_map(pairs.clone());
        if write_typed_codes(pairs.map(|(_, value)| value), &mut self.typed) {
            self.typed.append_value("");
        } else {
            self.typed.append_null();
        }
    }

    /// Appends one row whose typed encoding is already known (a repeated origin).
    fn append_with_typed<'a>(
        &mut self,
        pairs: impl Iterator<Item = (&'a str, AttrRef<'a>)>,
        typed: Option<&str>,
    ) {
        self.append_map(pairs);
        self.typed.append_option(typed);
    }

    fn append_map<'a>(&mut self, pairs: impl Iterator<Item = (&'a str, AttrRef<'a>)>) {
        for (key, value) in pairs {
            self.map.keys().append_value(key);
            // Written straight into the column: no temporary string per number.
            let _ = value.write_display(self.map.values());
            self.map.values().append_value("");
        }
        // Appending an entry list cannot fail for a non-null map with matching key/value lengths.
        let _ = self.map.append(true);
    }

    pub(crate) fn finish(mut self) -> (ArrayRef, ArrayRef) {
        (Arc::new(self.map.finish()), Arc::new(self.typed.finish()))
    }
}

/// How [`origin_columns`] writes the resource attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResourceLayout {
    /// A `Map<Utf8, Utf8>` column (logs, metrics).
    Map,
    /// Packed keys and values columns (spans; see `super::packed`).
    Packed,
}

/// The resource columns of one batch in either layout.
// One per batch, for the length of one call: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
enum ResourceColumns {
    Map(AttributeColumns),
    Packed(PackedAttributeColumns),
}

/// What one distinct origin writes into every row it owns, worked out once.
struct SeenOrigin<'a> {
    origin: &'a Origin,
    /// Map layout: the resource's typed JSON.
    typed: Option<String>,
    /// Packed layout: the resource packed.
    packed: PackedRow,
    scope_json: Option<String>,
}

/// Origin columns: service_name, the resource attributes (a map or its packed pair, then
/// +typed), scope_name, scope_version, scope_attributes (typed JSON of the whole list). Rows
/// of one request share a few origins (rows sorted by trace id alternate between them), so
/// each origin's encodings are computed once per batch, not once per row.
pub(crate) fn origin_columns<'a>(
    origins: impl ExactSizeIterator<Item = &'a Origin> + Clone,
    layout: ResourceLayout,
) -> Result<Vec<ArrayRef>, StorageError> {
    // Sized from the first origin: a request's origins are usually alike in size.
    let rows = origins.len();
    let first = origins.clone().next();
    let per_row = |f: fn(&Origin) -> usize| first.map_or(0, |origin| f(origin) * rows);
    let mut service = StringBuilder::with_capacity(rows, per_row(|o| o.service_name.len()));
    let mut resource = match layout {
        ResourceLayout::Map => ResourceColumns::Map(AttributeColumns::with_size(MapSize {
            rows,
            entries: per_row(|o| o.resource_attributes.len()),
            key_bytes: per_row(|o| o.resource_attributes.iter().map(|(k, _)| k.len()).sum()),
            value_bytes: per_row(|o| {
                o.resource_attributes
                    .iter()
                    .map(|(_, value)| match value {
                        AttrValue::Str(text) => text.len(),
                        _ => 8,
                    })
                    .sum()
            }),
        })),
        ResourceLayout::Packed => {
            let (key_bytes, value_bytes) = first
                .map(|origin| PackedRow::new(pairs(origin)).packed_bytes())
                .unwrap_or_default();
            ResourceColumns::Packed(PackedAttributeColumns::with_size(
                rows,
                key_bytes * rows,
                value_bytes * rows,
            ))
        }
    };
    let mut scope_name = StringBuilder::with_capacity(rows, per_row(|o| o.scope_name.len()));
    let mut scope_version = StringBuilder::with_capacity(rows, per_row(|o| o.scope_version.len()));
    let mut scope_attributes = StringBuilder::with_capacity(rows, 0);
    // Origins seen, with their encodings. A linear search over at most `MAX_SEEN`: a request
    // with thousands of distinct origins stays linear.
    const MAX_SEEN: usize = 32;
    let mut seen: Vec<SeenOrigin> = Vec::new();
    for origin in origins {
        let index = match seen
            .iter()
            .position(|entry| std::ptr::eq(entry.origin, origin))
        {
            Some(index) => index,
            None => {
                let scope_json = (!origin.scope_attributes.is_empty())
                    .then(|| serde_json::to_string(&origin.scope_attributes).ok())
                    .flatten();
                if seen.len() == MAX_SEEN {
                    seen.clear();
                }
                let (typed, packed) = match layout {
                    ResourceLayout::Map => (
                        typed_json(&origin.resource_attributes),
                        PackedRow::default(),
                    ),
                    ResourceLayout::Packed => (None, PackedRow::new(pairs(origin))),
                };
                seen.push(SeenOrigin {
                    origin,
                    typed,
                    packed,
                    scope_json,
                });
                seen.len() - 1
            }
        };
        let entry = &seen[index];
        service.append_value(&origin.service_name);
        match &mut resource {
            ResourceColumns::Map(columns) => {
                columns.append_with_typed(pairs(origin), entry.typed.as_deref())
            }
            ResourceColumns::Packed(columns) => columns.append_packed(&entry.packed),
        }
        scope_name.append_value(&origin.scope_name);
        scope_version.append_value(&origin.scope_version);
        scope_attributes.append_option(entry.scope_json.as_deref());
    }
    let mut columns: Vec<ArrayRef> = vec![Arc::new(service.finish())];
    match resource {
        ResourceColumns::Map(map) => {
            let (map, typed) = map.finish();
            columns.extend([map, typed]);
        }
        ResourceColumns::Packed(packed) => columns.extend(packed.finish()?),
    }
    columns.extend([
        Arc::new(scope_name.finish()) as ArrayRef,
        Arc::new(scope_version.finish()),
        Arc::new(scope_attributes.finish()),
    ]);
    Ok(columns)
}

/// An origin's resource attributes, borrowed.
fn pairs(origin: &Origin) -> impl Iterator<Item = (&str, AttrRef<'_>)> + Clone {
    origin
        .resource_attributes
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_ref()))
}

pub(crate) fn origin_fields() -> Vec<Field> {
    vec![
        field("service_name", DataType::Utf8, false),
        field("resource_attributes", attributes_type(), false),
        field("resource_attributes_typed", DataType::Utf8, true),
        field("scope_name", DataType::Utf8, false),
        field("scope_version", DataType::Utf8, false),
        field("scope_attributes", DataType::Utf8, true),
    ]
}

pub(crate) fn utf8<'a>(values: impl Iterator<Item = &'a str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

/// Lowercase hex of fixed-size ids.
pub(crate) fn hex_ids<'a, const N: usize>(
    ids: impl Iterator<Item = Option<&'a [u8; N]>>,
) -> ArrayRef {
    let mut builder = StringBuilder::new();
    for id in ids {
        match id {
            Some(bytes) => append_hex(&mut builder, bytes),
            None => builder.append_null(),
        }
    }
    Arc::new(builder.finish())
}

/// Lowercase hex, written straight into the column (no string per id).
pub(crate) fn append_hex<const N: usize>(builder: &mut StringBuilder, id: &[u8; N]) {
    let mut text = [0u8; 64];
    let text = &mut text[..2 * N];
    // Cannot fail: the slice is exactly twice the id's length, and hex is ASCII.
    let _ = hex::encode_to_slice(id, text);
    builder.append_value(std::str::from_utf8(text).unwrap_or_default());
}

pub(crate) fn utf8_opt(values: impl Iterator<Item = Option<String>>) -> ArrayRef {
    Arc::new(StringArray::from(values.collect::<Vec<_>>()))
}

pub(crate) fn i64s(values: impl Iterator<Item = i64>) -> ArrayRef {
    Arc::new(Int64Array::from_iter_values(values))
}

pub(crate) fn i32s(values: impl Iterator<Item = i32>) -> ArrayRef {
    Arc::new(Int32Array::from_iter_values(values))
}

pub(crate) fn u32s(values: impl Iterator<Item = u32>) -> ArrayRef {
    Arc::new(UInt32Array::from_iter_values(values))
}

/// Reads columns of a batch by name, casting to the type we wrote, because a query engine
/// may hand back equivalent types (string views, dictionaries).
pub(crate) struct Columns<'a> {
    batch: &'a RecordBatch,
}

impl<'a> Columns<'a> {
    pub(crate) fn new(batch: &'a RecordBatch) -> Self {
        Columns { batch }
    }

    fn column(&self, name: &str, data_type: &DataType) -> Result<ArrayRef, StorageError> {
        let column = self
            .batch
            .column_by_name(name)
            .ok_or_else(|| StorageError::Corrupt(format!("column {name} is missing")))?;
        if column.data_type() == data_type {
            return Ok(column.clone());
        }
        cast(column, data_type).map_err(|err| {
            StorageError::Corrupt(format!("column {name} has the wrong type: {err}"))
        })
    }

    pub(crate) fn strings(&self, name: &str) -> Result<StringArray, StorageError> {
        let array = self.column(name, &DataType::Utf8)?;
        downcast::<StringArray>(&array, name)
    }

    pub(crate) fn i64s(&self, name: &str) -> Result<Int64Array, StorageError> {
        downcast::<Int64Array>(&self.column(name, &DataType::Int64)?, name)
    }

    pub(crate) fn i32s(&self, name: &str) -> Result<Int32Array, StorageError> {
        downcast::<Int32Array>(&self.column(name, &DataType::Int32)?, name)
    }

    pub(crate) fn u32s(&self, name: &str) -> Result<UInt32Array, StorageError> {
        downcast::<UInt32Array>(&self.column(name, &DataType::UInt32)?, name)
    }

    pub(crate) fn u64s(&self, name: &str) -> Result<UInt64Array, StorageError> {
        downcast::<UInt64Array>(&self.column(name, &DataType::UInt64)?, name)
    }

    pub(crate) fn f64s(&self, name: &str) -> Result<Float64Array, StorageError> {
        downcast::<Float64Array>(&self.column(name, &DataType::Float64)?, name)
    }

    pub(crate) fn bools(&self, name: &str) -> Result<BooleanArray, StorageError> {
        downcast::<BooleanArray>(&self.column(name, &DataType::Boolean)?, name)
    }

    pub(crate) fn attributes(&self, name: &str) -> Result<AttributeReader, StorageError> {
        let map = match self.batch.column_by_name(name) {
            Some(map) => downcast::<MapArray>(map, name)?,
            None => self.unpacked(name)?,
        };
        let keys =
            downcast::<StringArray>(&cast(map.keys(), &DataType::Utf8).map_err(corrupt)?, name)?;
        let values =
            downcast::<StringArray>(&cast(map.values(), &DataType::Utf8).map_err(corrupt)?, name)?;
        let typed = self.strings(&format!("{name}_typed"))?;
        Ok(AttributeReader {
            map,
            keys,
            values,
            typed,
        })
    }

    /// The map column `name` rebuilt from its packed pair (the span layout).
    fn unpacked(&self, name: &str) -> Result<MapArray, StorageError> {
        let packed = |column: String| {
            self.batch
                .column_by_name(&column)
                .ok_or_else(|| StorageError::Corrupt(format!("column {name} is missing")))
                .and_then(|array| downcast::<BinaryArray>(array, &column))
        };
        unpack_map(
            &packed(packed_keys_name(name))?,
            &packed(packed_values_name(name))?,
        )
    }

    pub(crate) fn origins(&self) -> Result<OriginReader, StorageError> {
        Ok(OriginReader {
            service_name: self.strings("service_name")?,
            resource: self.attributes("resource_attributes")?,
            scope_name: self.strings("scope_name")?,
            scope_version: self.strings("scope_version")?,
            scope_attributes: self.strings("scope_attributes")?,
        })
    }
}

fn corrupt(err: arrow::error::ArrowError) -> StorageError {
    StorageError::Corrupt(err.to_string())
}

fn downcast<T: Array + Clone + 'static>(array: &ArrayRef, name: &str) -> Result<T, StorageError> {
    array
        .as_any()
        .downcast_ref::<T>()
        .cloned()
        .ok_or_else(|| StorageError::Corrupt(format!("column {name} has an unexpected type")))
}

/// Optional string: null or empty → `None`.
pub(crate) fn opt_str(array: &StringArray, row: usize) -> Option<&str> {
    if array.is_null(row) || array.value(row).is_empty() {
        None
    } else {
        Some(array.value(row))
    }
}

pub(crate) struct AttributeReader {
    map: MapArray,
    keys: StringArray,
    values: StringArray,
    typed: StringArray,
}

impl AttributeReader {
    pub(crate) fn row(&self, row: usize) -> Attributes {
        let offsets = self.map.value_offsets();
        let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
        let pairs = (start..end)
            .map(|index| {
                let value = if self.values.is_null(index) {
                    ""
                } else {
                    self.values.value(index)
                };
                (self.keys.value(index).to_string(), value.to_string())
            })
            .collect();
        merge_typed(pairs, opt_str(&self.typed, row))
    }
}

pub(crate) struct OriginReader {
    service_name: StringArray,
    resource: AttributeReader,
    scope_name: StringArray,
    scope_version: StringArray,
    scope_attributes: StringArray,
}

impl OriginReader {
    /// The origin of `row`.
    pub(crate) fn row(&self, row: usize) -> Arc<Origin> {
        Arc::new(Origin {
            service_name: self.service_name.value(row).to_string(),
            resource_attributes: self.resource.row(row),
            scope_name: self.scope_name.value(row).to_string(),
            scope_version: self.scope_version.value(row).to_string(),
            scope_attributes: opt_str(&self.scope_attributes, row)
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or_default(),
        })
    }
}
