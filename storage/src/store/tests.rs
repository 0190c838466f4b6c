use std::sync::Arc;

use super::*;
use crate::batch::spans_from_batch;
use crate::ipc::encode_span_request;
use crate::test_support::span_row;

/// A WAL in `data_dir` holding one span request record; its "request" is the IPC payload of
/// two spans, which the test decoder below reads back.
fn wal_with_one_span_request(data_dir: &Path) -> RecordBatch {
    let rows = vec![
        span_row([1; 16], [1; 8], 1_000, "shop"),
        span_row([2; 16], [2; 8], 2_000, "cart"),
    ];
    let batch = spans_to_batch(&rows).expect("batch");
    let request = encode_payload(Signal::Spans, &batch).expect("ipc");
    let (mut wal, _) = Wal::open(
        WalConfig {
            dir: data_dir.join("wal"),
            segment_max_bytes: 1 << 20,
            max_record_bytes: MAX_RECORD_BYTES,
        },
        1,
    )
    .expect("wal opens");
    wal.append(&encode_span_request(b"header", &request))
        .expect("append");
    wal.sync().expect("sync");
    batch
}

fn test_decoder(seen_header: Arc<Mutex<Vec<u8>>>) -> SpanRequestDecoder {
    Arc::new(move |header, request| {
        *seen_header.lock().expect("lock") = header.to_vec();
        match decode_payload(request).map_err(|err| err.to_string())? {
            Payload::Batch(_, batch) => Ok(batch),
            _ => Err("not a batch".to_string()),
        }
    })
}

#[test]
fn span_requests_replay_through_the_decoder_into_recent_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sent = wal_with_one_span_request(dir.path());
    let header = Arc::new(Mutex::new(Vec::new()));
    let store = Store::open_with_span_requests(
        dir.path(),
        StorageConfig::default(),
        test_decoder(header.clone()),
    )
    .expect("store opens");
    assert_eq!(*header.lock().expect("lock"), b"header");
    let recent = store.snapshot(Signal::Spans).recent;
    assert_eq!(recent.len(), 1);
    assert_eq!(
        spans_from_batch(&recent[0]).expect("rows"),
        spans_from_batch(&sent).expect("rows")
    );
    assert_eq!(
        store.stats().wal_replayed_records.load(Ordering::Relaxed),
        1
    );
    store.shutdown();
}

#[test]
fn a_wal_of_span_requests_is_not_opened_without_their_decoder() {
    let dir = tempfile::tempdir().expect("tempdir");
    wal_with_one_span_request(dir.path());
    let err = Store::open(dir.path(), StorageConfig::default())
        .err()
        .expect("refused");
    assert!(err.to_string().contains("without their decoder"), "{err}");
    // Nothing was dropped: with the decoder the same WAL still replays.
    let store = Store::open_with_span_requests(
        dir.path(),
        StorageConfig::default(),
        test_decoder(Arc::new(Mutex::new(Vec::new()))),
    )
    .expect("store opens");
    assert_eq!(store.snapshot(Signal::Spans).recent.len(), 1);
    store.shutdown();
}

#[test]
fn a_span_request_the_decoder_refuses_is_counted_as_corrupt() {
    let dir = tempfile::tempdir().expect("tempdir");
    wal_with_one_span_request(dir.path());
    let refuse: SpanRequestDecoder = Arc::new(|_, _| Err("unknown header".to_string()));
    let store = Store::open_with_span_requests(dir.path(), StorageConfig::default(), refuse)
        .expect("store opens");
    assert!(store.snapshot(Signal::Spans).recent.is_empty());
    assert_eq!(store.stats().wal_corrupt_records.load(Ordering::Relaxed), 1);
    store.shutdown();
}

#[test]
fn span_records_of_older_wals_in_the_map_layout_replay_packed_and_flush() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rows = vec![
        span_row([1; 16], [1; 8], 1_000, "shop"),
        span_row([2; 16], [2; 8], 2_000, "cart"),
    ];
    // How releases before spans were built packed wrote a span record: IPC of the maps.
    let maps = crate::batch::unpack_spans(spans_to_batch(&rows).expect("batch")).expect("maps");
    assert!(maps.column_by_name("attributes").is_some());
    {
        let (mut wal, _) = Wal::open(
            WalConfig {
                dir: dir.path().join("wal"),
                segment_max_bytes: 1 << 20,
                max_record_bytes: MAX_RECORD_BYTES,
            },
            1,
        )
        .expect("wal opens");
        wal.append(&encode_payload(Signal::Spans, &maps).expect("ipc"))
            .expect("append");
        wal.sync().expect("sync");
    }
    let store = Store::open(dir.path(), StorageConfig::default()).expect("store opens");
    let recent = store.snapshot(Signal::Spans).recent;
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].schema(), crate::batch::packed_spans_schema());
    assert_eq!(spans_from_batch(&recent[0]).expect("rows"), rows);
    store.flush_now().expect("flush");
    let snapshot = store.snapshot(Signal::Spans);
    assert!(snapshot.recent.is_empty());
    assert_eq!(snapshot.files.len(), 1);
    assert_eq!(snapshot.files[0].num_rows, 2);
    store.shutdown();
}
