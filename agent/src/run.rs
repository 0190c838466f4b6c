//! Wiring and shutdown. Start: open the buffer (replaying what the checkpoint misses), start
//! the buffer writer, the sender, the checkpointer, the listeners and the source threads.
//! Stop, in this order: sources finish their batch; listeners stop accepting and finish
//! in-flight requests; the writer drains and fsyncs; the sender gets a grace period for its
//! in-flight request; a last checkpoint is written. The buffer is never deleted.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::buffer::{Buffer, run_writer};
use crate::config::Config;
use crate::error::AgentError;
use crate::metrics::Metrics;
use crate::receiver::{ReceiverState, grpc_router, http_router};
use crate::record::BatchLimits;
use crate::sink::{Credentials, Exporter, run_sender};
use crate::source::{self, SourceSetup};

/// Queued buffer writes; sources and receivers wait when it is full.
const WRITER_QUEUE: usize = 64;
/// How long the sender may finish its in-flight request at shutdown.
const SENDER_GRACE: Duration = Duration::from_secs(5);

/// Runs the agent until `shutdown` completes.
///
/// # Errors
/// Startup failures: data dir, checkpoint, buffer, listeners.
pub async fn run(
    config: Config,
    credentials: Arc<Credentials>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AgentError> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(AgentError::io("create data dir", &config.data_dir))?;
    let metrics = Arc::new(Metrics::new(config.sources.keys()));
    let buffer = {
        let (dir, buffer_config, metrics) = (
            config.data_dir.clone(),
            config.buffer.clone(),
            metrics.clone(),
        );
        tokio::task::spawn_blocking(move || Buffer::open(&dir, buffer_config, metrics))
            .await
            .map_err(|err| AgentError::Config(format!("buffer open task failed: {err}")))??
    };
    let checkpoint = buffer.checkpoint();
    let tasks = TaskTracker::new();
    let (writer_tx, writer_rx) = mpsc::channel(WRITER_QUEUE);
    let writer = tokio::spawn(run_writer(buffer.clone(), writer_rx));

    let stop_sender = CancellationToken::new();
    let exporter = Exporter::new(&config.sink, credentials.clone());
    let sender = tokio::spawn(run_sender(
        buffer.clone(),
        exporter,
        credentials,
        metrics.clone(),
        config.sink.batch.max_bytes,
        stop_sender.clone(),
    ));
    let stop_checkpointer = CancellationToken::new();
    let checkpointer = tokio::spawn(checkpoint_loop(
        buffer.clone(),
        Duration::from_millis(config.checkpoint_interval_ms),
        stop_checkpointer.clone(),
    ));

    let stop_listeners = CancellationToken::new();
    let receiver_state = ReceiverState {
        writer: writer_tx.clone(),
        buffer: buffer.clone(),
        metrics: metrics.clone(),
        max_request_bytes: config.otlp.max_request_bytes,
    };
    let mut listen = serde_json::Map::new();
    if let Some(addr) = config.otlp.grpc_address {
        let bound = serve(
            &tasks,
            addr,
            grpc_router(receiver_state.clone()),
            &stop_listeners,
        )
        .await?;
        listen.insert("otlp_grpc".to_string(), bound.to_string().into());
    }
    if let Some(addr) = config.otlp.http_address {
        let bound = serve(
            &tasks,
            addr,
            http_router(receiver_state.clone()),
            &stop_listeners,
        )
        .await?;
        listen.insert("otlp_http".to_string(), bound.to_string().into());
    }
    drop(receiver_state);
    if config.metrics.enabled {
        let addr = config.metrics.address;
        let bound = serve(
            &tasks,
            addr,
            metrics_router(metrics.clone()),
            &stop_listeners,
        )
        .await?;
        listen.insert("metrics".to_string(), bound.to_string().into());
    }
    write_listen_file(&config.data_dir, &listen)?;

    let host_name = config.host_name.clone().unwrap_or_else(host_name);
    let limits = BatchLimits {
        max_bytes: config
            .sink
            .batch
            .max_bytes
            .min(buffer.max_entry_bytes() / 2),
        max_records: config.sink.batch.max_events,
        timeout: Duration::from_millis(config.sink.batch.timeout_ms),
    };
    let stop_sources = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for (name, source_config) in &config.sources {
        let setup = SourceSetup {
            name: name.clone(),
            config: source_config.clone(),
            host_name: host_name.clone(),
            limits,
            writer: writer_tx.clone(),
            metrics: metrics.clone(),
            stop: stop_sources.clone(),
        };
        threads.push(source::spawn(setup, &checkpoint)?);
    }
    drop(writer_tx);
    tracing::info!(
        sources = config.sources.len(),
        endpoint = config.sink.endpoints.first().map(String::as_str).unwrap_or(""),
        data_dir = %config.data_dir.display(),
        "periscope-agent started"
    );

    shutdown.await;
    tracing::info!("shutting down");
    stop_sources.store(true, Ordering::Relaxed);
    buffer.begin_shutdown();
    let joined = tokio::task::spawn_blocking(move || {
        for thread in threads {
            let _ = thread.join();
        }
    });
    let _ = joined.await;
    stop_listeners.cancel();
    tasks.close();
    tasks.wait().await;
    // Every sender of the writer is gone now: it drains, fsyncs and ends.
    let _ = writer.await;
    stop_sender.cancel();
    if tokio::time::timeout(SENDER_GRACE, sender).await.is_err() {
        tracing::warn!(
            "in-flight export did not finish in time; it stays buffered and is resent after restart"
        );
    }
    stop_checkpointer.cancel();
    let _ = checkpointer.await;
    let final_checkpoint = tokio::task::spawn_blocking(move || buffer.checkpoint_blocking()).await;
    match final_checkpoint {
        Ok(Ok(())) => tracing::info!("checkpoints written; bye"),
        Ok(Err(err)) => {
            tracing::error!(error = %err, "final checkpoint failed; the buffer replays on start")
        }
        Err(err) => tracing::error!(error = %err, "final checkpoint task failed"),
    }
    Ok(())
}

