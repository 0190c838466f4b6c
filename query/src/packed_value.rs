//! `periscope_packed_value(keys, values, key)`: one attribute of packed span rows, read from
//! the packed bytes. What `attributes['http.route']` becomes over packed columns.
//!
//! Why not `get_field` over the rebuilt map: rebuilding copies every key and value of every
//! row into a map only to compare a key and keep one value. Over 200k recent spans a trace
//! search with one tag spent ~650 ms rebuilding maps (twice: the tag is looked up in the span's
//! and in the resource's attributes); this reads the keys in place and copies one value.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DataFusionError, Result, ScalarValue, exec_err};
use datafusion::datasource::physical_plan::{FileScanConfigBuilder, FileSource, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::physical_expr::ScalarFunctionExpr;
use datafusion::physical_expr::expressions::Literal;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::filter::{FilterExec, FilterExecBuilder};
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr, update_expr};
use datafusion::physical_plan::{ExecutionPlan, PhysicalExpr};
use periscope_storage::batch::packed_value;

use crate::packed_spans::{UNPACK_ATTRIBUTES, binary};

#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct PackedValue {
    signature: Signature,
}

impl PackedValue {
    pub(crate) fn new() -> Self {
        PackedValue {
            signature: Signature::exact(
                vec![DataType::Binary, DataType::Binary, DataType::Utf8],
                Volatility::Immutable,
            ),
        }
    }
}

