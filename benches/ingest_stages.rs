//! Criterion micro-benchmarks of the span ingest stages, each on the standard trace workload
//! of `periscope bench` (100 spans per request), so every stage's cost per span can be set
//! beside its limit in shared/PERFORMANCE.md:
//! OTLP bytes → span columns (read, checked and built in one pass) → WAL payload (IPC) +
//! append → Parquet encode.
//!
//! Run: `cargo bench --bench ingest_stages` (docs/benchmarks.md).

// A benchmark fails loudly on a broken setup; there is no caller to hand an error to.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use periscope::bench::workload::TraceWorkload;
use periscope_collector::stages::traces_to_batch;
use periscope_storage::ipc::encode_payload;
use periscope_storage::model::Signal;
use periscope_storage::parquet_file::write_parquet;
use periscope_storage::wal::{Wal, WalConfig};
use prost::Message as _;

/// The server's allocator: these stages allocate per string, so the system allocator would
/// make them look up to twice as slow as they run in `periscope serve`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SPANS_PER_REQUEST: usize = 100;
/// One Parquet row group's worth of spans.
const SPANS_PER_FILE: usize = 64 * 1024;

fn requests(count: usize) -> Vec<Vec<u8>> {
    let mut workload = TraceWorkload::new("criterion", 7);
    (0..count)
        .map(|_| workload.next_request(SPANS_PER_REQUEST).encode_to_vec())
        .collect()
}

fn stages(c: &mut Criterion) {
    let body = requests(1).remove(0);
    let batch = traces_to_batch(&body).unwrap();
    let mut group = c.benchmark_group("span_ingest");
    group.throughput(Throughput::Elements(batch.num_rows() as u64));

    group.bench_function("otlp_to_columns", |b| {
        b.iter(|| traces_to_batch(black_box(&body)).unwrap())
    });
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = Wal::open(
        WalConfig {
            dir: dir.path().join("wal"),
            segment_max_bytes: 64 << 20,
            max_record_bytes: 96 << 20,
        },
        1,
    )
    .unwrap();
    // The fsync is left out: one serves a whole group of requests, and its cost is the disk's.
    group.bench_function("wal_payload_and_append", |b| {
        b.iter(|| {
            let payload = encode_payload(Signal::Spans, black_box(&batch)).unwrap();
            let seq = wal.append(&payload).unwrap();
            if seq % 2000 == 0 {
                wal.truncate_below(seq).unwrap();
            }
        })
    });
    group.finish();

    let batches: Vec<_> = requests(SPANS_PER_FILE / SPANS_PER_REQUEST)
        .iter()
        .map(|body| traces_to_batch(body).unwrap())
        .collect();
    let spans: u64 = batches.iter().map(|batch| batch.num_rows() as u64).sum();
    let mut group = c.benchmark_group("span_flush");
    group.sample_size(10);
    group.throughput(Throughput::Elements(spans));
    let out = tempfile::tempdir().unwrap();
    group.bench_function("parquet_encode_sorted", |b| {
        b.iter(|| write_parquet(out.path(), "bench.parquet", Signal::Spans, &batches, 1).unwrap())
    });
    group.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
