//! Adds spans and resolved calls up into a [`SpanStats`], and the flusher's one call that
//! summarizes a flush.

use std::collections::{BTreeMap, HashMap};

use arrow::array::RecordBatch;

use super::edges::{EdgeCarry, Resolution, resolve_edges};
use super::rows::StatRows;
use super::{
    BucketCount, Counts, EdgeCell, OperationCell, ServiceCell, SpanStats, latency_bucket,
    time_bucket,
};
use crate::error::StorageError;

/// Counts being added up.
#[derive(Default)]
struct CountsBuilder {
    latency: BTreeMap<u16, u64>,
    buckets: Vec<BucketCount>,
}

impl CountsBuilder {
    fn add(&mut self, bucket: i64, latency: Option<u16>, failed: bool) {
        if let Some(latency) = latency {
            *self.latency.entry(latency).or_default() += 1;
        }
        // Rows of a flush mostly fall in its last bucket or two: look there first.
        let found = self
            .buckets
            .iter_mut()
            .rev()
            .find(|counts| counts.bucket == bucket);
        let counts = match found {
            Some(counts) => counts,
            None => {
                self.buckets.push(BucketCount {
                    bucket,
                    count: 0,
                    errors: 0,
                });
                self.buckets.last_mut().expect("just pushed")
            }
        };
        counts.count += 1;
        counts.errors += u64::from(failed);
    }

    fn finish(mut self) -> Counts {
        self.buckets.sort_by_key(|counts| counts.bucket);
        Counts {
            latency: self.latency.into_iter().collect(),
            buckets: self.buckets,
        }
    }
}

/// Builds the summary of some span rows.
#[derive(Default)]
pub struct SpanStatsBuilder {
    names: Vec<String>,
    name_index: HashMap<String, u32>,
    services: HashMap<(u32, bool), CountsBuilder>,
    operations: HashMap<(u32, u32), CountsBuilder>,
    edges: HashMap<(u32, u32), CountsBuilder>,
}

impl SpanStatsBuilder {
    fn name(&mut self, name: &str) -> u32 {
        if let Some(index) = self.name_index.get(name) {
            return *index;
        }
        let index = self.names.len() as u32;
        self.names.push(name.to_string());
        self.name_index.insert(name.to_string(), index);
        index
    }

    /// Counts every row of `rows` (a span delivered twice counts twice, as a scan would).
    pub fn add_rows(&mut self, rows: &StatRows) {
        let mut last: Option<(&str, u32)> = None;
        for index in 0..rows.len() {
            let row = rows.row(index);
            let service = match last {
                Some((name, service)) if name == row.service => service,
                _ => self.name(row.service),
            };
            last = Some((row.service, service));
            let operation = self.name(row.name);
            let bucket = time_bucket(row.start_ns);
            let latency = Some(latency_bucket(row.duration_ns));
            self.services
                .entry((service, row.entry))
                .or_default()
                .add(bucket, latency, row.failed);
            self.operations
                .entry((service, operation))
                .or_default()
                .add(bucket, latency, row.failed);
        }
    }

    /// Counts the calls of `resolution`, by the time bucket of the child's start.
    pub fn add_edges(&mut self, resolution: &Resolution) {
        let names: Vec<u32> = resolution
            .services
            .iter()
            .map(|name| self.name(name))
            .collect();
        for edge in &resolution.edges {
            let key = (names[edge.caller as usize], names[edge.callee as usize]);
            self.edges
                .entry(key)
                .or_default()
                .add(time_bucket(edge.start_ns), None, edge.failed);
        }
    }

