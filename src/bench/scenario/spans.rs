//! S1 span ingest over OTLP/gRPC (100 spans per request, 8 connections), with the S9 probes
//! alongside and S5 at a checkpoint: when more spans are sent than `s5_also_at` (1M), S5 is
//! measured after that many too, with S1 and the probes paused, so full scale reports it at
//! 1M and at 10M spans (shared/PERFORMANCE.md).
//!
//! The spans go in whenever a selected scenario needs them; S1's figures are reported only
//! when S1 itself was selected.

use std::sync::Arc;

use tokio::sync::RwLock;

use super::{freshness, queries};
use crate::bench::client::{Signal, Transport};
use crate::bench::context::{Context, ingest_figures};
use crate::bench::cpu::CpuUse;
use crate::bench::ingest::{LoadOutcome, LoadPlan};
use crate::bench::options::Scenario;
use crate::bench::stats::Latency;

/// Ingests the S1 spans; reports S1, S9 and the S5 checkpoint as selected.
pub(crate) async fn run(ctx: &mut Context) -> anyhow::Result<()> {
    let total = ctx.options.spans;
    let mut milestones = vec![total];
    let checkpoint = ctx.options.s5_also_at;
    if total > checkpoint && checkpoint > 0 && ctx.selected(Scenario::S5) {
        milestones.insert(0, checkpoint);
    }
    let report = if ctx.selected(Scenario::S1) {
        "S1"
    } else {
        "spans for the scenarios that query them (S1 not reported)"
    };
    eprintln!("{report}: {total} spans over OTLP/gRPC, 100 per request, 8 connections");
    let gate = Arc::new(RwLock::new(()));
    let probes = ctx.selected(Scenario::S9).then(|| {
        tokio::spawn(freshness::probes(
            ctx.client.clone(),
            ctx.server.grpc,
            ctx.server.http,
            ctx.options.probes,
            ctx.options.seed ^ 0xfeed,
            gate.clone(),
        ))
    });
    let mut all = LoadOutcome::default();
    let mut cpu = CpuUse::default();
    let mut sent = 0;
    for (phase, milestone) in milestones.iter().enumerate() {
        let plan = LoadPlan {
            total: milestone - sent,
            per_request: 100,
            connections: 8,
            rate: None,
            transport: Transport::Grpc(ctx.server.grpc),
            seed: ctx.options.seed.wrapping_add(phase as u64 * 0x1_0000),
            corpus: None,
            client_prefix: format!("s1p{phase}"),
        };
        let (load, phase_cpu) = ctx
            .load("spans", &ctx.client, Signal::Traces, &plan)
            .await?;
        sent += load.acked;
        cpu.add(&phase_cpu);
        all.acked += load.acked;
        all.retries += load.retries;
        all.wall += load.wall;
        all.latencies.extend(load.latencies);
        all.trace_ids.extend(load.trace_ids);
        ctx.stored.trace_ids.clone_from(&all.trace_ids);
        ctx.stored.s1_spans = sent;
        if *milestone < total {
            let paused = gate.write().await;
            eprintln!("S5 at {sent} spans (S1 paused)");
            let lookups = queries::trace_lookups(ctx).await?;
            ctx.results.s5.push(lookups);
            drop(paused);
        }
    }
    ctx.stored.all_spans += all.acked;
    if let Some(probes) = probes {
        let samples = probes.await??;
        ctx.stored.all_spans += samples.len() as u64;
        let latency = Latency::of(&samples);
        eprintln!(
            "S9: ack → visible p50 {:.1} ms p99 {:.1} ms",
            latency.p50_ms, latency.p99_ms
        );
        ctx.results.s9 = Some(latency);
    }
    let stored = ctx
        .count(
            "spans",
            "service_name <> '' AND attributes['bench.client'] LIKE 's1p%'",
        )
        .await?;
    ctx.check_stored("S1 spans", all.acked, stored);
    let figures = ingest_figures(&all, stored, &cpu);
    eprintln!(
        "  {:.0} spans per server CPU-second; stored {stored}/{}",
        figures.per_cpu_second, figures.sent
    );
    if ctx.selected(Scenario::S1) {
        ctx.results.s1 = Some(figures);
    }
    Ok(())
}
