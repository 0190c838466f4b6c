//! S4 metrics ingest over OTLP/gRPC: 1k series (gauges, cumulative sums, histograms) at a
//! 10 s interval compressed in time, 1000 points per request (an SDK's export of every
//! series), 4 connections; sent == stored by counting rows of the `metrics` table.

use crate::bench::client::{Signal, Transport};
use crate::bench::context::{Context, ingest_figures};
use crate::bench::ingest::LoadPlan;
use crate::bench::options::Scenario;

/// Ingests the S4 points; reports S4 when selected.
pub(crate) async fn run(ctx: &mut Context) -> anyhow::Result<()> {
    let report = if ctx.selected(Scenario::S4) {
        "S4"
    } else {
        "metric points for the metrics page (S4 not reported)"
    };
    eprintln!(
        "{report}: {} metric points of 1000 series over OTLP/gRPC, 1000 per request, 4 connections",
        ctx.options.metric_points
    );
    let plan = LoadPlan {
        total: ctx.options.metric_points,
        per_request: 1000,
        connections: 4,
        rate: None,
        transport: Transport::Grpc(ctx.server.grpc),
        seed: ctx.options.seed ^ 0x40,
        corpus: None,
        client_prefix: "metrics".to_string(),
    };
    let (load, cpu) = ctx
        .load("points", &ctx.client, Signal::Metrics, &plan)
        .await?;
    let stored = ctx
        .count(
            "metrics",
            "resource_attributes['bench.client'] LIKE 'metrics-%'",
        )
        .await?;
    ctx.check_stored("S4 metric points", load.acked, stored);
    ctx.stored.metric_points = load.acked;
    let figures = ingest_figures(&load, stored, &cpu);
    eprintln!(
        "  {:.0} points per server CPU-second; stored {stored}/{}",
        figures.per_cpu_second, figures.sent
    );
    if ctx.selected(Scenario::S4) {
        ctx.results.s4 = Some(figures);
    }
    Ok(())
}
