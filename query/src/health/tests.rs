//! The summaries path against the scanning path on the same stored data: spans of one trace
//! spread over three flushes and the recent rows (children before and after their parents),
//! several services, errors, entry and non-entry spans.

use periscope_storage::span_stats::TIME_BUCKET_NS;
use periscope_storage::{SpanId, SpanRow, Store};

use crate::services::{self, DependencyEdge, RequestStats, TimeWindow};
use crate::test_support::{span_row, store_with_parts};
use crate::{Engine, QueryConfig, context};

/// Aligned to the time buckets, so a window can cover whole buckets.
const BASE_NS: i64 = 170_000_000 * TIME_BUCKET_NS;
const TRACES: u64 = 400;

/// (service, kind, depth): frontend → checkout (server, then a client span) → payments
/// (server) → postgres (client spans only: a service measured over all its spans).
const CHAIN: [(&str, i32, u64); 5] = [
    ("frontend", 2, 0),
    ("checkout", 2, 1),
    ("checkout", 3, 2),
    ("payments", 2, 3),
    ("postgres", 3, 4),
];

fn span(trace: u64, step: usize) -> SpanRow {
    let (service, kind, depth) = CHAIN[step];
    let mut trace_bytes = [0u8; 16];
    trace_bytes[..8].copy_from_slice(&(trace + 1).to_be_bytes());
    trace_bytes[8..].copy_from_slice(&(trace * 0x9E37_79B9).to_be_bytes());
    let id = |step: usize| SpanId((trace * 16 + step as u64 + 1).to_be_bytes());
    // ~60 s of traces: several time buckets.
    let start = BASE_NS + (trace * 150_000_000) as i64 + depth as i64 * 1_000;
    let duration = 1_000_000 * (1 + (trace * 7 + depth * 13) % 300) as i64;
    SpanRow {
        parent_span_id: (step > 0).then(|| id(step - 1)),
        name: format!("op {}", (trace + depth) % 3),
        kind,
        end_time_unix_nano: start + duration,
        status_code: if (trace + depth).is_multiple_of(11) {
            2
        } else {
            0
        },
        ..span_row(trace_bytes, id(step).0, start, service)
    }
}

/// A store holding three flushed files and recent rows; `phase` 3 stays unflushed.
async fn stored(dir: &std::path::Path) -> Store {
    let parts = (0..4)
        .map(|phase| {
            (0..TRACES)
                .flat_map(|trace| (0..CHAIN.len()).map(move |step| (trace, step)))
                .filter(|(trace, step)| (trace * 7 + *step as u64 * 5) % 4 == phase)
                .map(|(trace, step)| span(trace, step))
                .collect()
        })
        .collect();
    store_with_parts(dir, parts).await
}

struct Both {
    summaries: (Vec<RequestStats>, Vec<RequestStats>, Vec<DependencyEdge>),
    scan: (Vec<RequestStats>, Vec<RequestStats>, Vec<DependencyEdge>),
}

async fn both(engine: &Engine, window: TimeWindow, points: usize) -> Both {
    let summaries = (
        engine.service_stats(window, points, None).await.unwrap(),
        engine.operation_stats("checkout", window).await.unwrap(),
        engine.dependencies(window).await.unwrap(),
    );
    let session = context::session_in_window(&engine.store, &engine.config, &engine.caches, window)
        .await
        .unwrap();
    let scan = (
        services::service_stats(&session, window, points, None)
            .await
            .unwrap(),
        services::operation_stats(&session, "checkout", window)
            .await
            .unwrap(),
        services::dependencies(&session, window).await.unwrap(),
    );
    Both { summaries, scan }
}

