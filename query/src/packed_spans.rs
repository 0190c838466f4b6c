//! Span files in the packed layout read as the `spans` table: each attribute map is rebuilt
//! from its keys and values columns by the `periscope_unpack_attributes` function, so SQL
//! (`attributes['http.route']`) sees the same columns whatever layout a file was written in.
//!
//! Filters on attributes are pushed into the Parquet scan with the function inlined, so a map
//! is rebuilt only for the rows and columns a query reads.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, BinaryArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result, exec_err};
use datafusion::dataframe::DataFrame;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::{Expr, col};
use periscope_storage::batch::{
    PACKED_MAP_COLUMNS, packed_keys_name, packed_values_name, spans_schema, unpack_map,
};

/// `periscope_unpack_attributes(keys, values)`: the attribute map packed in two binary columns.
#[derive(Debug, PartialEq, Eq, Hash)]
struct UnpackAttributes {
    signature: Signature,
}

impl UnpackAttributes {
    fn new() -> Self {
        UnpackAttributes {
            signature: Signature::exact(
                vec![DataType::Binary, DataType::Binary],
                Volatility::Immutable,
            ),
        }
    }
}

/// The map type every attributes column of the `spans` table has.
fn attributes_type() -> DataType {
    spans_schema()
        .field_with_name("attributes")
        .map(|field| field.data_type().clone())
        .unwrap_or(DataType::Null)
}

impl ScalarUDFImpl for UnpackAttributes {
    fn name(&self) -> &str {
        "periscope_unpack_attributes"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(attributes_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [keys, values] = arrays.as_slice() else {
            return exec_err!("periscope_unpack_attributes takes keys and values");
        };
        let map = unpack_map(binary(keys)?, binary(values)?)
            .map_err(|err| DataFusionError::Execution(err.to_string()))?;
        Ok(ColumnarValue::Array(Arc::new(map) as ArrayRef))
    }
}

fn binary(array: &ArrayRef) -> Result<&BinaryArray> {
    match array.as_any().downcast_ref::<BinaryArray>() {
        Some(binary) => Ok(binary),
        None => exec_err!("packed attributes are {}, not Binary", array.data_type()),
    }
}

/// `files` (packed span files) with the columns of the `spans` table, in its order.
pub(crate) fn as_spans_table(files: DataFrame) -> Result<DataFrame> {
    let unpack = ScalarUDF::from(UnpackAttributes::new());
    let columns: Vec<Expr> = spans_schema()
        .fields()
        .iter()
        .map(|field| {
            let name = field.name().as_str();
            if PACKED_MAP_COLUMNS.contains(&name) {
                unpack
                    .call(vec![
                        col(packed_keys_name(name)),
                        col(packed_values_name(name)),
                    ])
                    .alias(name)
            } else {
                col(name)
            }
        })
        .collect();
    files.select(columns)
}

#[cfg(test)]
mod tests;
