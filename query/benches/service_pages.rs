//! What the services pages and the attribute trace search cost at 1M stored spans (the UI
//! page scenario of `periscope bench run UI`), A/B in one run: the same spans stored with
//! the flusher's summaries (`summaries`) and rewritten without them (`scan`, the path files
//! written before summaries take, which is the code before them). Run with
//! `cargo bench -p periscope-query --bench service_pages`; `PERISCOPE_BENCH_SPANS` sets the
//! number of spans (default 1M), `PERISCOPE_BENCH_RECENT` how many stay unflushed (default 0).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use periscope_query::{
    AttrFilter, AttrValue, Engine, FilterOp, QueryConfig, SpanId, SpanRow, TimeWindow, TraceId,
    TraceSearch,
};
use periscope_storage::span_stats::{EdgeCarry, summarize_flush};
use periscope_storage::test_support::span_row;
use periscope_storage::{IngestBatch, Signal, StorageConfig, Store};

const SERVICES: [&str; 5] = ["frontend", "checkout", "payments", "inventory", "postgres"];
const ROUTES: [&str; 6] = ["/", "/cart", "/checkout", "/pay", "/items/{id}", "/search"];
const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];
const BASE_NS: i64 = 1_700_000_000_000_000_000;
/// Spans per second of simulated time.
const RATE: i64 = 10_000;

/// A small xorshift generator: the data is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Traces shaped like the bench workload: depth up to 4, one or two children per span,
/// service by depth, ~14 attributes, 2 % errors.
fn spans(rng: &mut Rng, first_span: u64, count: usize) -> Vec<SpanRow> {
    let mut rows = Vec::with_capacity(count + 16);
    while rows.len() < count {
        let trace = TraceId({
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&rng.next().to_be_bytes());
            bytes[8..].copy_from_slice(&rng.next().to_be_bytes());
            bytes
        });
        let start = BASE_NS + (first_span + rows.len() as u64) as i64 * 1_000_000_000 / RATE;
        let mut stack = vec![(
            None,
            0usize,
            start,
            5_000_000 + rng.below(200_000_000) as i64,
        )];
        while let Some((parent, depth, start, duration)) = stack.pop() {
            let span_id = SpanId(rng.next().max(1).to_be_bytes());
            let service = (depth + if depth > 1 { rng.below(2) as usize } else { 0 }).min(4);
            let error = rng.below(100) < 2;
            let route = ROUTES[rng.below(6) as usize];
            let method = METHODS[rng.below(4) as usize];
            let text = |value: &str| AttrValue::Str(value.to_string());
            let attributes = vec![
                ("bench.client".to_string(), text("bench-0")),
                ("bench.seq".to_string(), AttrValue::Int(rows.len() as i64)),
                ("http.request.method".to_string(), text(method)),
                ("http.route".to_string(), text(route)),
                (
                    "http.response.status_code".to_string(),
                    AttrValue::Int(if error { 500 } else { 200 }),
                ),
                (
                    "url.path".to_string(),
                    text(&route.replace("{id}", &rng.below(10_000).to_string())),
                ),
                (
                    "server.address".to_string(),
                    text(&format!("{}.internal", SERVICES[service])),
                ),
                ("server.port".to_string(), AttrValue::Int(8080)),
                ("network.protocol.version".to_string(), text("1.1")),
                (
                    "user_agent.original".to_string(),
                    text("Mozilla/5.0 (X11; Linux x86_64) bench"),
                ),
                (
                    "thread.id".to_string(),
                    AttrValue::Int(rng.below(64) as i64),
                ),
                (
                    "customer.tier".to_string(),
                    text(["free", "pro", "enterprise"][rng.below(3) as usize]),
                ),
                (
                    "cart.items".to_string(),
                    AttrValue::Int(rng.below(20) as i64),
                ),
            ];
            rows.push(SpanRow {
                parent_span_id: parent,
                flags: 0x100,
                name: format!("{method} {route}"),
                kind: if parent.is_none() { 2 } else { 3 },
                end_time_unix_nano: start + duration,
                status_code: if error { 2 } else { 0 },
                attributes,
                ..span_row(trace.0, span_id.0, start, SERVICES[service])
            });
            if depth < 3 {
                let children = 1 + rng.below(2) as i64;
                for child in 0..children {
                    let slot = duration / (children + 1);
                    stack.push((Some(span_id), depth + 1, start + slot * child, slot / 2 + 1));
                }
            }
        }
    }
    rows
}

/// Stores `total` spans in `dir`: files of 250k spans, and the last `recent` left in memory.
async fn store(dir: &std::path::Path, total: usize, recent: usize) -> Store {
    let config = StorageConfig {
        flush_interval_secs: 3600,
        ..StorageConfig::default()
    };
    let store = Store::open(dir, config).expect("store opens");
    let mut rng = Rng(0x5EED);
    let keep_recent = total.saturating_sub(recent);
    let (mut stored, mut since_flush) = (0, 0);
    while stored < total {
        let rows = spans(&mut rng, stored as u64, 10_000.min(total - stored));
        stored += rows.len();
        since_flush += rows.len();
        let prepared = Store::prepare(IngestBatch::Spans(rows)).expect("rows convert");
        store.append(prepared).await.expect("append");
        if since_flush >= 250_000 || (stored >= keep_recent && stored - since_flush < keep_recent) {
            store.flush_now().expect("flush");
            since_flush = 0;
        }
    }
    store
}