    /// The summary, cells in a stable order.
    pub fn finish(self) -> SpanStats {
        let mut services: Vec<ServiceCell> = self
            .services
            .into_iter()
            .map(|((service, entry), counts)| ServiceCell {
                service,
                entry,
                counts: counts.finish(),
            })
            .collect();
        services.sort_by_key(|cell| (cell.service, cell.entry));
        let mut operations: Vec<OperationCell> = self
            .operations
            .into_iter()
            .map(|((service, operation), counts)| OperationCell {
                service,
                operation,
                counts: counts.finish(),
            })
            .collect();
        operations.sort_by_key(|cell| (cell.service, cell.operation));
        let mut edges: Vec<EdgeCell> = self
            .edges
            .into_iter()
            .map(|((caller, callee), counts)| EdgeCell {
                caller,
                callee,
                buckets: counts.finish().buckets,
            })
            .collect();
        edges.sort_by_key(|cell| (cell.caller, cell.callee));
        SpanStats {
            names: self.names,
            services,
            operations,
            edges,
        }
    }
}

/// The summary of the span batches of one flush, and the carry for the next flush.
pub fn summarize_flush(
    batches: &[RecordBatch],
    carry: &EdgeCarry,
) -> Result<(SpanStats, EdgeCarry), StorageError> {
    let rows = batches
        .iter()
        .map(StatRows::new)
        .collect::<Result<Vec<_>, _>>()?;
    let mut builder = SpanStatsBuilder::default();
    for part in &rows {
        builder.add_rows(part);
    }
    let resolution = resolve_edges(&rows, carry);
    builder.add_edges(&resolution);
    Ok((builder.finish(), resolution.next_carry(carry)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::spans_to_batch;
    use crate::model::{SpanId, SpanRow};
    use crate::span_stats::TIME_BUCKET_NS;
    use crate::test_support::span_row;

    fn span(service: &str, span: u8, parent: Option<u8>, kind: i32, start: i64) -> SpanRow {
        SpanRow {
            parent_span_id: parent.map(|parent| SpanId([parent; 8])),
            name: format!("op {}", span % 2),
            kind,
            end_time_unix_nano: start + 1_000_000,
            status_code: if span == 3 { 2 } else { 0 },
            ..span_row([1; 16], [span; 8], start, service)
        }
    }

    #[test]
    fn a_flush_is_summarized_per_service_operation_bucket_and_edge() {
        let late = 3 * TIME_BUCKET_NS + 5;
        let batch = spans_to_batch(&[
            span("frontend", 1, None, 1, late),
            span("checkout", 2, Some(1), 2, late),
            span("checkout", 3, Some(2), 3, late + TIME_BUCKET_NS),
        ])
        .unwrap();
        let (stats, carry) = summarize_flush(&[batch], &EdgeCarry::default()).unwrap();
        assert_eq!(carry.num_spans(), 3);
        let name = |index: u32| stats.names[index as usize].as_str();
        let services: Vec<(&str, bool, u64)> = stats
            .services
            .iter()
            .map(|cell| (name(cell.service), cell.entry, cell.counts.total()))
            .collect();
        assert_eq!(
            services,
            [
                ("frontend", true, 1),
                ("checkout", false, 1),
                ("checkout", true, 1)
            ]
        );
        let checkout_other = &stats.services[1].counts;
        assert_eq!(
            checkout_other.buckets,
            [BucketCount {
                bucket: 4,
                count: 1,
                errors: 1
            }]
        );
        assert_eq!(checkout_other.latency, [(latency_bucket(1_000_000), 1)]);
        let operations: Vec<(&str, &str, u64)> = stats
            .operations
            .iter()
            .map(|cell| {
                (
                    name(cell.service),
                    name(cell.operation),
                    cell.counts.total(),
                )
            })
            .collect();
        assert_eq!(
            operations,
            [
                ("frontend", "op 1", 1),
                ("checkout", "op 1", 1),
                ("checkout", "op 0", 1)
            ]
        );
        let edges: Vec<(&str, &str, &[BucketCount])> = stats
            .edges
            .iter()
            .map(|cell| {
                (
                    name(cell.caller),
                    name(cell.callee),
                    cell.buckets.as_slice(),
                )
            })
            .collect();
        assert_eq!(
            edges,
            [(
                "frontend",
                "checkout",
                &[BucketCount {
                    bucket: 3,
                    count: 1,
                    errors: 0
                }][..]
            )]
        );
        assert_eq!(stats.bucket_range(), Some((3, 4)));
    }
}
