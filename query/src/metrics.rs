//! Metric charts: the metrics seen in a window, and one metric's values aggregated per time
//! step, optionally filtered by attributes and split by service or an attribute.

use std::collections::BTreeMap;

use datafusion::prelude::SessionContext;

use crate::error::QueryError;
use crate::filters::{AttrFilter, combined};
use crate::services::{TimeWindow, rows};
use crate::sql::literal;

/// Series returned at most (the busiest ones).
pub const MAX_SERIES: usize = 20;
/// Steps per chart at most.
pub const MAX_STEPS: i64 = 2000;

/// A metric seen in the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricInfo {
    /// Metric name.
    pub name: String,
    /// gauge, sum, histogram, exponential_histogram or summary.
    pub metric_type: String,
    /// Unit (UCUM).
    pub unit: String,
    /// Description, as the sender gave it.
    pub description: String,
}

/// How points within one step combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation {
    /// Mean.
    Avg,
    /// Sum.
    Sum,
    /// Minimum.
    Min,
    /// Maximum.
    Max,
    /// Number of data points.
    Count,
}

impl Aggregation {
    /// Every aggregation, in the order a picker lists them.
    pub const ALL: [Aggregation; 5] = [
        Aggregation::Avg,
        Aggregation::Sum,
        Aggregation::Min,
        Aggregation::Max,
        Aggregation::Count,
    ];

    /// Name in URLs and SQL.
    pub fn as_str(self) -> &'static str {
        match self {
            Aggregation::Avg => "avg",
            Aggregation::Sum => "sum",
            Aggregation::Min => "min",
            Aggregation::Max => "max",
            Aggregation::Count => "count",
        }
    }

    /// Inverse of [`Aggregation::as_str`].
    pub fn parse(text: &str) -> Option<Aggregation> {
        Aggregation::ALL
            .into_iter()
            .find(|aggregation| aggregation.as_str() == text)
    }
}

/// What to chart.
#[derive(Debug, Clone)]
pub struct MetricQuery {
    /// Metric name.
    pub name: String,
    /// Attribute filters on the data points (point or resource attributes).
    pub filters: Vec<AttrFilter>,
    /// Join the filters with OR.
    pub any_filter: bool,
    /// Split into series by `service` or by this attribute; one series when `None`.
    pub group_by: Option<String>,
    /// How points combine within a step.
    pub aggregation: Aggregation,
    /// The chart's range.
    pub window: TimeWindow,
    /// Step, ns.
    pub step_ns: i64,
}

/// One line of the chart: a value per step (`None` where no point fell).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSeries {
    /// The group's value (empty for the single series, or when the attribute is absent).
    pub label: String,
    /// Values per step, oldest first.
    pub points: Vec<Option<f64>>,
}

/// Gauges and sums carry a value; histograms and summaries chart their mean.
const VALUE: &str = "coalesce(value, CAST(value_int AS DOUBLE), sum / CAST(count AS DOUBLE))";

pub(crate) async fn metric_names(
    context: &SessionContext,
    window: TimeWindow,
) -> Result<Vec<MetricInfo>, QueryError> {
    let sql = format!(
        "SELECT metric_name, metric_type, unit, max(description) FROM metrics \
         WHERE time_unix_nano >= {} AND time_unix_nano <= {} GROUP BY 1, 2, 3 ORDER BY 1",
        window.start_ns, window.end_ns
    );
    Ok(rows(context, &sql)
        .await?
        .iter()
        .map(|row| MetricInfo {
            name: row[0].as_str().unwrap_or_default().to_string(),
            metric_type: row[1].as_str().unwrap_or_default().to_string(),
            unit: row[2].as_str().unwrap_or_default().to_string(),
            description: row[3].as_str().unwrap_or_default().to_string(),
        })
        .collect())
}

pub(crate) async fn metric_series(
    context: &SessionContext,
    query: &MetricQuery,
) -> Result<Vec<MetricSeries>, QueryError> {
    let step_ns = query.step_ns.max(1);
    let steps = (query.window.len_ns() / step_ns + 1).clamp(1, MAX_STEPS) as usize;
    let label = match query.group_by.as_deref() {
        None => "''".to_string(),
        Some("service") | Some("service.name") => "service_name".to_string(),
        Some(key) => {
            let key = literal(key);
            format!("coalesce(attributes[{key}], resource_attributes[{key}], '')")
        }
    };
    let mut conditions = vec![
        format!("metric_name = {}", literal(&query.name)),
        format!("time_unix_nano >= {}", query.window.start_ns),
        format!("time_unix_nano <= {}", query.window.end_ns),
    ];
    if let Some(condition) = combined(&query.filters, query.any_filter)? {
        conditions.push(condition);
    }
    let aggregate = match query.aggregation {
        Aggregation::Count => "CAST(count(*) AS DOUBLE)".to_string(),
        other => format!("{}({VALUE})", other.as_str()),
    };
    let sql = format!(
        "SELECT {label} AS label, CAST((time_unix_nano - {start}) / {step_ns} AS BIGINT) AS step, \
         {aggregate} FROM metrics WHERE {} GROUP BY 1, 2",
        conditions.join(" AND "),
        start = query.window.start_ns,
    );
    let mut by_label: BTreeMap<String, (usize, Vec<Option<f64>>)> = BTreeMap::new();
    for row in rows(context, &sql).await? {
        let label = row[0].as_str().unwrap_or_default().to_string();
        let Some(step) = row[1].as_i64().and_then(|step| usize::try_from(step).ok()) else {
            continue;
        };
        let entry = by_label
            .entry(label)
            .or_insert_with(|| (0, vec![None; steps]));
        if let Some(slot) = entry.1.get_mut(step) {
            *slot = row[2].as_f64();
            entry.0 += 1;
        }
    }
    let mut series: Vec<(usize, MetricSeries)> = by_label
        .into_iter()
        .map(|(label, (filled, points))| (filled, MetricSeries { label, points }))
        .collect();
    series.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.label.cmp(&b.1.label)));
    Ok(series
        .into_iter()
        .take(MAX_SERIES)
        .map(|(_, series)| series)
        .collect())
}
