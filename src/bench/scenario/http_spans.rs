//! S2 span ingest over OTLP/HTTP: the S1 workload as protobuf + gzip, then as OTLP/JSON (hex
//! ids, uncompressed), each counted stored by its own client names.

use crate::bench::client::{BenchClient, Signal, Transport};
use crate::bench::context::{Context, ingest_figures};
use crate::bench::ingest::LoadPlan;
use crate::bench::results::{HttpSpans, Ingest};

async fn one(ctx: &mut Context, json: bool) -> anyhow::Result<Ingest> {
    let (label, prefix, transport, client) = if json {
        (
            "JSON",
            "s2json",
            Transport::HttpJson(ctx.server.otlp_http),
            BenchClient::new(false),
        )
    } else {
        (
            "protobuf + gzip",
            "s2proto",
            Transport::Http(ctx.server.otlp_http),
            BenchClient::new(true),
        )
    };
    eprintln!(
        "S2: {} spans over OTLP/HTTP {label}, 100 per request, 8 connections",
        ctx.options.http_spans
    );
    let plan = LoadPlan {
        total: ctx.options.http_spans,
        per_request: 100,
        connections: 8,
        rate: None,
        transport,
        seed: ctx.options.seed ^ if json { 0x2a } else { 0x2b },
        corpus: None,
        client_prefix: prefix.to_string(),
    };
    let (load, cpu) = ctx.load("spans", &client, Signal::Traces, &plan).await?;
    ctx.stored.all_spans += load.acked;
    let stored = ctx
        .count(
            "spans",
            &format!("attributes['bench.client'] LIKE '{prefix}-%'"),
        )
        .await?;
    ctx.check_stored(&format!("S2 {label} spans"), load.acked, stored);
    let figures = ingest_figures(&load, stored, &cpu);
    eprintln!(
        "  {:.0} spans per server CPU-second; stored {stored}/{}",
        figures.per_cpu_second, figures.sent
    );
    Ok(figures)
}

/// Runs S2.
pub(crate) async fn run(ctx: &mut Context) -> anyhow::Result<()> {
    let protobuf_gzip = one(ctx, false).await?;
    let json = one(ctx, true).await?;
    ctx.results.s2 = Some(HttpSpans {
        protobuf_gzip,
        json,
    });
    Ok(())
}
