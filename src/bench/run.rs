//! `periscope bench run`: a fresh server, the selected scenarios of shared/PERFORMANCE.md in
//! a fixed order (ingest before the queries that need it), bytes on disk after a graceful
//! stop, then S10 on a server of its own. Checks that every acknowledged record is stored.

use std::time::Duration;

use super::client::BenchClient;
use super::context::{Context, Stored, machine};
use super::options::{RunOptions, Scenario};
use super::results::{Disk, Results};
use super::scenario::{http_spans, logs, metrics, pages, queries, spans, steady};
use super::server::BenchServer;
use super::workload::now_nanos;

const MIB: f64 = (1 << 20) as f64;

/// Runs the selected scenarios. The results are complete even when a sent != stored check
/// failed; the failures come back beside them.
pub(crate) async fn run(options: &RunOptions) -> anyhow::Result<(Results, Vec<String>)> {
    let mut results = Results {
        machine: machine(),
        scenarios: options.scenarios.iter().map(|s| s.id()).collect(),
        ..Results::default()
    };
    let mut failures = Vec::new();
    let on_main_server = options.scenarios.iter().any(|s| *s != Scenario::S10);
    if on_main_server {
        let mut ctx = start(options, results).await?;
        scenarios(&mut ctx).await?;
        (results, failures) = finish(ctx)?;
    }
    if options.selected(Scenario::S10) {
        results.s10 = Some(steady::run(options, &mut failures).await?);
    }
    Ok((results, failures))
}

async fn start(options: &RunOptions, mut results: Results) -> anyhow::Result<Context> {
    let started_ns = now_nanos();
    let data_dir = std::env::temp_dir().join(format!("periscope-bench-{started_ns}"));
    let server = BenchServer::start(&data_dir, &[])?;
    tokio::time::sleep(Duration::from_secs(2)).await; // let start-up allocations settle
    results.idle_rss_mib = server.rss_bytes()?.0 as f64 / MIB;
    eprintln!(
        "idle RSS {:.1} MiB; data in {}",
        results.idle_rss_mib,
        data_dir.display()
    );
    Ok(Context {
        options: options.clone(),
        api: format!("http://{}", server.http),
        server,
        data_dir,
        client: BenchClient::new(false),
        results,
        stored: Stored::default(),
        started_ns,
        failures: Vec::new(),
    })
}

async fn scenarios(ctx: &mut Context) -> anyhow::Result<()> {
    if ctx.options.needs_spans() {
        spans::run(ctx).await?;
        queries::run(ctx).await?;
    }
    if ctx.selected(Scenario::S2) {
        http_spans::run(ctx).await?;
    }
    if ctx.options.needs_logs() {
        logs::run(ctx).await?;
    }
    if ctx.options.needs_metrics() {
        metrics::run(ctx).await?;
    }
    if ctx.selected(Scenario::Ui) {
        pages::run(ctx).await?;
    }
    Ok(())
}

/// Peak memory, a graceful stop (the recent buffers go to their files), bytes on disk.
fn finish(mut ctx: Context) -> anyhow::Result<(Results, Vec<String>)> {
    ctx.results.peak_rss_mib = ctx.server.rss_bytes()?.1 as f64 / MIB;
    ctx.server.stop()?;
    let files = BenchServer::disk_usage(&ctx.data_dir);
    let per = |bytes: u64, count: u64| (count > 0).then(|| bytes as f64 / count as f64);
    ctx.results.disk = Some(Disk {
        bytes_per_span: per(files.spans, ctx.stored.all_spans),
        log_index_bytes_per_raw_byte: per(files.logs, ctx.stored.log_body_bytes),
        log_index_bytes_per_record_byte: per(files.logs, ctx.stored.log_record_bytes),
        bytes_per_metric_point: per(files.metrics, ctx.stored.metric_points),
        spans_bytes: files.spans,
        logs_bytes: files.logs,
        metrics_bytes: files.metrics,
        wal_bytes: files.wal,
    });
    let _ = std::fs::remove_dir_all(&ctx.data_dir);
    let _ = std::fs::remove_file(ctx.data_dir.with_extension("log"));
    Ok((ctx.results, ctx.failures))
}
