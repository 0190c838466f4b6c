//! The whole agent in-process (RELIABILITY A2 at small size): the collector is down, the
//! buffer fills to its cap and blocks, shutdown still finishes promptly, and after a restart
//! with a collector every line arrives exactly once, oldest first.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes as AxumBytes;
use axum::extract::State;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message as _;
use tokio::sync::oneshot;

use super::run;
use crate::config::Config;
use crate::sink::Credentials;

type Received = Arc<Mutex<Vec<String>>>;

async fn collector() -> (Received, String) {
    let received: Received = Arc::default();
    let router = Router::new()
        .route(
            "/v1/logs",
            post(
                |State(received): State<Received>, body: AxumBytes| async move {
                    let request = ExportLogsServiceRequest::decode(&body[..]).unwrap();
                    let mut bodies = received.lock().unwrap();
                    for record in request
                        .resource_logs
                        .iter()
                        .flat_map(|r| &r.scope_logs)
                        .flat_map(|s| &s.log_records)
                    {
                        if let Some(Value::StringValue(text)) =
                            record.body.as_ref().and_then(|b| b.value.as_ref())
                        {
                            bodies.push(text.clone());
                        }
                    }
                    Vec::<u8>::new()
                },
            ),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (received, format!("http://{addr}"))
}

fn config(data_dir: &std::path::Path, logs: &std::path::Path, endpoint: &str) -> Config {
    Config::parse(&format!(
        r#"
        data_dir = "{}"
        checkpoint_interval_ms = 100
        [sources.app]
        include = ["{}/*.log"]
        start_at = "beginning"
        [sink]
        endpoints = ["{endpoint}"]
        protocol = "http"
        compression = "none"
        request_timeout_ms = 500
        batch.timeout_ms = 50
        batch.max_bytes = 16384
        [buffer]
        max_bytes = 262144
        [metrics]
        enabled = false
        "#,
        data_dir.display(),
        logs.display()
    ))
    .unwrap()
}

fn buffer_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir.join("buffer"))
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_buffer_blocks_shuts_down_promptly_and_delivers_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (data, logs) = (dir.path().join("data"), dir.path().join("logs"));
    std::fs::create_dir_all(&logs).unwrap();
    let lines = 8000;
    let text: String = (0..lines)
        .map(|i| format!("line {i:06} {}\n", "p".repeat(100)))
        .collect();
    std::fs::write(logs.join("app.log"), text).unwrap();

    // Collector down: a port nobody listens on.
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let agent = tokio::spawn(run(
        config(&data, &logs, &dead),
        Arc::new(Credentials::new(None)),
        async {
            let _ = stopped.await;
        },
    ));
    let deadline = Instant::now() + Duration::from_secs(20);
    while buffer_bytes(&data) < 200 * 1024 {
        assert!(Instant::now() < deadline, "buffer did not fill");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        buffer_bytes(&data) <= 262_144 + 32 * 1024,
        "cap holds: {}",
        buffer_bytes(&data)
    );
    stop.send(()).unwrap();
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(15), agent)
        .await
        .expect("prompt shutdown")
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));

    // The collector is back: the backlog and the rest of the file arrive, oldest first.
    let (received, url) = collector().await;
    let (stop, stopped) = oneshot::channel::<()>();
    let agent = tokio::spawn(run(
        config(&data, &logs, &url),
        Arc::new(Credentials::new(None)),
        async {
            let _ = stopped.await;
        },
    ));
    let deadline = Instant::now() + Duration::from_secs(60);
    while received.lock().unwrap().len() < lines {
        assert!(
            Instant::now() < deadline,
            "only {} of {lines} arrived",
            received.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(()).unwrap();
    agent.await.unwrap().unwrap();
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), lines, "no duplicates");
    assert_eq!(got.iter().collect::<HashSet<_>>().len(), lines);
    assert!(
        got[0].starts_with("line 000000"),
        "the outage start is delivered first"
    );
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(got, sorted, "in file order");
}
