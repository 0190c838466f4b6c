//! The send loop against a scripted mock collector on a real socket: retries with
//! Retry-After, partial success, final refusals, failover, and the 401 pause.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes as AxumBytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use prost::Message as _;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::buffer::{Buffer, BufferEntry};
use crate::config::{BatchConfig, BufferConfig, WhenFull};
use crate::metrics::{DropReason, Metrics};

#[derive(Clone, Debug)]
enum Reply {
    Status(u16, Option<u64>),
    PartialSuccess(i64),
    Ok,
}

#[derive(Clone, Default)]
struct Mock {
    script: Arc<Mutex<VecDeque<Reply>>>,
    /// (authorization header, records in the request)
    received: Arc<Mutex<Vec<(String, usize)>>>,
}

async fn handle(State(mock): State<Mock>, headers: HeaderMap, body: AxumBytes) -> Response {
    let raw = if headers.get("content-encoding").is_some() {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut out).unwrap();
        out
    } else {
        body.to_vec()
    };
    let request = ExportLogsServiceRequest::decode(&raw[..]).unwrap();
    let records = request
        .resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .map(|s| s.log_records.len())
        .sum();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    mock.received.lock().unwrap().push((auth, records));
    let reply = mock.script.lock().unwrap().pop_front().unwrap_or(Reply::Ok);
    match reply {
        Reply::Status(code, retry_after) => {
            let mut response = (StatusCode::from_u16(code).unwrap(), "nope").into_response();
            if let Some(secs) = retry_after {
                response.headers_mut().insert("retry-after", secs.into());
            }
            response
        }
        Reply::PartialSuccess(rejected) => ExportLogsServiceResponse {
            partial_success: Some(ExportLogsPartialSuccess {
                rejected_log_records: rejected,
                error_message: "bad timestamp".to_string(),
            }),
        }
        .encode_to_vec()
        .into_response(),
        Reply::Ok => Vec::<u8>::new().into_response(),
    }
}

async fn start_mock(script: Vec<Reply>) -> (Mock, String) {
    let mock = Mock::default();
    mock.script.lock().unwrap().extend(script);
    let router = Router::new()
        .route("/v1/logs", post(handle))
        .with_state(mock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (mock, format!("http://{addr}"))
}

fn entry(records: usize) -> BufferEntry {
    let request = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord::default(); records],
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    };
    BufferEntry {
        signal: crate::buffer::Signal::Logs,
        num_records: records as u32,
        source: String::new(),
        marks: Vec::new(),
        payload: Bytes::from(request.encode_to_vec()),
    }
}

struct Setup {
    buffer: Buffer,
    metrics: Arc<Metrics>,
    credentials: Arc<Credentials>,
    stop: CancellationToken,
    _dir: tempfile::TempDir,
}

fn setup(endpoints: Vec<String>, entries: usize) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let metrics = Arc::new(Metrics::default());
    let config = BufferConfig {
        max_bytes: 1 << 30,
        when_full: WhenFull::Block,
        memory_bytes: 1 << 20,
    };
    let buffer = Buffer::open(dir.path(), config, metrics.clone()).unwrap();
    let batch: Vec<BufferEntry> = (0..entries).map(|_| entry(1)).collect();
    buffer.append_for_test(&batch);
    let sink = SinkConfig {
        endpoints,
        protocol: Protocol::Http,
        compression: Compression::Gzip,
        bearer_token: None,
        bearer_token_file: None,
        request_timeout_ms: 2000,
        batch: BatchConfig::default(),
    };
    let credentials = Arc::new(Credentials::new(Some("old".to_string())));
    let exporter = Exporter::new(&sink, credentials.clone());
    let stop = CancellationToken::new();
    tokio::spawn(run_sender(
        buffer.clone(),
        exporter,
        credentials.clone(),
        metrics.clone(),
        1 << 20,
        stop.clone(),
    ));
    Setup {
        buffer,
        metrics,
        credentials,
        stop,
        _dir: dir,
    }
}

async fn wait_until(what: &str, deadline: Duration, mut check: impl FnMut() -> bool) {
    let until = Instant::now() + deadline;
    while !check() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn load(counter: &std::sync::atomic::AtomicU64) -> u64 {
    counter.load(std::sync::atomic::Ordering::Relaxed)
}

#[tokio::test]
async fn retries_503_with_retry_after_then_counts_partial_success() {
    let (mock, url) = start_mock(vec![Reply::Status(503, Some(1)), Reply::PartialSuccess(1)]).await;
    let s = setup(vec![url], 3);
    let started = Instant::now();
    wait_until("acknowledgement", Duration::from_secs(10), || {
        s.buffer.acked_seq() == 3
    })
    .await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
    let received = mock.received.lock().unwrap().clone();
    assert_eq!(
        received.iter().map(|r| r.1).collect::<Vec<_>>(),
        vec![3, 3],
        "one request of 3 records, retried once"
    );
    assert_eq!(received[0].0, "Bearer old");
    assert_eq!(load(&s.metrics.send_retries), 1);
    assert_eq!(load(&s.metrics.records_sent), 2);
    assert_eq!(s.metrics.dropped_total(DropReason::Rejected), 1);
    s.stop.cancel();
}

#[tokio::test]
async fn final_refusal_is_dropped_and_counted_not_retried() {
    let (mock, url) = start_mock(vec![Reply::Status(400, None)]).await;
    let s = setup(vec![url], 2);
    wait_until("acknowledgement", Duration::from_secs(5), || {
        s.buffer.acked_seq() == 2
    })
    .await;
    assert_eq!(mock.received.lock().unwrap().len(), 1);
    assert_eq!(s.metrics.dropped_total(DropReason::BadRequest), 2);
    assert_eq!(load(&s.metrics.records_sent), 0);
    s.stop.cancel();
}

#[tokio::test]
async fn dead_endpoint_fails_over_to_the_next_at_once() {
    let (mock, url) = start_mock(vec![]).await;
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let s = setup(vec![dead, url], 1);
    wait_until("acknowledgement", Duration::from_millis(900), || {
        s.buffer.acked_seq() == 1
    })
    .await;
    assert_eq!(mock.received.lock().unwrap().len(), 1);
    s.stop.cancel();
}

#[tokio::test]
async fn unauthorized_pauses_until_the_token_is_replaced() {
    let (mock, url) = start_mock(vec![Reply::Status(401, None)]).await;
    let s = setup(vec![url], 1);
    wait_until("pause", Duration::from_secs(5), || {
        s.metrics
            .unauthorized
            .load(std::sync::atomic::Ordering::Relaxed)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        mock.received.lock().unwrap().len(),
        1,
        "no retry loop while unauthorized"
    );
    assert_eq!(s.buffer.acked_seq(), 0, "data stays buffered");
    s.credentials.replace(Some("new".to_string()));
    wait_until("acknowledgement", Duration::from_secs(5), || {
        s.buffer.acked_seq() == 1
    })
    .await;
    assert_eq!(mock.received.lock().unwrap()[1].0, "Bearer new");
    assert!(
        !s.metrics
            .unauthorized
            .load(std::sync::atomic::Ordering::Relaxed)
    );
    s.stop.cancel();
}
