//! Metric requests: the series of one client, a third each gauges, monotonic cumulative sums
//! and explicit-bucket histograms, reported every 10 s of *data* time. Time is compressed: the
//! first point lies as many intervals back as the client will send, and the intervals go out
//! as fast as the server takes them, ending near now.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
};

use super::{METHODS, ROUTES, SERVICES, int, kv, now_nanos, resource, string};
use crate::bench::rng::Rng;

/// The metrics sent: two gauges, two sums, two histograms; series `i` reports
/// `METRIC_NAMES[(i % 3) * 2 + (i / 3) % 2]`.
pub(crate) const METRIC_NAMES: [&str; 6] = [
    "system.memory.usage",
    "process.cpu.utilization",
    "http.server.requests",
    "db.client.operations",
    "http.server.request.duration",
    "db.client.operation.duration",
];

/// The export interval the data pretends to have.
const INTERVAL_NS: u64 = 10_000_000_000;
/// Histogram bucket bounds, in seconds.
const BOUNDS: [f64; 9] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// Generates metric requests for one client.
pub(crate) struct MetricWorkload {
    rng: Rng,
    client: String,
    service: &'static str,
    num_series: usize,
    /// Time of the first interval.
    start_ns: u64,
    /// The interval and series the next point belongs to.
    tick: u64,
    next_series: usize,
    /// Running totals of the cumulative sums, per series.
    totals: Vec<i64>,
}

impl MetricWorkload {
    /// A generator of `num_series` series that will send about `total_points` points, so its
    /// first interval is `total_points / num_series` intervals before now.
    pub(crate) fn new(
        client: &str,
        seed: u64,
        num_series: usize,
        total_points: u64,
    ) -> MetricWorkload {
        let num_series = num_series.max(1);
        let ticks = total_points.div_ceil(num_series as u64);
        MetricWorkload {
            rng: Rng::new(seed),
            client: client.to_string(),
            service: SERVICES[(seed % 4) as usize],
            num_series,
            start_ns: now_nanos().saturating_sub(ticks * INTERVAL_NS),
            tick: 0,
            next_series: 0,
            totals: vec![0; num_series],
        }
    }

    fn attributes(series: usize) -> Vec<KeyValue> {
        vec![
            kv("http.route", string(ROUTES[(series / 6) % ROUTES.len()])),
            kv(
                "http.request.method",
                string(METHODS[(series / 36) % METHODS.len()]),
            ),
            kv("bench.series", int(series as i64)),
        ]
    }

    fn histogram_point(&mut self, series: usize, time: u64) -> HistogramDataPoint {
        let bucket_counts: Vec<u64> = (0..=BOUNDS.len()).map(|_| self.rng.below(20)).collect();
        let count: u64 = bucket_counts.iter().sum();
        let sum = bucket_counts
            .iter()
            .zip(BOUNDS.iter().chain([5.0].iter()))
            .map(|(n, bound)| *n as f64 * bound * 0.7)
            .sum();
        HistogramDataPoint {
            attributes: Self::attributes(series),
            start_time_unix_nano: time - INTERVAL_NS,
            time_unix_nano: time,
            count,
            sum: Some(sum),
            bucket_counts,
            explicit_bounds: BOUNDS.to_vec(),
            min: Some(0.001),
            max: Some(4.0),
            ..Default::default()
        }
    }

    /// One request with `num_points` data points: the next series, interval after interval.
    pub(crate) fn next_request(&mut self, num_points: usize) -> ExportMetricsServiceRequest {
        let mut gauges: [Vec<NumberDataPoint>; 2] = Default::default();
        let mut sums: [Vec<NumberDataPoint>; 2] = Default::default();
        let mut histograms: [Vec<HistogramDataPoint>; 2] = Default::default();
        for _ in 0..num_points {
            let series = self.next_series;
            let time = self.start_ns + self.tick * INTERVAL_NS;
            let which = (series / 3) % 2;
            match series % 3 {
                0 => gauges[which].push(NumberDataPoint {
                    attributes: Self::attributes(series),
                    time_unix_nano: time,
                    value: Some(number_data_point::Value::AsDouble(
                        50.0 + self.rng.below(5000) as f64 / 100.0,
                    )),
                    ..Default::default()
                }),
                1 => {
                    self.totals[series] += self.rng.below(100) as i64;
                    sums[which].push(NumberDataPoint {
                        attributes: Self::attributes(series),
                        start_time_unix_nano: self.start_ns - INTERVAL_NS,
                        time_unix_nano: time,
                        value: Some(number_data_point::Value::AsInt(self.totals[series])),
                        ..Default::default()
                    });
                }
                _ => {
                    let point = self.histogram_point(series, time);
                    histograms[which].push(point);
                }
            }
            self.next_series += 1;
            if self.next_series == self.num_series {
                self.next_series = 0;
                self.tick += 1;
            }
        }
        let mut metrics = Vec::new();
        for (which, data_points) in gauges.into_iter().enumerate() {
            metrics.push((which, metric::Data::Gauge(Gauge { data_points })));
        }
        for (which, data_points) in sums.into_iter().enumerate() {
            let sum = Sum {
                data_points,
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            };
            metrics.push((2 + which, metric::Data::Sum(sum)));
        }
        for (which, data_points) in histograms.into_iter().enumerate() {
            let histogram = Histogram {
                data_points,
                aggregation_temporality: AggregationTemporality::Delta as i32,
            };
            metrics.push((4 + which, metric::Data::Histogram(histogram)));
        }
        let metrics = metrics
            .into_iter()
            .filter(|(_, data)| points_in(data) > 0)
            .map(|(index, data)| Metric {
                name: METRIC_NAMES[index].to_string(),
                unit: ["By", "1", "{request}", "{operation}", "s", "s"][index].to_string(),
                data: Some(data),
                ..Default::default()
            })
            .collect();
        let mut resource = resource(self.service, 0);
        resource
            .attributes
            .push(kv("bench.client", string(self.client.as_str())));
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(resource),
                scope_metrics: vec![ScopeMetrics {
                    metrics,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }
}

fn points_in(data: &metric::Data) -> usize {
    match data {
        metric::Data::Gauge(gauge) => gauge.data_points.len(),
        metric::Data::Sum(sum) => sum.data_points.len(),
        metric::Data::Histogram(histogram) => histogram.data_points.len(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_carry_exactly_the_points_asked_for_across_interval_boundaries() {
        let mut workload = MetricWorkload::new("metrics-0", 7, 10, 25);
        let mut total = 0;
        let mut times = std::collections::BTreeSet::new();
        for size in [7, 7, 7, 4] {
            let request = workload.next_request(size);
            let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
            let points: usize = metrics
                .iter()
                .map(|m| points_in(m.data.as_ref().unwrap()))
                .sum();
            assert_eq!(points, size);
            total += points;
            for metric in metrics {
                if let Some(metric::Data::Gauge(gauge)) = &metric.data {
                    times.extend(gauge.data_points.iter().map(|p| p.time_unix_nano));
                }
            }
        }
        assert_eq!(total, 25);
        // 25 points of 10 series: three intervals, 10 s apart, the last one before now.
        assert_eq!(times.len(), 3);
        let times: Vec<u64> = times.into_iter().collect();
        assert_eq!(times[1] - times[0], INTERVAL_NS);
        assert!(*times.last().unwrap() <= now_nanos());
    }
}