/// Prints what the footer summaries add to the span files.
fn report_summary_bytes(store: &Store) {
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
    let (mut summary_bytes, mut file_bytes, mut rows) = (0, 0, 0);
    for file in store.snapshot(Signal::Spans).files {
        let input = std::fs::File::open(&file.path).expect("file opens");
        file_bytes += input.metadata().expect("metadata").len();
        rows += file.num_rows;
        let reader = SerializedFileReader::new(input).expect("footer");
        let entries = reader
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .cloned();
        for entry in entries.unwrap_or_default() {
            if entry.key == periscope_storage::span_stats::FOOTER_KEY {
                summary_bytes += entry.value.map_or(0, |value| value.len() as u64);
            }
        }
    }
    eprintln!(
        "span files: {rows} spans, {:.2} B/span, of which the summary {:.3} B/span",
        file_bytes as f64 / rows as f64,
        summary_bytes as f64 / rows as f64
    );
}

/// Rewrites every span file without its summary: files as written before summaries.
fn strip_summaries(store: &Store) {
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    for file in store.snapshot(Signal::Spans).files {
        let input = std::fs::File::open(&file.path).expect("file opens");
        let reader = ParquetRecordBatchReaderBuilder::try_new(input)
            .and_then(|builder| builder.build())
            .expect("reader");
        let batches: Vec<_> = reader.map(|batch| batch.expect("batch")).collect();
        let out = std::fs::File::create(&file.path).expect("file created");
        let mut writer = ArrowWriter::try_new(out, batches[0].schema(), None).expect("writer");
        for batch in &batches {
            writer.write(batch).expect("write");
        }
        writer.close().expect("close");
    }
}

fn service_pages(criterion: &mut Criterion) {
    let total: usize = std::env::var("PERISCOPE_BENCH_SPANS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let with_dir = tempfile::tempdir().expect("tempdir");
    let without_dir = tempfile::tempdir().expect("tempdir");
    // What the UI scenario meets: everything flushed (the buffer is written 30 s after the
    // last span). `PERISCOPE_BENCH_RECENT` keeps that many spans in memory instead.
    let recent: usize = std::env::var("PERISCOPE_BENCH_RECENT")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(0);
    let with = runtime.block_on(store(with_dir.path(), total, recent));
    let without = runtime.block_on(store(without_dir.path(), total, recent));
    report_summary_bytes(&with);
    strip_summaries(&without);
    let window = TimeWindow {
        start_ns: BASE_NS - 60_000_000_000,
        end_ns: BASE_NS + (total as i64 / RATE + 120) * 1_000_000_000,
    };
    let search = TraceSearch {
        service: Some("checkout".to_string()),
        filters: vec![AttrFilter {
            key: "customer.tier".to_string(),
            op: FilterOp::Eq,
            value: "pro".to_string(),
        }],
        start_ns: Some(window.start_ns),
        end_ns: Some(window.end_ns),
        limit: 20,
        ..TraceSearch::default()
    };
    let mut group = criterion.benchmark_group("service_pages");
    group.sample_size(10);
    for (label, store) in [("summaries", &with), ("scan", &without)] {
        let engine = Engine::new(store.clone(), QueryConfig::default()).expect("engine");
        runtime.block_on(engine.warm_up()).expect("warm up");
        group.bench_function(format!("services_overview/{label}"), |bencher| {
            bencher.iter(|| {
                runtime.block_on(async {
                    let stats = engine.service_stats(window, 30, None).await.expect("stats");
                    let edges = engine.dependencies(window).await.expect("edges");
                    black_box((stats, edges))
                })
            })
        });
        group.bench_function(format!("service_page/{label}"), |bencher| {
            bencher.iter(|| {
                runtime.block_on(async {
                    let stats = engine
                        .service_stats(window, 30, Some("checkout"))
                        .await
                        .expect("stats");
                    let operations = engine
                        .operation_stats("checkout", window)
                        .await
                        .expect("ops");
                    let edges = engine.dependencies(window).await.expect("edges");
                    black_box((stats, operations, edges))
                })
            })
        });
        group.bench_function(format!("trace_search_attribute/{label}"), |bencher| {
            bencher.iter(|| {
                runtime.block_on(async {
                    black_box(engine.search_traces(&search).await.expect("search"))
                })
            })
        });
    }
    group.finish();
}

/// What the summary adds to a flush: 64k spans of the same shape summarized (rows, buckets,
/// histograms, call edges resolved) with an empty carry.
fn flush_summary(criterion: &mut Criterion) {
    let rows = spans(&mut Rng(0x5EED), 0, 65_536);
    let num_rows = rows.len() as u64;
    let batch = periscope_storage::batch::spans_to_batch(&rows).expect("batch");
    let mut group = criterion.benchmark_group("flush_summary");
    group.throughput(criterion::Throughput::Elements(num_rows));
    group.bench_function("summarize_64k_spans", |bencher| {
        bencher.iter(|| {
            black_box(
                summarize_flush(std::slice::from_ref(&batch), &EdgeCarry::default())
                    .expect("summary"),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, flush_summary, service_pages);
criterion_main!(benches);
