//! The demo's metrics: a cumulative request counter per service, route and status, and a
//! memory gauge per service.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    metric, number_data_point,
};

use super::shop::{RequestCounts, SERVICES, resource};
use crate::bench::rng::Rng;
use crate::bench::workload::{int, kv, string};

fn point(value: number_data_point::Value, start: u64, now: u64) -> NumberDataPoint {
    NumberDataPoint {
        start_time_unix_nano: start,
        time_unix_nano: now,
        value: Some(value),
        ..Default::default()
    }
}

/// One request with every service's metrics at `now`; counters count since `start`.
pub(crate) fn request(
    counts: &RequestCounts,
    rng: &mut Rng,
    start: u64,
    now: u64,
) -> ExportMetricsServiceRequest {
    let resource_metrics = SERVICES
        .iter()
        .map(|service| {
            let counter_points: Vec<NumberDataPoint> = counts
                .iter()
                .filter(|((name, _, _), _)| name == service)
                .map(|((_, route, status), count)| NumberDataPoint {
                    attributes: vec![
                        kv("http.route", string(route.as_str())),
                        kv("http.response.status_code", int(*status)),
                    ],
                    ..point(number_data_point::Value::AsInt(*count as i64), start, now)
                })
                .collect();
            let memory = 180e6 + rng.below(40_000_000) as f64;
            let mut metrics = vec![Metric {
                name: "process.memory.usage".to_string(),
                description: "resident memory of the process".to_string(),
                unit: "By".to_string(),
                data: Some(metric::Data::Gauge(Gauge {
                    data_points: vec![point(
                        number_data_point::Value::AsDouble(memory),
                        start,
                        now,
                    )],
                })),
                ..Default::default()
            }];
            if !counter_points.is_empty() {
                metrics.push(Metric {
                    name: "http.server.requests".to_string(),
                    description: "requests served".to_string(),
                    unit: "{request}".to_string(),
                    data: Some(metric::Data::Sum(Sum {
                        data_points: counter_points,
                        aggregation_temporality: AggregationTemporality::Cumulative as i32,
                        is_monotonic: true,
                    })),
                    ..Default::default()
                });
            }
            ResourceMetrics {
                resource: Some(resource(service)),
                scope_metrics: vec![ScopeMetrics {
                    metrics,
                    ..Default::default()
                }],
                ..Default::default()
            }
        })
        .collect();
    ExportMetricsServiceRequest { resource_metrics }
}
