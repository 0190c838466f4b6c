//! Adding file summaries and live rows up over a window. A summary's counts are per 10 s
//! bucket: a bucket the window cuts counts for the share of it inside (spans assumed spread
//! evenly over the bucket), and so does its share of each sparkline point. Live rows are
//! counted exactly. Counts are kept as f64 while merging and rounded at the end.

use periscope_storage::span_stats::{
    BucketCount, Counts, LATENCY_BUCKETS, TIME_BUCKET_NS, latency_bucket, latency_bucket_value,
};

use crate::services::{RequestStats, TimeWindow};

/// The window and its sparkline buckets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame {
    window: TimeWindow,
    /// Sparkline points (0: none).
    points: usize,
    /// ns per sparkline point.
    point_ns: i64,
}

impl Frame {
    pub(crate) fn new(window: TimeWindow, points: usize) -> Frame {
        Frame {
            window,
            points,
            // As the scanning path divides the window.
            point_ns: (window.len_ns() / points.max(1) as i64).max(1),
        }
    }

    pub(crate) fn start_ns(&self) -> i64 {
        self.window.start_ns
    }

    pub(crate) fn end_ns(&self) -> i64 {
        self.window.end_ns
    }

    pub(crate) fn contains(&self, start_ns: i64) -> bool {
        (self.window.start_ns..=self.window.end_ns).contains(&start_ns)
    }

    /// Whether time buckets `low..=high` meet the window.
    pub(crate) fn meets_buckets(&self, (low, high): (i64, i64)) -> bool {
        let first = low.saturating_mul(TIME_BUCKET_NS);
        let last = high.saturating_add(1).saturating_mul(TIME_BUCKET_NS) - 1;
        first <= self.window.end_ns && last >= self.window.start_ns
    }

    /// The part of time bucket `bucket` inside the window, inclusive ns, if any.
    fn overlap(&self, bucket: i64) -> Option<(i64, i64)> {
        let first = bucket.saturating_mul(TIME_BUCKET_NS);
        let last = first.saturating_add(TIME_BUCKET_NS - 1);
        let low = first.max(self.window.start_ns);
        let high = last.min(self.window.end_ns);
        (low <= high).then_some((low, high))
    }

    /// The share of time bucket `bucket` inside the window (0..=1).
    pub(crate) fn share(&self, bucket: i64) -> f64 {
        self.overlap(bucket).map_or(0.0, |(low, high)| {
            (high - low + 1) as f64 / TIME_BUCKET_NS as f64
        })
    }

    fn point(&self, start_ns: i64) -> usize {
        (((start_ns - self.window.start_ns) / self.point_ns) as usize).min(self.points - 1)
    }

    /// Spreads `count` spans of time bucket `bucket` over the sparkline points it meets.
    fn spread(&self, series: &mut [f64], bucket: i64, count: f64) {
        let Some((mut low, high)) = self.overlap(bucket) else {
            return;
        };
        let per_ns = count / TIME_BUCKET_NS as f64;
        while low <= high {
            let point = self.point(low);
            let point_last = if point + 1 == self.points {
                high
            } else {
                (self.window.start_ns + (point as i64 + 1) * self.point_ns - 1).min(high)
            };
            series[point] += per_ns * (point_last - low + 1) as f64;
            low = point_last + 1;
        }
    }
}

/// Requests, errors, latency and sparkline of one service or operation being added up.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    requests: f64,
    errors: f64,
    /// Spans per latency bucket (allocated on first use).
    latency: Vec<f64>,
    series: Vec<f64>,
}

impl Tally {
    pub(crate) fn requests(&self) -> f64 {
        self.requests
    }

    fn latency_mut(&mut self) -> &mut [f64] {
        if self.latency.is_empty() {
            self.latency = vec![0.0; LATENCY_BUCKETS];
        }
        &mut self.latency
    }

    fn series_mut(&mut self, frame: &Frame) -> &mut [f64] {
        if self.series.len() != frame.points {
            self.series = vec![0.0; frame.points];
        }
        &mut self.series
    }

    /// Adds a summary's counts: the buckets inside the window, and the latency histogram
    /// scaled by the share of the summary's spans that are inside.
    pub(crate) fn add_counts(&mut self, frame: &Frame, counts: &Counts) {
        let mut inside = 0.0;
        let mut total = 0.0;
        for &BucketCount {
            bucket,
            count,
            errors,
        } in &counts.buckets
        {
            total += count as f64;
            let share = frame.share(bucket);
            if share == 0.0 {
                continue;
            }
            inside += count as f64 * share;
            self.errors += errors as f64 * share;
            if frame.points > 0 {
                let series = self.series_mut(frame);
                frame.spread(series, bucket, count as f64);
            }
        }
        if inside == 0.0 {
            return;
        }
        self.requests += inside;
        let scale = inside / total;
        let latency = self.latency_mut();
        for &(bucket, count) in &counts.latency {
            latency[usize::from(bucket)] += count as f64 * scale;
        }
    }

