//! The newest traces with a span matching a search, within one session (a round of trace
//! search: the recent rows and/or some files).
//!
//! Attribute conditions are what costs: they decode the attribute maps, the widest columns.
//! So a search with any runs in two steps. First every trace with a span meeting the cheap
//! conditions (service, operation, status, duration, time), newest first, reading plain
//! columns only; its latest such span bounds its latest matching one. Then the full
//! conditions, on a few dozen of those traces at a time, newest first, until `limit` traces
//! match and are newer than any bound left. Span files are sorted by trace id, so a
//! `trace_id IN (…)` condition lets the Parquet reader skip every page (2048 rows) that holds
//! none of them: the maps are decoded for a few pages, not for the whole file. When the
//! attribute conditions match rarely, a few steps find too little, and one pass with every
//! condition (what the search did before) finishes the job.

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

/// Trace ids checked by the first step; each next step checks twice as many. DataFusion
/// prunes pages with an `IN` list of at most 20 values, so the list is written as ORed lists
/// of 20.
const IDS_PER_STEP: usize = 40;
const IDS_PER_LIST: usize = 20;

/// Steps before giving up on them (a rare match) for one pass with every condition: the
/// detour costs at most 280 traces' pages.
const MAX_STEPS: usize = 3;

/// A search's conditions on the matching span, in SQL.
#[derive(Debug, Clone)]
pub(crate) struct Conditions {
    /// On plain columns.
    pub(crate) cheap: String,
    /// On attributes (tags, filters), if any.
    pub(crate) costly: Option<String>,
}

/// The `limit` newest traces matching `conditions` in `context`, with the start of their
/// latest matching span, newest first.
pub(crate) async fn candidates(
    context: &SessionContext,
    conditions: &Conditions,
    limit: usize,
) -> Result<Vec<(String, i64)>, QueryError> {
    let Some(costly) = &conditions.costly else {
        return newest(context, &conditions.cheap, Some(limit)).await;
    };
    let bounds = newest(context, &conditions.cheap, None).await?;
    let mut found: HashMap<String, i64> = HashMap::new();
    let mut checked = 0;
    let mut step_size = IDS_PER_STEP;
    // Every trace left has no matching span newer than its bound.
    while let Some((_, bound)) = bounds.get(checked) {
        if kth_latest(&found, limit).is_some_and(|kth| kth > *bound) {
            break;
        }
        if step_size > IDS_PER_STEP << (MAX_STEPS - 1) {
            // A rare match: one pass over everything is cheaper than many small steps.
            let all = format!("{} AND {costly}", conditions.cheap);
            return newest(context, &all, Some(limit)).await;
        }
        let step = &bounds[checked..(checked + step_size).min(bounds.len())];
        checked += step.len();
        step_size *= 2;
        let lists: Vec<String> = step
            .chunks(IDS_PER_LIST)
            .map(|ids| {
                let ids: Vec<String> = ids.iter().map(|(id, _)| literal(id)).collect();
                format!("trace_id IN ({})", ids.join(", "))
            })
            .collect();
        let matching = format!(
            "({}) AND {} AND {costly}",
            lists.join(" OR "),
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
