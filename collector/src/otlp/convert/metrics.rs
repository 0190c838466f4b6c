//! `ExportMetricsServiceRequest` → one row per data point.

use std::sync::Arc;

use periscope_storage::{MetricRow, MetricType, Origin};
use serde_json::json;

use super::common::{Conversion, Limits, Rejection, attributes, check_time, origin, text};
use crate::otlp::wire::collector::metrics::v1::ExportMetricsServiceRequest;
use crate::otlp::wire::common::v1::KeyValue;
use crate::otlp::wire::metrics::v1::{Exemplar, Metric, exemplar, metric, number_data_point};

/// Fields every point kind shares, before its kind-specific values are filled in.
struct PointBase {
    attributes: Vec<KeyValue>,
    start_time_unix_nano: u64,
    time_unix_nano: u64,
    flags: u32,
    exemplars: Vec<Exemplar>,
}

/// The metric-level fields copied onto each of its points.
struct MetricHead<'a> {
    name: &'a str,
    description: &'a str,
    unit: &'a str,
    origin: &'a Arc<Origin>,
}

/// Converts every data point of the request; invalid ones are rejected individually.
pub(crate) fn convert_metrics(
    request: ExportMetricsServiceRequest,
    limits: &Limits,
) -> Conversion<Vec<MetricRow>> {
    let mut conversion = Conversion::new();
    for resource_metrics in request.resource_metrics {
        for scope_metrics in resource_metrics.scope_metrics {
            let origin = origin(
                resource_metrics.resource.as_ref(),
                scope_metrics.scope.as_ref(),
                limits,
                &mut conversion,
            );
            for metric in scope_metrics.metrics {
                convert_metric(metric, &origin, limits, &mut conversion);
            }
        }
    }
    conversion
}

fn convert_metric(
    metric: Metric,
    origin: &Arc<Origin>,
    limits: &Limits,
    conversion: &mut Conversion<Vec<MetricRow>>,
) {
    let name = text(metric.name, conversion);
    let description = text(metric.description, conversion);
    let unit = text(metric.unit, conversion);
    let head = MetricHead {
        name: &name,
        description: &description,
        unit: &unit,
        origin,
    };
    let Some(data) = metric.data else {
        return;
    };
    match data {
        metric::Data::Gauge(gauge) => {
            for point in gauge.data_points {
                let (value, value_int) = number_value(point.value);
                let base = base_of(
                    point.attributes,
                    point.start_time_unix_nano,
                    point.time_unix_nano,
                    point.flags,
                    point.exemplars,
                );
                push(
                    &head,
                    MetricType::Gauge,
                    0,
                    false,
                    base,
                    limits,
                    conversion,
                    |row| {
                        row.value = value;
                        row.value_int = value_int;
                    },
                );
            }
        }
        metric::Data::Sum(sum) => {
            for point in sum.data_points {
                let (value, value_int) = number_value(point.value);
                let base = base_of(
                    point.attributes,
                    point.start_time_unix_nano,
                    point.time_unix_nano,
                    point.flags,
                    point.exemplars,
                );
                push(
                    &head,
                    MetricType::Sum,
                    sum.aggregation_temporality,
                    sum.is_monotonic,
                    base,
                    limits,
                    conversion,
                    |row| {
                        row.value = value;
                        row.value_int = value_int;
                    },
                );
            }
        }
        metric::Data::Histogram(histogram) => {
            for point in histogram.data_points {
                let distribution = json!({
                    "bucket_counts": point.bucket_counts,
                    "explicit_bounds": point.explicit_bounds,
                });
                let base = base_of(
                    point.attributes,
                    point.start_time_unix_nano,
                    point.time_unix_nano,
                    point.flags,
                    point.exemplars,
                );
                push(
                    &head,
                    MetricType::Histogram,
                    histogram.aggregation_temporality,
                    false,
                    base,
                    limits,
                    conversion,
                    |row| {
                        row.count = Some(point.count);
                        row.sum = point.sum;
                        row.min = point.min;
                        row.max = point.max;
                        row.distribution_json = Some(distribution.to_string());
                    },
                );
            }
        }
        metric::Data::ExponentialHistogram(histogram) => {
            for point in histogram.data_points {
                let buckets = |buckets: Option<
                    &crate::otlp::wire::metrics::v1::exponential_histogram_data_point::Buckets,
                >| {
                    buckets.map(|b| json!({"offset": b.offset, "bucket_counts": b.bucket_counts}))
                };
                let distribution = json!({
                    "scale": point.scale,
                    "zero_count": point.zero_count,
                    "zero_threshold": point.zero_threshold,
                    "positive": buckets(point.positive.as_ref()),
                    "negative": buckets(point.negative.as_ref()),
                });
                let base = base_of(
                    point.attributes,
                    point.start_time_unix_nano,
                    point.time_unix_nano,
                    point.flags,
                    point.exemplars,
                );
                push(
                    &head,
                    MetricType::ExponentialHistogram,
                    histogram.aggregation_temporality,
                    false,
                    base,
                    limits,
                    conversion,
                    |row| {
                        row.count = Some(point.count);
                        row.sum = point.sum;
                        row.min = point.min;
                        row.max = point.max;
                        row.distribution_json = Some(distribution.to_string());
                    },
                );
            }
        }
        metric::Data::Summary(summary) => {
            for point in summary.data_points {
                let quantiles: Vec<_> = point
                    .quantile_values
                    .iter()
                    .map(|q| json!({"quantile": q.quantile, "value": q.value}))
                    .collect();
                let distribution = json!({ "quantile_values": quantiles });
                let base = base_of(
                    point.attributes,
                    point.start_time_unix_nano,
                    point.time_unix_nano,
                    point.flags,
                    Vec::new(),
                );
                push(
                    &head,
                    MetricType::Summary,
                    0,
                    false,
                    base,
                    limits,
                    conversion,
                    |row| {
                        row.count = Some(point.count);
                        row.sum = Some(point.sum);
                        row.distribution_json = Some(distribution.to_string());
                    },
                );
            }
        }
    }
}

