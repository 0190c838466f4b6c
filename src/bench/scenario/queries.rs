//! Trace queries over the S1 spans: S5 trace by id (no time range; existing and missing ids)
//! and S6 trace search (service + attribute + min duration).

use crate::bench::context::{Context, timed_gets};
use crate::bench::options::Scenario;
use crate::bench::results::TraceLookups;
use crate::bench::rng::Rng;

/// S5 at the current size: `lookups` existing ids, then as many missing ones.
pub(crate) async fn trace_lookups(ctx: &Context) -> anyhow::Result<TraceLookups> {
    let mut rng = Rng::new(ctx.options.seed);
    let api = &ctx.api;
    let ids = &ctx.stored.trace_ids;
    anyhow::ensure!(!ids.is_empty(), "no trace ids sampled from the S1 spans");
    let found: Vec<String> = (0..ctx.options.lookups)
        .map(|_| format!("{api}/api/traces/{}", hex::encode(rng.pick(ids))))
        .collect();
    // Its own stream: the generators start from the same seed, so `rng` would repeat their ids.
    let mut unused_ids = Rng::new(ctx.options.seed ^ 0x5eed_0ff5_e7ab_cdef);
    let missing: Vec<String> = (0..ctx.options.lookups)
        .map(|_| format!("{api}/api/traces/{}", hex::encode(unused_ids.trace_id())))
        .collect();
    let lookups = TraceLookups {
        spans_stored: ctx.stored.s1_spans,
        found: timed_gets(&ctx.client, &found, 200).await?,
        missing: timed_gets(&ctx.client, &missing, 404).await?,
    };
    eprintln!(
        "  trace by id p50 {:.1} ms p99 {:.1} ms; missing p50 {:.1} ms ({} spans)",
        lookups.found.p50_ms, lookups.found.p99_ms, lookups.missing.p50_ms, lookups.spans_stored
    );
    Ok(lookups)
}

/// S5 after all S1 spans, and S6, as selected.
pub(crate) async fn run(ctx: &mut Context) -> anyhow::Result<()> {
    if ctx.selected(Scenario::S5) {
        eprintln!("S5: trace by id at {} spans", ctx.stored.s1_spans);
        let lookups = trace_lookups(ctx).await?;
        ctx.results.s5.push(lookups);
    }
    if ctx.selected(Scenario::S6) {
        let search = format!(
            "{}/api/traces?service=checkout&tags=%7B%22customer.tier%22%3A%22pro%22%7D&minDuration=1ms&limit=20",
            ctx.api
        );
        let urls = vec![search; 100.min(ctx.options.lookups)];
        let latency = timed_gets(&ctx.client, &urls, 200).await?;
        eprintln!(
            "S6: trace search p50 {:.1} ms p99 {:.1} ms",
            latency.p50_ms, latency.p99_ms
        );
        ctx.results.s6 = Some(latency);
    }
    Ok(())
}
