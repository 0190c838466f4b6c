//! `periscope serve`: open storage (replaying the WAL), bind the three listeners, serve, and
//! on shutdown stop in a fixed order: refuse new ingest, drain the servers, let the WAL
//! writer finish, commit the log index, flush the recent buffer to Parquet.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context;
use periscope_collector::{Collector, grpc_router, http_router, span_request_decoder};
use periscope_query::Engine;
use periscope_storage::Store;
use periscope_ui::{UiState, router};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::allocator;
use crate::config::Config;

/// The addresses actually bound (port 0 in the config becomes a real port), written to
/// `<data_dir>/listen.json` so scripts and tests can find the server.
#[derive(Debug, serde::Serialize)]
struct BoundAddresses {
    otlp_grpc: SocketAddr,
    otlp_http: SocketAddr,
    http: SocketAddr,
}

async fn bind(name: &str, address: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address).await.with_context(|| {
        format!("cannot listen on {address} for {name} (is another instance running?)")
    })
}

/// Turns transparent huge pages off for this process. The recent buffer of spans is filled
/// and freed once per flush, hundreds of MiB each time; with THP set to `always` (the default
/// of many distributions and VMs) each first touch of that memory zeroed a 2 MiB page, and
/// the kernel's `clear_page` took a quarter of the server's CPU under span ingest
/// (docs/benchmarks.md). mimalloc makes the same call when asked (`MIMALLOC_ALLOW_THP=0`).
fn disable_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Err(err) = rustix::thread::disable_transparent_huge_pages(true) {
        warn!(error = %err, "cannot turn transparent huge pages off; ingest will use more cpu");
    }
}

/// How often `serve` checks whether ingest has gone quiet.
const IDLE_CHECK: Duration = Duration::from_secs(10);

/// Gives the allocator's free memory back to the OS whenever no record was appended for a
/// whole [`IDLE_CHECK`]: under load it is kept for the next fill (src/allocator.rs), but an
/// idle server kept its peak RSS after every burst.
async fn return_memory_when_idle(store: Store, token: CancellationToken) {
    let mut ticks = tokio::time::interval(IDLE_CHECK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last = store.stats().records_appended_total();
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let appended = store.stats().records_appended_total();
        if appended == last {
            // Cheap when nothing is free (idle CPU stays ~0); a flush may free memory while
            // ingest is quiet, so it runs at every quiet check, not once.
            let _ = tokio::task::spawn_blocking(allocator::return_freed_memory).await;
        }
        last = appended;
    }
}

/// Runs the server until `shutdown` completes, then stops in order.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    config.validate()?;
    disable_transparent_huge_pages();
    let data_dir = config.server.data_dir.clone();
    let storage_config = config.storage.clone();
    let store = tokio::task::spawn_blocking(move || {
        Store::open_with_span_requests(&data_dir, storage_config, span_request_decoder())
    })
    .await
    .context("storage open task failed")?
    .context("cannot open storage")?;
    let collector = Collector::new(store.clone(), config.ingest.clone())?;
    let engine = Engine::new(store.clone(), config.query.clone())?;
    // Index the stored files for trace lookups and the service lists in the background: the
    // server answers meanwhile, and the first lookups do not pay for it.
    let warming = engine.clone();
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        match warming.warm_up().await {
            Ok(()) => info!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "query indexes warmed"
            ),
            Err(err) => tracing::warn!(error = %err, "warming query indexes failed"),
        }
    });

    let metrics_store = store.clone();
    let metrics_collector = collector.clone();
    let state = UiState {
        engine,
        metrics: Arc::new(move |out: &mut String| {
            metrics_collector.stats().render_prometheus(out);
            metrics_store.stats().render_prometheus(out);
        }),
        ready: Arc::new(AtomicBool::new(true)),
        allowed_hosts: config.server.allowed_hosts.clone().into(),
    };

    let grpc_listener = bind("OTLP/gRPC", config.server.otlp_grpc_addr).await?;
    let otlp_http_listener = bind("OTLP/HTTP", config.server.otlp_http_addr).await?;
    let http_listener = bind("the API", config.server.http_addr).await?;
    let bound = BoundAddresses {
        otlp_grpc: grpc_listener.local_addr()?,
        otlp_http: otlp_http_listener.local_addr()?,
        http: http_listener.local_addr()?,
    };
    std::fs::write(
        config.server.data_dir.join("listen.json"),
        serde_json::to_vec(&bound)?,
    )?;
    info!(
        otlp_grpc = %bound.otlp_grpc,
        otlp_http = %bound.otlp_http,
        http = %bound.http,
        data_dir = %config.server.data_dir.display(),
        "periscope is listening"
    );

    let token = CancellationToken::new();
    let tracker = TaskTracker::new();
    let servers = [
        ("otlp-grpc", grpc_listener, grpc_router(collector.clone())),
        (
            "otlp-http",
            otlp_http_listener,
            http_router(collector.clone()),
        ),
        ("api", http_listener, router(state)),
    ];
    for (name, listener, app) in servers {
        let token = token.clone();
        tracker.spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move { token.cancelled().await })
                .await;
            if let Err(err) = served {
                warn!(server = name, error = %err, "server stopped with an error");
            }
        });
    }
    tracker.spawn(return_memory_when_idle(store.clone(), token.clone()));
    tracker.close();

    shutdown.await;
    info!("shutting down: refusing new ingest and draining requests");
    collector.begin_shutdown();
    token.cancel();
    let drain_limit = Duration::from_secs(config.server.shutdown_timeout_secs);
    if tokio::time::timeout(drain_limit, tracker.wait())
        .await
        .is_err()
    {
        warn!(
            timeout_secs = config.server.shutdown_timeout_secs,
            "servers did not drain in time"
        );
    }
    tokio::task::spawn_blocking(move || store.shutdown())
        .await
        .context("storage shutdown task failed")?;
    info!("periscope stopped");
    Ok(())
}
