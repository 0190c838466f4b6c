//! Trace assembly: the step every trace lookup and search ends with, from the rows a query
//! returns (an Arrow batch of the `spans` table) to whole traces (spans decoded, duplicate
//! deliveries removed, grouped by trace, in start order). Run with
//! `cargo bench -p periscope-query --bench trace_assembly`.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use periscope_query::{AttrValue, Origin, SpanId, SpanRow, TraceId, assemble};
use periscope_storage::batch::{spans_from_batch, spans_to_batch};

/// `traces` traces of `spans_per_trace` spans shaped like the bench workload: a root and
/// children, ~15 attributes each, five services.
fn spans(traces: usize, spans_per_trace: usize) -> Vec<SpanRow> {
    let services = ["frontend", "checkout", "payments", "inventory", "postgres"];
    let mut rows = Vec::with_capacity(traces * spans_per_trace);
    for trace in 0..traces {
        let mut trace_bytes = [0u8; 16];
        trace_bytes[..8].copy_from_slice(&(trace as u64 + 1).to_be_bytes());
        trace_bytes[8..].copy_from_slice(&(trace as u64 * 7919).to_be_bytes());
        for span in 0..spans_per_trace {
            let span_id = SpanId(((trace * spans_per_trace + span) as u64 + 1).to_be_bytes());
            let parent = (span > 0).then(|| {
                SpanId(((trace * spans_per_trace + (span - 1) / 2) as u64 + 1).to_be_bytes())
            });
            let start = 1_700_000_000_000_000_000 + (trace * 1_000_000 + span * 1_000) as i64;
            let attributes = (0..15)
                .map(|index| {
                    (
                        format!("attribute.{index}"),
                        AttrValue::Str(format!("value-{}", (trace + index) % 50)),
                    )
                })
                .collect();
            rows.push(SpanRow {
                trace_id: TraceId(trace_bytes),
                span_id,
                parent_span_id: parent,
                trace_state: String::new(),
                flags: 1,
                name: format!("operation {}", span % 6),
                kind: if span == 0 { 2 } else { 3 },
                start_time_unix_nano: start,
                end_time_unix_nano: start + 500_000,
                status_code: 0,
                status_message: String::new(),
                attributes,
                dropped_attributes_count: 0,
                events: Vec::new(),
                dropped_events_count: 0,
                links: Vec::new(),
                dropped_links_count: 0,
                origin: std::sync::Arc::new(Origin {
                    service_name: services[span % services.len()].to_string(),
                    ..Origin::default()
                }),
            });
        }
    }
    rows
}

fn trace_assembly(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("trace_assembly");
    // One large trace (the trace view) and a search page (20 traces of 10 spans).
    for (label, traces, spans_per_trace) in
        [("one_trace_1000_spans", 1, 1000), ("search_20x10", 20, 10)]
    {
        let rows = spans(traces, spans_per_trace);
        let batch = spans_to_batch(&rows).expect("spans convert to a batch");
        group.throughput(Throughput::Elements(rows.len() as u64));
        group.bench_function(format!("{label}/batch_to_traces"), |bencher| {
            bencher.iter(|| {
                let decoded = spans_from_batch(black_box(&batch)).expect("batch decodes");
                black_box(assemble(decoded))
            })
        });
        group.bench_function(format!("{label}/rows_to_traces"), |bencher| {
            bencher.iter_batched(
                || rows.clone(),
                |rows| black_box(assemble(rows)),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, trace_assembly);
criterion_main!(benches);