async fn checkpoint_loop(buffer: Buffer, interval: Duration, stop: CancellationToken) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = buffer.checkpoint_due() => {}
            () = stop.cancelled() => return,
        }
        let writer = buffer.clone();
        match tokio::task::spawn_blocking(move || writer.checkpoint_blocking()).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::error!(error = %err, "cannot write checkpoints"),
            Err(err) => tracing::error!(error = %err, "checkpoint task failed"),
        }
    }
}

async fn serve(
    tasks: &TaskTracker,
    addr: SocketAddr,
    router: Router,
    stop: &CancellationToken,
) -> Result<SocketAddr, AgentError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| AgentError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| AgentError::Bind { addr, source })?;
    let stop = stop.clone();
    tasks.spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
        if let Err(err) = served {
            tracing::error!(addr = %bound, error = %err, "listener failed");
        }
    });
    Ok(bound)
}

fn metrics_router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(metrics): State<Arc<Metrics>>| async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4",
                    )],
                    metrics.render(),
                )
            }),
        )
        .route(
            "/healthz",
            get(|State(metrics): State<Arc<Metrics>>| async move {
                if metrics.unauthorized.load(Ordering::Relaxed) {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unhealthy: the collector refuses the agent's credentials\n",
                    )
                } else {
                    (StatusCode::OK, "ok\n")
                }
            }),
        )
        .with_state(metrics)
}

/// `listen.json`: the bound addresses (useful with port 0, as the tests use).
fn write_listen_file(
    data_dir: &Path,
    listen: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), AgentError> {
    let path = data_dir.join("listen.json");
    let temp = data_dir.join("listen.json.tmp");
    let text = serde_json::Value::Object(listen.clone()).to_string();
    std::fs::write(&temp, text).map_err(AgentError::io("write listen file", &temp))?;
    std::fs::rename(&temp, &path).map_err(AgentError::io("rename listen file", &path))
}

/// The kernel's hostname, for resource `host.name`.
fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
mod tests;
