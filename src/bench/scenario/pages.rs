//! UI page server time: each page of the web UI requested `page_requests` times over the data
//! the other scenarios loaded (at standard scale 1M spans and 1M log lines), p50 / p95 against
//! the ≤ 200 ms p95 floor. Every page must answer 200, or the run fails.

use crate::bench::context::{Context, timed_gets};
use crate::bench::results::PageTime;
use crate::bench::workload::METRIC_NAMES;

/// Runs the page times.
pub(crate) async fn run(ctx: &mut Context) -> anyhow::Result<()> {
    // All data: from a minute before the run (the metrics page: the last hour of its
    // compressed-time series).
    let range = format!("start={}", ctx.started_ns / 1_000_000 - 60_000);
    let ids = &ctx.stored.trace_ids;
    anyhow::ensure!(!ids.is_empty(), "no trace ids sampled from the S1 spans");
    let pages: [(&str, String); 7] = [
        (
            "traces: service",
            format!("/traces?service=checkout&{range}"),
        ),
        (
            "traces: service + attribute",
            format!("/traces?service=checkout&fk=customer.tier&fo=eq&fv=pro&{range}"),
        ),
        ("trace view", "/trace/{id}".to_string()),
        (
            "logs: query",
            format!("/logs?q=service%3Acheckout%20AND%20severity%3Aerror&{range}"),
        ),
        (
            "services overview + dependency graph",
            format!("/services?{range}"),
        ),
        ("service page", format!("/services/checkout?{range}")),
        (
            "metrics",
            format!("/metrics/explore?metric={}&range=1h", METRIC_NAMES[4]),
        ),
    ];
    eprintln!(
        "UI: {} pages, {} requests each",
        pages.len(),
        ctx.options.page_requests
    );
    let mut times = Vec::new();
    for (page, path) in pages {
        // The trace view opens a different existing trace each time.
        let urls: Vec<String> = (0..ctx.options.page_requests)
            .map(|index| {
                let id = hex::encode(ids[index * 7 % ids.len()]);
                format!("{}{}", ctx.api, path.replace("{id}", &id))
            })
            .collect();
        let latency = timed_gets(&ctx.client, &urls, 200).await?;
        eprintln!(
            "  {page}: p50 {:.1} ms p95 {:.1} ms",
            latency.p50_ms, latency.p95_ms
        );
        times.push(PageTime {
            page: page.to_string(),
            path,
            latency,
        });
    }
    ctx.results.pages = times;
    Ok(())
}