impl ScalarUDFImpl for PackedValue {
    fn name(&self) -> &str {
        "periscope_packed_value"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The map's value type, as `get_field` over the map returns it.
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [keys, values, key] = args.args.as_slice() else {
            return exec_err!("periscope_packed_value takes keys, values and a key");
        };
        let key = match key {
            ColumnarValue::Scalar(ScalarValue::Utf8(Some(key))) => key.clone(),
            _ => return exec_err!("periscope_packed_value takes a constant text key"),
        };
        let arrays = ColumnarValue::values_to_arrays(&[keys.clone(), values.clone()])?;
        let (keys, values) = (binary(&arrays[0])?, binary(&arrays[1])?);
        let mut out = StringBuilder::with_capacity(keys.len(), 0);
        for row in 0..keys.len() {
            if keys.is_null(row) || values.is_null(row) {
                out.append_null();
                continue;
            }
            let found = packed_value(keys.value(row), values.value(row), key.as_bytes())
                .map_err(|err| DataFusionError::Execution(err.to_string()))?;
            out.append_option(found);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

/// Rewrites `get_field(periscope_unpack_attributes(keys, values), 'key')` into
/// `periscope_packed_value(keys, values, 'key')` in projections, filters and Parquet scan
/// predicates of a physical plan. At the physical level because that is where the lookup meets the unpacking: the
/// logical plan reads the map column, and DataFusion's projection and filter pushdown compose
/// the lookup with `PackedSpansTable`'s unpacking projection only when planning physically.
#[derive(Debug)]
pub(crate) struct PackedLookups {
    packed_value: Arc<ScalarUDF>,
}

impl PackedLookups {
    pub(crate) fn new() -> Self {
        PackedLookups {
            packed_value: Arc::new(ScalarUDF::from(PackedValue::new())),
        }
    }

    /// `expr` with every lookup in an unpacked map read from the packed pair instead.
    fn rewrite(
        &self,
        expr: &Arc<dyn PhysicalExpr>,
        config: &Arc<ConfigOptions>,
    ) -> Result<Transformed<Arc<dyn PhysicalExpr>>> {
        Arc::clone(expr).transform_up(|node| {
            let Some(lookup) = node.downcast_ref::<ScalarFunctionExpr>() else {
                return Ok(Transformed::no(node));
            };
            let [map, key] = lookup.args() else {
                return Ok(Transformed::no(node));
            };
            let unpack = map.downcast_ref::<ScalarFunctionExpr>();
            let is_text_key = key
                .downcast_ref::<Literal>()
                .is_some_and(|key| matches!(key.value(), ScalarValue::Utf8(Some(_))));
            match unpack {
                Some(unpack)
                    if lookup.name() == "get_field"
                        && unpack.name() == UNPACK_ATTRIBUTES
                        && unpack.args().len() == 2
                        && is_text_key =>
                {
                    let mut args = unpack.args().to_vec();
                    args.push(Arc::clone(key));
                    let packed: Arc<dyn PhysicalExpr> = Arc::new(ScalarFunctionExpr::new(
                        self.packed_value.name(),
                        Arc::clone(&self.packed_value),
                        args,
                        Arc::new(Field::new(self.packed_value.name(), DataType::Utf8, true)),
                        Arc::clone(config),
                    ));
                    Ok(Transformed::yes(packed))
                }
                _ => Ok(Transformed::no(node)),
            }
        })
    }
}

impl PackedLookups {
    /// `projection` merged with the unpacking projection under it, its lookups read in place,
    /// when every map it reads is read by lookups alone. DataFusion keeps the two apart when a
    /// map is read more than once (one key filtered on, another selected), and then each row's
    /// map would be rebuilt for the lookups above it. `None` where nothing is gained, or where
    /// a whole map is still wanted (merging would rebuild it once per reference).
    fn merged_with_unpacking(
        &self,
        projection: &ProjectionExec,
        config: &Arc<ConfigOptions>,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let Some(unpacking) = projection.input().downcast_ref::<ProjectionExec>() else {
            return Ok(None);
        };
        let mut changed = false;
        let mut exprs = Vec::with_capacity(projection.expr().len());
        for expr in projection.expr() {
            let Some(inlined) = update_expr(&expr.expr, unpacking.expr(), true)? else {
                return Ok(None);
            };
            let rewritten = self.rewrite(&inlined, config)?;
            let unpacks = rewritten.data.exists(|node| {
                Ok(node
                    .downcast_ref::<ScalarFunctionExpr>()
                    .is_some_and(|call| call.name() == UNPACK_ATTRIBUTES))
            })?;
            if unpacks {
                return Ok(None);
            }
            changed |= rewritten.transformed;
            exprs.push(ProjectionExpr {
                expr: rewritten.data,
                alias: expr.alias.clone(),
            });
        }
        if !changed {
            return Ok(None);
        }
        let input = Arc::clone(unpacking.input());
        Ok(Some(Arc::new(ProjectionExec::try_new(exprs, input)?)))
    }
}

impl PhysicalOptimizerRule for PackedLookups {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let config = Arc::new(config.clone());
        plan.transform_up(|node| {
            if let Some(projection) = node.downcast_ref::<ProjectionExec>() {
                let mut changed = false;
                let mut exprs = Vec::with_capacity(projection.expr().len());
                for expr in projection.expr() {
                    let rewritten = self.rewrite(&expr.expr, &config)?;
                    changed |= rewritten.transformed;
                    exprs.push(ProjectionExpr {
                        expr: rewritten.data,
                        alias: expr.alias.clone(),
                    });
                }
                if changed {
                    let input = Arc::clone(projection.input());
                    return Ok(Transformed::yes(
                        Arc::new(ProjectionExec::try_new(exprs, input)?) as _,
                    ));
                }
                if let Some(merged) = self.merged_with_unpacking(projection, &config)? {
                    return Ok(Transformed::yes(merged));
                }
            } else if let Some(scan) = node.downcast_ref::<DataSourceExec>()
                && let Some((files, parquet)) = scan.downcast_to_file_source::<ParquetSource>()
                && let Some(predicate) = parquet.filter()
            {
                // A filter pushed into a Parquet scan of packed files.
                let rewritten = self.rewrite(&predicate, &config)?;
                if rewritten.transformed {
                    let parquet = Arc::new(parquet.with_predicate(rewritten.data));
                    let files = FileScanConfigBuilder::from(files.clone())
                        .with_source(parquet)
                        .build();
                    let scan = scan.clone().with_data_source(Arc::new(files));
                    return Ok(Transformed::yes(Arc::new(scan) as _));
                }
            } else if let Some(filter) = node.downcast_ref::<FilterExec>() {
                let rewritten = self.rewrite(filter.predicate(), &config)?;
                if rewritten.transformed {
                    let filter = FilterExecBuilder::from(filter)
                        .with_predicate(rewritten.data)
                        .build()?;
                    return Ok(Transformed::yes(Arc::new(filter) as _));
                }
            }
            Ok(Transformed::no(node))
        })
        .map(|transformed| transformed.data)
    }

    fn name(&self) -> &str {
        "periscope_packed_lookups"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
