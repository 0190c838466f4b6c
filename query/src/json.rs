//! Arrow values → JSON for the SQL API. Integers stay integers (JSON numbers carry i64/u64
//! exactly for our callers), maps become objects, lists arrays; anything else is rendered
//! with Arrow's display formatter.

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float32Array, Float64Array, Int8Array, Int16Array,
    Int32Array, Int64Array, UInt8Array, UInt16Array, UInt32Array, UInt64Array,
};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use serde_json::{Map, Value};

fn float(number: f64) -> Value {
    serde_json::Number::from_f64(number)
        .map_or_else(|| Value::String(number.to_string()), Value::Number)
}

macro_rules! primitive {
    ($array:expr, $row:expr, $type:ty) => {
        $array
            .as_any()
            .downcast_ref::<$type>()
            .map(|typed| Value::from(typed.value($row)))
    };
}

/// One cell as JSON.
pub(crate) fn cell(array: &ArrayRef, row: usize) -> Value {
    if array.is_null(row) {
        return Value::Null;
    }
    let value = match array.data_type() {
        DataType::Boolean => array
            .as_any()
            .downcast_ref::<BooleanArray>()
            .map(|a| Value::Bool(a.value(row))),
        DataType::Int8 => primitive!(array, row, Int8Array),
        DataType::Int16 => primitive!(array, row, Int16Array),
        DataType::Int32 => primitive!(array, row, Int32Array),
        DataType::Int64 => primitive!(array, row, Int64Array),
        DataType::UInt8 => primitive!(array, row, UInt8Array),
        DataType::UInt16 => primitive!(array, row, UInt16Array),
        DataType::UInt32 => primitive!(array, row, UInt32Array),
        DataType::UInt64 => primitive!(array, row, UInt64Array),
        DataType::Float32 => array
            .as_any()
            .downcast_ref::<Float32Array>()
            .map(|a| float(f64::from(a.value(row)))),
        DataType::Float64 => array
            .as_any()
            .downcast_ref::<Float64Array>()
            .map(|a| float(a.value(row))),
        DataType::Utf8 => Some(Value::String(
            array.as_string::<i32>().value(row).to_string(),
        )),
        DataType::LargeUtf8 => Some(Value::String(
            array.as_string::<i64>().value(row).to_string(),
        )),
        DataType::Utf8View => Some(Value::String(array.as_string_view().value(row).to_string())),
        DataType::Map(_, _) => {
            let map = array.as_map();
            let entries = map.value(row);
            let keys = entries.column(0);
            let values = entries.column(1);
            let mut object = Map::new();
            for index in 0..entries.len() {
                let key = match cell(keys, index) {
                    Value::String(key) => key,
                    other => other.to_string(),
                };
                object.insert(key, cell(values, index));
            }
            Some(Value::Object(object))
        }
        DataType::List(_) => {
            let list = array.as_list::<i32>().value(row);
            Some(Value::Array(
                (0..list.len()).map(|index| cell(&list, index)).collect(),
            ))
        }
        DataType::Struct(fields) => {
            let structure = array.as_struct();
            let object = fields
                .iter()
                .zip(structure.columns())
                .map(|(field, column)| (field.name().clone(), cell(column, row)))
                .collect();
            Some(Value::Object(object))
        }
        _ => None,
    };
    value.unwrap_or_else(|| display(array, row))
}

fn display(array: &ArrayRef, row: usize) -> Value {
    match ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default()) {
        Ok(formatter) => Value::String(formatter.value(row).to_string()),
        Err(_) => Value::Null,
    }
}
