//! Span files in the packed layout, and the recent rows (built in it), read as the `spans`
//! table: each attribute map is rebuilt from its keys and values columns by the
//! `periscope_unpack_attributes` function, so SQL (`attributes['http.route']`) sees the same
//! columns whatever layout a file was written in.
//!
//! One attribute (`attributes['http.route']`) is read without rebuilding the map: the
//! `periscope_packed_value` function finds it in the packed bytes (`packed_value.rs`). Filters
//! are pushed into the Parquet scan with these functions inlined, so a map is rebuilt only for
//! the rows that pass, and only where the whole map is wanted.

use std::sync::Arc;

use crate::packed_value::PackedValue;
use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, BinaryArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, DataFusionError, Result, exec_err};
use datafusion::datasource::{TableProvider, TableType};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    TableProviderFilterPushDown, Volatility,
};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};
use datafusion::prelude::{Expr, col, lit};
use periscope_storage::batch::{
    PACKED_MAP_COLUMNS, packed_keys_name, packed_values_name, spans_schema, unpack_map,
};

/// Name of [`UnpackAttributes`].
pub(crate) const UNPACK_ATTRIBUTES: &str = "periscope_unpack_attributes";

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
        UNPACK_ATTRIBUTES
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

pub(crate) fn binary(array: &ArrayRef) -> Result<&BinaryArray> {
    match array.as_any().downcast_ref::<BinaryArray>() {
        Some(binary) => Ok(binary),
        None => exec_err!("packed attributes are {}, not Binary", array.data_type()),
    }
}

/// Packed span files, or recent rows, as a table with the columns of the `spans` table. A table of its own
/// rather than a projection over the files: DataFusion 55's projection pruning fails on a
/// union of a projection and a plain scan ("UNION field 0 have different type").
#[derive(Debug)]
pub(crate) struct PackedSpansTable {
    files: Arc<dyn TableProvider>,
    unpack: Arc<ScalarUDF>,
    packed_value: Arc<ScalarUDF>,
}

impl PackedSpansTable {
    /// `files`: a table over packed span files or recent rows, in the packed schema.
    pub(crate) fn new(files: Arc<dyn TableProvider>) -> Self {
        PackedSpansTable {
            files,
            unpack: Arc::new(ScalarUDF::from(UnpackAttributes::new())),
            packed_value: Arc::new(ScalarUDF::from(PackedValue::new())),
        }
    }

    /// `expr` over the packed files' columns: each map column read is rebuilt from its pair,
    /// and each lookup of one key in it reads the pair in place instead.
    fn over_files(&self, expr: &Expr) -> Result<Expr> {
        expr.clone()
            .transform_up(|node| match node {
                Expr::Column(column) if PACKED_MAP_COLUMNS.contains(&column.name.as_str()) => {
                    Ok(Transformed::yes(self.unpacked(&column.name)))
                }
                Expr::ScalarFunction(call) => match self.packed_lookup(&call) {
                    Some(lookup) => Ok(Transformed::yes(lookup)),
                    None => Ok(Transformed::no(Expr::ScalarFunction(call))),
                },
                other => Ok(Transformed::no(other)),
            })
            .map(|transformed| transformed.data)
    }

    /// `get_field(periscope_unpack_attributes(keys, values), 'key')` (`map['key']`, its map
    /// already rewritten) as `periscope_packed_value(keys, values, 'key')`.
    fn packed_lookup(&self, call: &ScalarFunction) -> Option<Expr> {
        let [map, key] = call.args.as_slice() else {
            return None;
        };
        if call.func.name() != "get_field" {
            return None;
        }
        let Expr::ScalarFunction(unpack) = map else {
            return None;
        };
        if unpack.func.name() != self.unpack.name() {
            return None;
        }
        let Expr::Literal(key, _) = key else {
            return None;
        };
        let key = key.try_as_str().flatten()?;
        let mut args = unpack.args.clone();
        args.push(lit(key));
        Some(self.packed_value.call(args))
    }

    fn unpacked(&self, map: &str) -> Expr {
        self.unpack.call(vec![
            col(packed_keys_name(map)),
            col(packed_values_name(map)),
        ])
    }
}

#[async_trait]
impl TableProvider for PackedSpansTable {
    fn schema(&self) -> SchemaRef {
        spans_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// Filters go to the Parquet scan with maps rebuilt inside them; never exact, so the
    /// plan checks them again above (on the few rows that pass).
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let spans = spans_schema();
        let packed = self.files.schema();
        let wanted: Vec<usize> = match projection {
            Some(indices) => indices.clone(),
            None => (0..spans.fields().len()).collect(),
        };
        // The packed columns the wanted ones are read from, each once, in file order.
        let mut read: Vec<usize> = Vec::new();
        for &index in &wanted {
            let name = spans.field(index).name();
            let sources = if PACKED_MAP_COLUMNS.contains(&name.as_str()) {
                vec![packed_keys_name(name), packed_values_name(name)]
            } else {
                vec![name.clone()]
            };
            for source in sources {
                let at = packed.index_of(&source)?;
                if !read.contains(&at) {
                    read.push(at);
                }
            }
        }
        read.sort_unstable();
        let filters = filters
            .iter()
            .map(|filter| self.over_files(filter))
            .collect::<Result<Vec<_>>>()?;
        let input = self.files.scan(state, Some(&read), &filters, limit).await?;
        let input_schema = DFSchema::try_from(input.schema())?;
        let mut columns = Vec::with_capacity(wanted.len());
        for &index in &wanted {
            let name = spans.field(index).name();
            let expr = self.over_files(&col(name.as_str()))?;
            columns.push(ProjectionExpr {
                expr: state.create_physical_expr(expr, &input_schema)?,
                alias: name.clone(),
            });
        }
        Ok(Arc::new(ProjectionExec::try_new(columns, input)?))
    }
}

#[cfg(test)]
mod tests;