    /// Adds one live span (already known to be inside the window).
    pub(crate) fn add_span(
        &mut self,
        frame: &Frame,
        start_ns: i64,
        duration_ns: i64,
        failed: bool,
    ) {
        self.requests += 1.0;
        self.errors += f64::from(u8::from(failed));
        self.latency_mut()[usize::from(latency_bucket(duration_ns))] += 1.0;
        if frame.points > 0 {
            let point = frame.point(start_ns);
            self.series_mut(frame)[point] += 1.0;
        }
    }

    /// The `q` quantile (0..=1), ns: the middle of the bucket holding that rank.
    fn percentile(&self, q: f64) -> f64 {
        if self.requests <= 0.0 {
            return 0.0;
        }
        let rank = (q * self.requests)
            .ceil()
            .clamp(1.0, self.requests.max(1.0));
        // Summed fractions are not exact: a hair of slack so the last bucket is reached.
        let rank = rank.min(self.requests) - 1e-6;
        let mut seen = 0.0;
        let mut last = 0.0;
        for (bucket, count) in self.latency.iter().enumerate() {
            if *count <= 0.0 {
                continue;
            }
            seen += count;
            last = latency_bucket_value(bucket as i64);
            if seen >= rank {
                return last;
            }
        }
        last
    }

    pub(crate) fn into_stats(self, name: String, frame: &Frame) -> RequestStats {
        let mut series = rounded(&self.series);
        if frame.points > 0 && series.is_empty() {
            series = vec![0; frame.points];
        }
        RequestStats {
            name,
            requests: self.requests.round() as u64,
            errors: self.errors.round() as u64,
            p50_ns: self.percentile(0.5),
            p95_ns: self.percentile(0.95),
            p99_ns: self.percentile(0.99),
            series,
        }
    }
}

/// Whole numbers adding up to the rounded sum of `values` (largest remainders get the
/// rounding), so a sparkline adds up to its request count.
fn rounded(values: &[f64]) -> Vec<u64> {
    let mut out: Vec<u64> = values.iter().map(|value| value.floor() as u64).collect();
    let target = values.iter().sum::<f64>().round() as u64;
    let short = target.saturating_sub(out.iter().sum());
    let mut by_remainder: Vec<usize> = (0..values.len()).collect();
    by_remainder.sort_by(|a, b| {
        let remainder = |index: usize| values[index] - values[index].floor();
        remainder(*b).total_cmp(&remainder(*a))
    });
    for index in by_remainder.into_iter().take(short as usize) {
        out[index] += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: i64 = TIME_BUCKET_NS;

    #[test]
    fn buckets_cut_by_the_window_count_for_their_share() {
        // Window: the second half of bucket 10 through bucket 11.
        let frame = Frame::new(
            TimeWindow {
                start_ns: 10 * W + W / 2,
                end_ns: 12 * W - 1,
            },
            3,
        );
        assert_eq!(frame.share(9), 0.0);
        assert_eq!(frame.share(10), 0.5);
        assert_eq!(frame.share(11), 1.0);
        let counts = Counts {
            latency: vec![(latency_bucket(1_000), 130)],
            buckets: vec![
                BucketCount {
                    bucket: 9,
                    count: 100,
                    errors: 100,
                },
                BucketCount {
                    bucket: 10,
                    count: 10,
                    errors: 2,
                },
                BucketCount {
                    bucket: 11,
                    count: 20,
                    errors: 0,
                },
            ],
        };
        let mut tally = Tally::default();
        tally.add_counts(&frame, &counts);
        let stats = tally.into_stats("x".to_string(), &frame);
        assert_eq!(stats.requests, 25);
        assert_eq!(stats.errors, 1);
        assert_eq!(stats.series.iter().sum::<u64>(), 25);
        // Points of 5 s: half of bucket 10, then bucket 11 in two halves.
        assert_eq!(stats.series, [5, 10, 10]);
        assert!((stats.p99_ns / 1_000.0 - 1.0).abs() < 0.03);
    }

    #[test]
    fn percentiles_come_from_the_bucket_holding_the_rank() {
        let frame = Frame::new(
            TimeWindow {
                start_ns: 0,
                end_ns: W,
            },
            0,
        );
        let mut tally = Tally::default();
        for index in 0..100 {
            let duration = if index < 90 { 1_000_000 } else { 1_000_000_000 };
            tally.add_span(&frame, 1, duration, index % 10 == 0);
        }
        let stats = tally.into_stats("x".to_string(), &frame);
        assert_eq!((stats.requests, stats.errors), (100, 10));
        assert!((stats.p50_ns / 1e6 - 1.0).abs() < 0.03, "{}", stats.p50_ns);
        assert!((stats.p95_ns / 1e9 - 1.0).abs() < 0.03, "{}", stats.p95_ns);
        assert!(stats.series.is_empty());
    }

    #[test]
    fn rounded_series_add_up() {
        assert_eq!(rounded(&[0.4, 0.4, 0.4, 1.8]), [1, 0, 0, 2]);
        assert_eq!(rounded(&[]), Vec::<u64>::new());
    }
}
