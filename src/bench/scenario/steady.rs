//! S10 steady state on a fresh server of its own (so earlier loads do not colour its memory):
//! 10k spans/s and 2k log lines/s (`steady_rate` and a fifth of it) at a fixed rate for
//! `steady_seconds` after a short warm-up;
//! server CPU as a percentage of one core, RSS (median and max of one sample a second) and
//! data directory growth per minute, then sent == stored.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::bench::client::{BenchClient, Signal, Transport};
use crate::bench::context::spawn_progress;
use crate::bench::ingest::{LoadPlan, run_load};
use crate::bench::options::RunOptions;
use crate::bench::results::Steady;
use crate::bench::server::BenchServer;
use crate::bench::workload::now_nanos;

const SPANS_PER_REQUEST: u64 = 100;
const LOGS_PER_REQUEST: u64 = 100;
const MIB: f64 = (1 << 20) as f64;

fn plan(transport: Transport, per_second: u64, per_request: u64, seconds: u64) -> LoadPlan {
    LoadPlan {
        total: per_second * seconds,
        per_request: per_request as usize,
        connections: 2,
        rate: Some((per_second / per_request) as f64),
        transport,
        seed: per_second,
        corpus: None,
        client_prefix: "s10".to_string(),
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// Runs S10; `failures` gets any sent != stored.
pub(crate) async fn run(
    options: &RunOptions,
    failures: &mut Vec<String>,
) -> anyhow::Result<Steady> {
    let data_dir = std::env::temp_dir().join(format!("periscope-bench-steady-{}", now_nanos()));
    let server = BenchServer::start(&data_dir, &[])?;
    let client = BenchClient::new(false);
    let spans_per_second = options.steady_rate;
    let logs_per_second = options.steady_rate / 5;
    let warmup = (options.steady_seconds / 6).clamp(1, 10);
    let seconds = warmup + options.steady_seconds;
    eprintln!(
        "S10: {spans_per_second} spans/s + {logs_per_second} log lines/s for {} s after {warmup} s of warm-up",
        options.steady_seconds
    );
    let transport = Transport::Grpc(server.grpc);
    let span_plan = plan(transport, spans_per_second, SPANS_PER_REQUEST, seconds);
    let log_plan = plan(transport, logs_per_second, LOGS_PER_REQUEST, seconds);
    let log_query = log_plan.log_query();
    let counter = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    spawn_progress(
        "steady spans",
        span_plan.total,
        counter.clone(),
        done.clone(),
    );
    let started = Instant::now();
    let spans = tokio::spawn({
        let (client, plan) = (client.clone(), span_plan.clone());
        async move { run_load(&client, Signal::Traces, &plan, counter).await }
    });
    let logs = tokio::spawn({
        let (client, plan) = (client.clone(), log_plan.clone());
        async move { run_load(&client, Signal::Logs, &plan, Arc::default()).await }
    });
    tokio::time::sleep(Duration::from_secs(warmup)).await;
    let (cpu_before, disk_before, window_start) = (
        server.cpu_seconds()?,
        BenchServer::total_bytes(&data_dir),
        Instant::now(),
    );
    let measured = Duration::from_secs(options.steady_seconds);
    let sample_every = if options.steady_seconds < 10 {
        Duration::from_millis(250)
    } else {
        Duration::from_secs(1)
    };
    let mut rss = Vec::new();
    while window_start.elapsed() < measured {
        tokio::time::sleep(sample_every).await;
        rss.push(server.rss_bytes()?.0 as f64 / MIB);
    }
    let window = window_start.elapsed().as_secs_f64();
    let cpu = server.cpu_seconds()? - cpu_before;
    let disk_after = BenchServer::total_bytes(&data_dir);
    let spans = spans.await??;
    let logs = logs.await??;
    done.store(true, Ordering::Relaxed);
    let load_seconds = started.elapsed().as_secs_f64();
    let api = format!("http://{}/api", server.http);
    let answer: Value = client
        .post_json(
            &format!("{api}/sql"),
            &json!({"sql": "SELECT count(*) FROM spans WHERE attributes['bench.client'] LIKE 's10-%'"}),
        )
        .await?;
    let spans_stored = answer["rows"][0][0].as_u64().unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(60);
    let logs_stored = loop {
        let (_, body) = client
            .get(&format!("{api}/logs/search?query={log_query}&limit=1"))
            .await?;
        let total = serde_json::from_slice::<Value>(&body)?["total"]
            .as_u64()
            .unwrap_or(0);
        if total >= logs.acked || Instant::now() > deadline {
            break total;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for (what, sent, stored) in [
        ("S10 spans", spans.acked, spans_stored),
        ("S10 log records", logs.acked, logs_stored),
    ] {
        if sent != stored {
            failures.push(format!(
                "sent != stored: {sent} {what} acknowledged, {stored} stored"
            ));
        }
    }
    server.stop()?;
    let _ = std::fs::remove_dir_all(&data_dir);
    let _ = std::fs::remove_file(data_dir.with_extension("log"));
    let steady = Steady {
        seconds: window,
        spans_per_second_target: spans_per_second as f64,
        spans_per_second: spans.acked as f64 / load_seconds,
        logs_per_second_target: logs_per_second as f64,
        logs_per_second: logs.acked as f64 / load_seconds,
        cpu_percent_of_core: cpu / window * 100.0,
        rss_max_mib: rss.iter().copied().fold(0.0, f64::max),
        rss_median_mib: median(&mut rss),
        disk_growth_mib_per_minute: disk_after.saturating_sub(disk_before) as f64 / MIB / window
            * 60.0,
        spans_sent: spans.acked,
        spans_stored,
        logs_sent: logs.acked,
        logs_stored,
    };
    if steady.spans_per_second < 0.95 * steady.spans_per_second_target {
        eprintln!(
            "  the generator fell behind: {:.0} spans/s of {spans_per_second}",
            steady.spans_per_second
        );
    }
    eprintln!(
        "  server CPU {:.1} % of a core, RSS median {:.1} MiB max {:.1} MiB, disk +{:.2} MiB/min",
        steady.cpu_percent_of_core,
        steady.rss_median_mib,
        steady.rss_max_mib,
        steady.disk_growth_mib_per_minute
    );
    Ok(steady)
}
