//! Logs: S3 ingest over OTLP/gRPC (1000 records per request, 4 connections), S7 needle
//! searches (a rare token, a trace id) and S8 aggregates (a common term counted with a
//! 60-bucket histogram over all data), as selected. The records go in whenever a selected
//! scenario needs them; S3's figures are reported only when S3 itself was selected.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::Value;

use crate::bench::client::{Signal, Transport};
use crate::bench::context::{Context, ingest_figures, timed_gets};
use crate::bench::ingest::LoadPlan;
use crate::bench::options::Scenario;
use crate::bench::results::{LogAggregate, LogIngest, LogNeedle};
use crate::bench::workload::{LogWorkload, NEEDLE, now_nanos};

/// Queries of S8 (shared/PERFORMANCE.md).
const AGGREGATE_QUERIES: usize = 20;

/// `total` of `GET /api/logs/search` for `query` (URL-encoded) over all data, or over
/// `range` (`&start=…&end=…`) when not empty.
async fn log_total(ctx: &Context, query: &str, range: &str) -> anyhow::Result<u64> {
    let (status, body) = ctx
        .client
        .get(&format!(
            "{}/api/logs/search?query={query}&limit=1{range}",
            ctx.api
        ))
        .await?;
    let answer: Value = serde_json::from_slice(&body)?;
    anyhow::ensure!(
        status == 200,
        "log search {query:?} answered {status}: {answer}"
    );
    answer["total"]
        .as_u64()
        .with_context(|| format!("no total in {answer}"))
}

async fn ingest(ctx: &mut Context) -> anyhow::Result<()> {
    let report = if ctx.selected(Scenario::S3) {
        "S3"
    } else {
        "log records for the scenarios that query them (S3 not reported)"
    };
    eprintln!(
        "{report}: {} log records over OTLP/gRPC, 1000 per request, 4 connections",
        ctx.options.logs
    );
    let plan = LoadPlan {
        total: ctx.options.logs,
        per_request: 1000,
        connections: 4,
        rate: None,
        transport: Transport::Grpc(ctx.server.grpc),
        seed: ctx.options.seed ^ 0x10,
        corpus: ctx.options.corpus.clone(),
        client_prefix: "logs".to_string(),
    };
    let cpu_before = ctx.cpu_sample()?;
    let (load, _) = ctx.load("logs", &ctx.client, Signal::Logs, &plan).await?;
    // Records become searchable at the next index commit; that work counts too.
    let deadline = Instant::now() + Duration::from_secs(120);
    let query = plan.log_query();
    let mut stored = log_total(ctx, &query, "").await?;
    while stored < load.acked && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        stored = log_total(ctx, &query, "").await?;
    }
    let cpu = ctx.cpu_sample()?.since(&cpu_before);
    ctx.check_stored("S3 log records", load.acked, stored);
    let records = ingest_figures(&load, stored, &cpu);
    let figures = LogIngest {
        mb_per_cpu_second: load.body_bytes as f64 / 1e6 / cpu.seconds.max(1e-9),
        body_bytes: load.body_bytes,
        record_mb_per_cpu_second: load.record_bytes as f64 / 1e6 / cpu.seconds.max(1e-9),
        record_bytes: load.record_bytes,
        records,
    };
    eprintln!(
        "  {:.2} MB of log lines ({:.2} MB of OTLP log records) per server CPU-second; stored {stored}/{}",
        figures.mb_per_cpu_second, figures.record_mb_per_cpu_second, load.acked
    );
    ctx.stored.logs = load.acked;
    ctx.stored.log_body_bytes = load.body_bytes;
    ctx.stored.log_record_bytes = load.record_bytes;
    ctx.stored.log_trace_ids = load.trace_ids;
    ctx.stored.common_term =
        LogWorkload::new("term", 0, ctx.options.corpus.as_deref())?.common_term();
    if ctx.selected(Scenario::S3) {
        ctx.results.s3 = Some(figures);
    }
    Ok(())
}

async fn needle(ctx: &Context) -> anyhow::Result<LogNeedle> {
    let count = ctx.options.lookups.min(100);
    let api = &ctx.api;
    let rare: Vec<String> = (0..count)
        .map(|_| format!("{api}/api/logs/search?query={NEEDLE}&limit=20"))
        .collect();
    let ids = &ctx.stored.log_trace_ids;
    anyhow::ensure!(!ids.is_empty(), "no trace ids sampled from the S3 records");
    let by_trace: Vec<String> = (0..count)
        .map(|index| {
            let id = hex::encode(ids[index % ids.len()]);
            format!("{api}/api/logs/search?query=trace_id:{id}&limit=20")
        })
        .collect();
    let first_id = hex::encode(ids[0]);
    anyhow::ensure!(
        log_total(ctx, &format!("trace_id:{first_id}"), "").await? > 0,
        "no log record found for trace id {first_id}"
    );
    let figures = LogNeedle {
        lines_stored: ctx.stored.logs,
        rare_token_hits: log_total(ctx, NEEDLE, "").await?,
        rare_token: timed_gets(&ctx.client, &rare, 200).await?,
        trace_id: timed_gets(&ctx.client, &by_trace, 200).await?,
    };
    eprintln!(
        "S7: rare token p50 {:.1} ms ({} hits), trace id p50 {:.1} ms ({} lines)",
        figures.rare_token.p50_ms,
        figures.rare_token_hits,
        figures.trace_id.p50_ms,
        figures.lines_stored
    );
    Ok(figures)
}

/// S8 through the logs page, the only place that counts with a histogram today: its server
/// time covers the top hits, the exact 60-bucket histogram and the facet counts.
async fn aggregate(ctx: &Context) -> anyhow::Result<LogAggregate> {
    let term = ctx.stored.common_term.clone();
    let start_ms = ctx.started_ns / 1_000_000 - 60_000;
    let end_ms = now_nanos() / 1_000_000 + 1_000;
    let range = format!("start={start_ms}&end={end_ms}");
    let url = format!("{}/logs?q={term}&{range}", ctx.api);
    let hits = log_total(ctx, &term, &format!("&{range}")).await?;
    let latency = timed_gets(&ctx.client, &vec![url; AGGREGATE_QUERIES], 200).await?;
    eprintln!(
        "S8: {term:?} ({hits} hits) with a 60-bucket histogram p50 {:.1} ms p99 {:.1} ms",
        latency.p50_ms, latency.p99_ms
    );
    Ok(LogAggregate {
        lines_stored: ctx.stored.logs,
        term,
        hits,
        latency,
    })
}

/// Runs the log scenarios selected.
pub(crate) async fn run(ctx: &mut Context) -> anyhow::Result<()> {
    ingest(ctx).await?;
    if ctx.selected(Scenario::S7) {
        ctx.results.s7 = Some(needle(ctx).await?);
    }
    if ctx.selected(Scenario::S8) {
        ctx.results.s8 = Some(aggregate(ctx).await?);
    }
    Ok(())
}
