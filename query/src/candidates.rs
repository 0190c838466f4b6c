//! The newest traces with a span matching a search, within one session (a round of trace
//! search: the recent rows and/or some files).
//!
//! Attribute conditions are what costs: they decode the attribute maps, the widest columns.
//! So a search with any runs in two steps. First every trace with a span meeting the cheap
//! conditions (service, operation, status, duration, time), newest first, reading plain
//! columns only; its latest such span bounds its latest matching one. Then the full
//! conditions, on a few dozen of those traces at a time, newest first, until `limit` traces
//! match and are newer than any bound left. The `trace_id IN (…)` condition comes first in
//! the scan's pushed-down filter, so the attribute maps are decoded only for the rows of
//! those traces (a few hundred rows), not for every candidate span (~75k in a 250k-span file).
//! When the attribute conditions match rarely, a few steps find too little, and one pass
//! with every condition (what the search did before) finishes the job.

use std::collections::HashMap;

use datafusion::arrow::array::{Array, Int64Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;
use futures::TryStreamExt;

use crate::error::QueryError;
use crate::sql::literal;
use crate::traces::kth_latest;

#[cfg(test)]
mod tests;

/// Trace ids checked by the first step, per trace wanted (attribute conditions typically
/// match a fair share of the traces that meet the cheap ones); each next step checks twice
/// as many.
const IDS_PER_WANTED: usize = 3;

/// Steps before giving up on them (a rare match) for one pass with every condition.
const MAX_STEPS: u32 = 3;

/// A search's conditions on the matching span, in SQL.
#[derive(Debug, Clone)]
pub(crate) struct Conditions {
    /// On plain columns.
    pub(crate) cheap: String,
    /// On attributes (tags, filters), if any.
    pub(crate) costly: Option<String>,
}

/// The `limit` newest traces matching `conditions` in `context`, with the start of their
/// latest matching span, newest first. `has_files`: the session reads span files (without
/// them, the recent rows in memory, there are no pages to skip and one pass is cheaper).
pub(crate) async fn candidates(
    context: &SessionContext,
    conditions: &Conditions,
    limit: usize,
    has_files: bool,
) -> Result<Vec<(String, i64)>, QueryError> {
    let Some(costly) = &conditions.costly else {
        return newest(context, &conditions.cheap, Some(limit)).await;
    };
    if !has_files {
        let all = format!("{} AND {costly}", conditions.cheap);
        return newest(context, &all, Some(limit)).await;
    }
    let bounds = newest(context, &conditions.cheap, None).await?;
    let mut found: HashMap<String, i64> = HashMap::new();
    let mut checked = 0;
    let mut steps = 0;
    // Every trace left has no matching span newer than its bound.
    while let Some((_, bound)) = bounds.get(checked) {
        if kth_latest(&found, limit).is_some_and(|kth| kth > *bound) {
            break;
        }
        if steps == MAX_STEPS {
            // A rare match: one pass over everything is cheaper than many small steps.
            let all = format!("{} AND {costly}", conditions.cheap);
            return newest(context, &all, Some(limit)).await;
        }
        let step_size = (limit.max(10) * IDS_PER_WANTED) << steps;
        let step = &bounds[checked..(checked + step_size).min(bounds.len())];
        checked += step.len();
        steps += 1;
        let ids: Vec<String> = step.iter().map(|(id, _)| literal(id)).collect();
        let matching = format!(
            "trace_id IN ({}) AND {} AND {costly}",
            ids.join(", "),
            conditions.cheap
        );
        found.extend(newest(context, &matching, None).await?);
    }
    let mut ordered: Vec<(String, i64)> = found.into_iter().collect();
    ordered.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ordered.truncate(limit);
    Ok(ordered)
}

/// Traces with a span meeting `conditions` and the start of their latest such span, newest
/// first (the `limit` newest, or all).
async fn newest(
    context: &SessionContext,
    conditions: &str,
    limit: Option<usize>,
) -> Result<Vec<(String, i64)>, QueryError> {
    let limit = limit.map_or(String::new(), |limit| format!(" LIMIT {limit}"));
    let sql = format!(
        "SELECT trace_id, max(start_time_unix_nano) AS latest FROM spans WHERE {conditions} \
         GROUP BY trace_id ORDER BY latest DESC, trace_id{limit}"
    );
    let mut stream = context.sql(&sql).await?.execute_stream().await?;
    let mut found = Vec::new();
    while let Some(batch) = stream.try_next().await? {
        let ids = cast(batch.column(0), &DataType::Utf8)?;
        let latest = cast(batch.column(1), &DataType::Int64)?;
        let (Some(ids), Some(latest)) = (
            ids.as_any().downcast_ref::<StringArray>(),
            latest.as_any().downcast_ref::<Int64Array>(),
        ) else {
            return Err(QueryError::Internal(
                "unexpected candidate columns".to_string(),
            ));
        };
        for row in 0..batch.num_rows() {
            if ids.is_valid(row) && latest.is_valid(row) {
                found.push((ids.value(row).to_string(), latest.value(row)));
            }
        }
    }
    Ok(found)
}
