//! Service health precomputed per span file: what the services pages need (request counts,
//! errors and a latency histogram per service and per operation, request counts per time
//! bucket, and the service-to-service call edges), computed by the flusher from the rows it
//! writes and stored in the Parquet file's footer (key [`FOOTER_KEY`]). Queries merge these
//! small summaries instead of scanning every span of the window; only the recent rows not yet
//! flushed are read live.
//!
//! Precision, by design:
//! - counts and errors are kept per [`TIME_BUCKET_NS`] bucket of span start, so a window cuts
//!   a file's counts at 10 s granularity (a bucket cut by the window edge is pro-rated);
//! - latency is a histogram with 16 buckets per doubling (each ~4.4 % wide, a percentile read
//!   from a bucket's middle is within ~2.2 % of the true value), kept per file, not per time
//!   bucket: a file cut by the window edge contributes its histogram scaled by its share of
//!   requests inside the window;
//! - edges are resolved within the flush, against the spans of the last flushes still held
//!   in memory ([`EdgeCarry`]), and children whose parent arrives in a later flush are
//!   counted when it does (see `edges.rs` for what is left out).

mod build;
mod codec;
mod edges;
mod rows;

pub use build::{SpanStatsBuilder, summarize_flush};
pub use codec::{FOOTER_KEY, decode, encode};
pub use edges::{EdgeCarry, MAX_CARRY_SPANS, Resolution, ResolvedEdge, resolve_edges};
pub use rows::{BuildKeyHasher, KeyHasher, StatRow, StatRows, span_key};

/// Width of the time buckets counts are kept in: the unit a window cuts a stored file's
/// counts at. Small enough for the 30-point sparkline of a 5-minute range.
pub const TIME_BUCKET_NS: i64 = 10_000_000_000;

/// Latency histogram buckets per doubling of duration.
pub const LATENCY_BUCKETS_PER_OCTAVE: f64 = 16.0;

/// Latency buckets in all: durations up to 2^63 ns.
pub const LATENCY_BUCKETS: usize = 64 * 16;

/// The time bucket of a span start.
pub fn time_bucket(start_ns: i64) -> i64 {
    start_ns.div_euclid(TIME_BUCKET_NS)
}

/// The latency bucket of a duration: `floor(log2(max(d, 1)) * 16)`, the same arithmetic as
/// the SQL the scanning path runs, so both put a span in the same bucket.
pub fn latency_bucket(duration_ns: i64) -> u16 {
    let bucket = ((duration_ns.max(1) as f64).log2() * LATENCY_BUCKETS_PER_OCTAVE).floor();
    (bucket as usize).min(LATENCY_BUCKETS - 1) as u16
}

/// The duration a latency bucket stands for (its geometric middle), ns.
pub fn latency_bucket_value(bucket: i64) -> f64 {
    2f64.powf((bucket as f64 + 0.5) / LATENCY_BUCKETS_PER_OCTAVE)
}

/// Requests and errors in one time bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketCount {
    /// Time bucket ([`time_bucket`] of the span start).
    pub bucket: i64,
    /// Spans.
    pub count: u64,
    /// Spans with status ERROR.
    pub errors: u64,
}

/// Counts of one service or operation in one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// (latency bucket, spans), by bucket; over the whole file.
    pub latency: Vec<(u16, u64)>,
    /// Per time bucket, oldest first.
    pub buckets: Vec<BucketCount>,
}

impl Counts {
    /// Spans in all.
    pub fn total(&self) -> u64 {
        self.buckets.iter().map(|bucket| bucket.count).sum()
    }
}

/// A service's entry spans (SERVER or CONSUMER kind, or roots) or its other spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceCell {
    /// Index of the service name in [`SpanStats::names`].
    pub service: u32,
    /// Entry spans (true) or the others.
    pub entry: bool,
    /// What they add up to.
    pub counts: Counts,
}

/// All spans of one operation (span name) of one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationCell {
    /// Index of the service name in [`SpanStats::names`].
    pub service: u32,
    /// Index of the span name in [`SpanStats::names`].
    pub operation: u32,
    /// What they add up to.
    pub counts: Counts,
}

/// Child spans of `callee` whose parent span is of `caller`, per time bucket of the child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeCell {
    /// Index of the parent's service in [`SpanStats::names`].
    pub caller: u32,
    /// Index of the child's service in [`SpanStats::names`].
    pub callee: u32,
    /// Calls (count) and failed calls (errors) per time bucket of the child's start.
    pub buckets: Vec<BucketCount>,
}

/// The summary of one span file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpanStats {
    /// Service and span names the cells point into.
    pub names: Vec<String>,
    /// Per service and entry flag.
    pub services: Vec<ServiceCell>,
    /// Per service and operation.
    pub operations: Vec<OperationCell>,
    /// Per caller and callee service.
    pub edges: Vec<EdgeCell>,
}

impl SpanStats {
    /// First and last time bucket anything in the summary falls in (edges resolved late may
    /// lie before the file's own spans), or `None` when empty.
    pub fn bucket_range(&self) -> Option<(i64, i64)> {
        let buckets = self
            .services
            .iter()
            .flat_map(|cell| &cell.counts.buckets)
            .chain(self.edges.iter().flat_map(|cell| &cell.buckets))
            .map(|bucket| bucket.bucket);
        buckets.fold(None, |range, bucket| match range {
            None => Some((bucket, bucket)),
            Some((low, high)) => Some((low.min(bucket), high.max(bucket))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_buckets_are_sixteen_per_doubling() {
        assert_eq!(latency_bucket(0), 0);
        assert_eq!(latency_bucket(1), 0);
        assert_eq!(latency_bucket(2), 16);
        assert_eq!(latency_bucket(1 << 20), 320);
        assert_eq!(latency_bucket(i64::MAX), 63 * 16);
        let value = latency_bucket_value(i64::from(latency_bucket(1_000_000)));
        assert!((value / 1_000_000.0 - 1.0).abs() < 0.03, "{value}");
        assert_eq!(time_bucket(-1), -1);
        assert_eq!(time_bucket(TIME_BUCKET_NS), 1);
    }
}