fn whole_buckets() -> TimeWindow {
    TimeWindow {
        start_ns: BASE_NS,
        end_ns: BASE_NS + 10 * TIME_BUCKET_NS - 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summaries_match_the_scan_over_whole_buckets() {
    let dir = tempfile::tempdir().unwrap();
    let store = stored(dir.path()).await;
    let engine = Engine::new(store.clone(), QueryConfig::default()).unwrap();
    let (snapshot, carry) = store.spans_with_carry();
    assert_eq!(snapshot.files.len(), 3);
    assert!(!snapshot.recent.is_empty());
    assert!(
        carry.num_pending() > 0,
        "some children wait for their parent"
    );
    let Both { summaries, scan } = both(&engine, whole_buckets(), 1).await;
    assert_eq!(summaries.0.len(), 4, "{:?}", summaries.0);
    assert_eq!(summaries, scan);
    // Calls between every adjacent pair of services, errors included.
    assert_eq!(summaries.2.len(), 3, "{:?}", summaries.2);
    assert!(summaries.2.iter().all(|edge| edge.calls == TRACES));
    assert!(summaries.2.iter().any(|edge| edge.errors > 0));
    // Once the recent rows are flushed too, the summaries alone give the same answer.
    store.flush_now().unwrap();
    let Both { summaries, scan } = both(&engine, whole_buckets(), 1).await;
    assert_eq!(summaries, scan);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sparklines_and_cut_windows_stay_within_a_bucket_of_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    let store = stored(dir.path()).await;
    let engine = Engine::new(store, QueryConfig::default()).unwrap();
    // Spans per 10 s bucket in this data, at most.
    let per_bucket = (TIME_BUCKET_NS / 150_000_000 + 1) as u64;
    let Both { summaries, scan } = both(&engine, whole_buckets(), 30).await;
    for (ours, theirs) in summaries.0.iter().zip(&scan.0) {
        assert_eq!(ours.requests, theirs.requests);
        assert_eq!(ours.series.iter().sum::<u64>(), ours.requests);
        for (a, b) in ours.series.iter().zip(&theirs.series) {
            assert!(a.abs_diff(*b) <= per_bucket, "{ours:?} vs {theirs:?}");
        }
    }
    // A window cutting buckets at both ends: off by at most those two buckets' spans.
    let cut = TimeWindow {
        start_ns: BASE_NS + 12_345_678_901,
        end_ns: BASE_NS + 41_234_567_890,
    };
    let Both { summaries, scan } = both(&engine, cut, 0).await;
    for (ours, theirs) in summaries.0.iter().zip(&scan.0) {
        assert_eq!(ours.name, theirs.name);
        assert!(ours.requests.abs_diff(theirs.requests) <= 2 * per_bucket);
        assert!(ours.p50_ns / theirs.p50_ns < 1.5 && theirs.p50_ns / ours.p50_ns < 1.5);
    }
    for (ours, theirs) in summaries.2.iter().zip(&scan.2) {
        assert_eq!(
            (&ours.caller, &ours.callee),
            (&theirs.caller, &theirs.callee)
        );
        assert!(ours.calls.abs_diff(theirs.calls) <= 2 * per_bucket);
    }
}

/// Rewrites every span file without its footer summary, as files written before summaries
/// existed.
fn strip_summaries(store: &Store) {
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    for file in store.snapshot(periscope_storage::Signal::Spans).files {
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file.path).unwrap())
                .unwrap()
                .build()
                .unwrap();
        let batches: Vec<_> = reader.map(Result::unwrap).collect();
        let out = std::fs::File::create(&file.path).unwrap();
        let mut writer = ArrowWriter::try_new(out, batches[0].schema(), None).unwrap();
        for batch in &batches {
            writer.write(batch).unwrap();
        }
        writer.close().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_without_summaries_are_scanned() {
    let dir = tempfile::tempdir().unwrap();
    let store = stored(dir.path()).await;
    strip_summaries(&store);
    let engine = Engine::new(store, QueryConfig::default()).unwrap();
    let Both { summaries, scan } = both(&engine, whole_buckets(), 30).await;
    assert_eq!(summaries, scan);
    assert_eq!(summaries.2.len(), 3);
}
