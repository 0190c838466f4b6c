use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::*;
use crate::tail::{FileKey, Fingerprint};

fn entry(source: &str, ino: u64, offset: u64, payload: &[u8]) -> BufferEntry {
    BufferEntry {
        signal: Signal::Logs,
        num_records: 1,
        source: source.to_string(),
        marks: vec![FileMark {
            key: FileKey { dev: 1, ino },
            fingerprint: Fingerprint { crc: 1, len: 1024 },
            offset,
            path: "/x.log".to_string(),
        }],
        payload: Bytes::copy_from_slice(payload),
    }
}

fn config(max_bytes: u64, when_full: WhenFull, memory_bytes: usize) -> BufferConfig {
    BufferConfig {
        max_bytes,
        when_full,
        memory_bytes,
    }
}

fn open(dir: &Path, config: BufferConfig) -> Buffer {
    Buffer::open(dir, config, Arc::new(Metrics::default())).unwrap()
}

#[tokio::test]
async fn entries_survive_reopen_until_acked_and_checkpointed() {
    let dir = tempfile::tempdir().unwrap();
    let buffer = open(dir.path(), config(1 << 30, WhenFull::Block, 1 << 20));
    buffer
        .append_blocking(&[entry("app", 7, 10, b"a"), entry("app", 7, 20, b"b")])
        .unwrap();
    buffer
        .append_blocking(&[entry("app", 7, 30, b"c")])
        .unwrap();
    let batch = buffer.read_batch(0, 1 << 20).await.unwrap();
    assert_eq!(
        batch.iter().map(|r| &r.payload[..]).collect::<Vec<_>>(),
        vec![b"a", b"b", b"c"]
    );
    buffer.ack(batch[0].seq + 1);
    buffer.checkpoint_blocking().unwrap();
    drop(buffer);
    // The checkpoint says 1 acked; the marks of all three come back (two from the buffer).
    let buffer = open(dir.path(), config(1 << 30, WhenFull::Block, 1 << 20));
    assert_eq!(buffer.checkpoint().known_files("app")[0].offset, 30);
    let batch = buffer.read_batch(0, 1 << 20).await.unwrap();
    assert_eq!(
        batch.iter().map(|r| &r.payload[..]).collect::<Vec<_>>(),
        vec![b"b", b"c"]
    );
}

#[tokio::test]
async fn spilled_payloads_are_read_back_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let buffer = open(dir.path(), config(1 << 30, WhenFull::Block, 4));
    for i in 0..10u8 {
        buffer
            .append_blocking(&[entry("app", 7, u64::from(i), &[i; 3])])
            .unwrap();
    }
    let batch = buffer.read_batch(0, 1 << 20).await.unwrap();
    assert_eq!(batch.len(), 10);
    for (i, ready) in batch.iter().enumerate() {
        assert_eq!(&ready.payload[..], &[i as u8; 3], "seq {}", ready.seq);
    }
    let small = buffer.read_batch(3, 7).await.unwrap();
    assert_eq!(small.len(), 2, "batch limited by bytes");
    assert_eq!(small[0].seq, 3);
}

#[tokio::test]
async fn block_refuses_local_requests_and_drop_oldest_makes_room() {
    let dir = tempfile::tempdir().unwrap();
    let buffer = open(dir.path(), config(256 * 1024, WhenFull::Block, 1 << 20));
    let (tx, rx) = mpsc::channel(16);
    let writer = tokio::spawn(run_writer(buffer.clone(), rx));
    let payload = vec![7u8; 20 * 1024];
    let mut refused = 0;
    for i in 0..20 {
        let (reply, wait) = oneshot::channel();
        tx.send(WriteRequest {
            entry: entry("", 0, i, &payload),
            reply: Some(reply),
            wait_when_full: false,
        })
        .await
        .unwrap();
        if matches!(wait.await.unwrap(), Err(AgentError::BufferFull { .. })) {
            refused += 1;
        }
    }
    assert!(refused > 0, "block policy refuses once the cap is reached");
    assert!(buffer.inner.metrics.buffer_bytes.load(Ordering::Relaxed) <= 256 * 1024);
    drop(tx);
    writer.await.unwrap();
    drop(buffer);

    let dir = tempfile::tempdir().unwrap();
    let buffer = open(
        dir.path(),
        config(256 * 1024, WhenFull::DropOldest, 1 << 20),
    );
    let (tx, rx) = mpsc::channel(16);
    let writer = tokio::spawn(run_writer(buffer.clone(), rx));
    for i in 0..40 {
        let (reply, wait) = oneshot::channel();
        tx.send(WriteRequest {
            entry: entry("", 0, i, &payload),
            reply: Some(reply),
            wait_when_full: false,
        })
        .await
        .unwrap();
        wait.await.unwrap().unwrap();
    }
    let dropped = buffer.inner.metrics.dropped_total(DropReason::BufferFull);
    assert!(dropped > 0);
    let batch = buffer.read_batch(0, 1 << 30).await.unwrap();
    assert_eq!(
        batch.len() as u64 + dropped,
        40,
        "every record is either queued or counted"
    );
    assert_eq!(batch.last().unwrap().seq, 39, "the newest are kept");
    assert!(buffer.inner.metrics.buffer_bytes.load(Ordering::Relaxed) <= 256 * 1024 + 32 * 1024);
    drop(tx);
    writer.await.unwrap();
}