fn base_of(
    attributes: Vec<KeyValue>,
    start_time_unix_nano: u64,
    time_unix_nano: u64,
    flags: u32,
    exemplars: Vec<Exemplar>,
) -> PointBase {
    PointBase {
        attributes,
        start_time_unix_nano,
        time_unix_nano,
        flags,
        exemplars,
    }
}

fn number_value(value: Option<number_data_point::Value>) -> (Option<f64>, Option<i64>) {
    match value {
        Some(number_data_point::Value::AsDouble(number)) => (Some(number), None),
        Some(number_data_point::Value::AsInt(number)) => (Some(number as f64), Some(number)),
        None => (None, None),
    }
}

fn exemplars_json(exemplars: &[Exemplar]) -> Option<String> {
    if exemplars.is_empty() {
        return None;
    }
    let items: Vec<_> = exemplars
        .iter()
        .map(|exemplar| {
            let value = match exemplar.value {
                Some(exemplar::Value::AsDouble(number)) => json!(number),
                Some(exemplar::Value::AsInt(number)) => json!(number),
                None => serde_json::Value::Null,
            };
            json!({
                "time_unix_nano": exemplar.time_unix_nano,
                "trace_id": hex::encode(&exemplar.trace_id),
                "span_id": hex::encode(&exemplar.span_id),
                "value": value,
            })
        })
        .collect();
    Some(serde_json::Value::Array(items).to_string())
}

#[allow(clippy::too_many_arguments)]
fn push(
    head: &MetricHead<'_>,
    metric_type: MetricType,
    temporality: i32,
    is_monotonic: bool,
    base: PointBase,
    limits: &Limits,
    conversion: &mut Conversion<Vec<MetricRow>>,
    fill: impl FnOnce(&mut MetricRow),
) {
    let checked: Result<MetricRow, Rejection> = (|| {
        let time = check_time(base.time_unix_nano, limits)?;
        let (point_attributes, _) = attributes(base.attributes, limits, conversion)?;
        Ok(MetricRow {
            metric_name: head.name.to_string(),
            description: head.description.to_string(),
            unit: head.unit.to_string(),
            metric_type,
            temporality,
            is_monotonic,
            time_unix_nano: time,
            start_time_unix_nano: i64::try_from(base.start_time_unix_nano).unwrap_or(0),
            value: None,
            value_int: None,
            count: None,
            sum: None,
            min: None,
            max: None,
            distribution_json: None,
            exemplars_json: exemplars_json(&base.exemplars),
            flags: base.flags,
            attributes: point_attributes,
            origin: head.origin.clone(),
        })
    })();
    match checked {
        Ok(mut row) => {
            fill(&mut row);
            conversion.rows.push(row);
        }
        Err(reason) => conversion.reject(reason),
    }
}
