//! `periscope bench run`: a fresh server, the scenarios of shared/PERFORMANCE.md that exist
//! so far, the figures they produce, and a check that what was sent is what is stored.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail, ensure};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;
use serde::Serialize;
use serde_json::{Value, json};

use super::client::{BenchClient, Export, Signal, Transport};
use super::ingest::{LoadPlan, run_load};
use super::rng::Rng;
use super::server::BenchServer;
use super::stats::Latency;
use super::workload::TraceWorkload;

/// Sizes and options of one run.
#[derive(Debug, Clone)]
pub(crate) struct RunOptions {
    /// Spans to ingest (S1).
    pub(crate) spans: u64,
    /// Log records to ingest (S3).
    pub(crate) logs: u64,
    /// Lookups by trace id (S5).
    pub(crate) lookups: usize,
    /// Freshness probes during S1 (S9).
    pub(crate) probes: usize,
    /// Where results go.
    pub(crate) out_dir: PathBuf,
    /// Log corpus (e.g. shared/data/loghub-2k); built-in lines otherwise.
    pub(crate) corpus: Option<PathBuf>,
    /// Workload seed.
    pub(crate) seed: u64,
}

/// Every figure of a run.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Results {
    /// The machine it ran on.
    pub(crate) machine: Value,
    /// Idle server RSS before any load, MiB.
    pub(crate) idle_rss_mib: f64,
    /// S1: spans acknowledged.
    pub(crate) spans_sent: u64,
    /// S1: spans found stored afterwards.
    pub(crate) spans_stored: u64,
    /// S1: spans per server CPU-second.
    pub(crate) spans_per_cpu_second: f64,
    /// S1: spans per wall-clock second (client on the same machine).
    pub(crate) spans_per_wall_second: f64,
    /// S1: ack latency per request.
    pub(crate) span_ack_latency: Latency,
    /// S9: OK → visible through the trace API.
    pub(crate) ack_to_visible: Latency,
    /// S5: trace by id, existing ids.
    pub(crate) trace_by_id_found: Latency,
    /// S5: trace by id, missing ids.
    pub(crate) trace_by_id_missing: Latency,
    /// S6: trace search (service + attribute + min duration).
    pub(crate) trace_search: Latency,
    /// S3: log records acknowledged / stored.
    pub(crate) logs_sent: u64,
    /// S3: log records found stored.
    pub(crate) logs_stored: u64,
    /// S3: raw log body MB per server CPU-second.
    pub(crate) log_mb_per_cpu_second: f64,
    /// S3: log records per server CPU-second.
    pub(crate) logs_per_cpu_second: f64,
    /// S7: rare-token log search.
    pub(crate) log_needle: Latency,
    /// Parquet bytes per span after a graceful stop.
    pub(crate) bytes_per_span: f64,
    /// Log index bytes per raw log body byte.
    pub(crate) log_index_bytes_per_raw_byte: f64,
    /// Peak server RSS over the run, MiB.
    pub(crate) peak_rss_mib: f64,
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| {
            line.strip_prefix("model name")
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory_kib = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|line| {
            line.strip_prefix("MemTotal:")
                .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    json!({"cpu": model, "cores": cores, "memory_gib": memory_kib / (1 << 20), "build": if cfg!(debug_assertions) { "debug" } else { "release" }})
}

/// Prints a progress line every few seconds until `done`.
fn spawn_progress(label: &'static str, total: u64, counter: Arc<AtomicU64>, done: Arc<AtomicBool>) {
    tokio::spawn(async move {
        let started = Instant::now();
        while !done.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_secs(5)).await;
            let count = counter.load(Ordering::Relaxed);
            eprintln!(
                "  {label}: {count}/{total} acknowledged ({:.0}/s)",
                count as f64 / started.elapsed().as_secs_f64()
            );
        }
    });
}

async fn sql(client: &BenchClient, server: &BenchServer, query: &str) -> anyhow::Result<Value> {
    client
        .post_json(
            &format!("http://{}/api/sql", server.http),
            &json!({"sql": query}),
        )
        .await
}

/// S9: sends one span at a time and measures OK → returned by `GET /api/traces/{id}`.
async fn freshness_probes(
    client: BenchClient,
    grpc: std::net::SocketAddr,
    http: std::net::SocketAddr,
    count: usize,
    seed: u64,
) -> anyhow::Result<Vec<Duration>> {
    let mut workload = TraceWorkload::new("probe", seed);
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let request: ExportTraceServiceRequest = workload.next_request(1);
        let trace_id = hex::encode(&request.resource_spans[0].scope_spans[0].spans[0].trace_id);
        let (outcome, _) = client
            .export(
                Transport::Grpc(grpc),
                Signal::Traces,
                &request.encode_to_vec(),
            )
            .await?;
        if !matches!(outcome, Export::Ok) {
            continue;
        }
        let acked = Instant::now();
        loop {
            let (status, _) = client
                .get(&format!("http://{http}/api/traces/{trace_id}"))
                .await?;
            if status == 200 {
                samples.push(acked.elapsed());
                break;
            }
            ensure!(
                acked.elapsed() < Duration::from_secs(30),
                "probe span not visible after 30 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(samples)
}

async fn timed_gets(client: &BenchClient, urls: &[String], expect: u16) -> anyhow::Result<Latency> {
    let mut samples = Vec::with_capacity(urls.len());
    for url in urls {
        let started = Instant::now();
        let (status, body) = client.get(url).await?;
        samples.push(started.elapsed());
        ensure!(
            status == expect,
            "GET {url} answered {status}, expected {expect}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok(Latency::of(&samples))
}

/// Runs every scenario on one fresh server.
pub(crate) async fn run(options: &RunOptions) -> anyhow::Result<Results> {
    let mut results = Results {
        machine: machine(),
        ..Results::default()
    };
    let data_dir = std::env::temp_dir().join(format!("periscope-bench-{}", now_nanos()));
    let server = BenchServer::start(&data_dir, &[])?;
    let client = BenchClient::new(false);
    tokio::time::sleep(Duration::from_secs(2)).await; // let start-up allocations settle
    results.idle_rss_mib = server.rss_bytes()?.0 as f64 / (1 << 20) as f64;
    eprintln!(
        "idle RSS {:.1} MiB; data in {}",
        results.idle_rss_mib,
        data_dir.display()
    );

    // S1 span ingest over gRPC, with S9 probes alongside.
    eprintln!(
        "S1: {} spans over OTLP/gRPC, 100 per request, 8 connections",
        options.spans
    );
    let plan = LoadPlan {
        total: options.spans,
        per_request: 100,
        connections: 8,
        rate: None,
        transport: Transport::Grpc(server.grpc),
        seed: options.seed,
        corpus: None,
    };
    let counter = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    spawn_progress("spans", options.spans, counter.clone(), done.clone());
    let probes = tokio::spawn(freshness_probes(
        client.clone(),
        server.grpc,
        server.http,
        options.probes,
        options.seed ^ 0xfeed,
    ));
    let cpu_before = server.cpu_seconds()?;
    let load = run_load(&client, Signal::Traces, &plan, counter).await?;
    let cpu = server.cpu_seconds()? - cpu_before;
    done.store(true, Ordering::Relaxed);
    results.ack_to_visible = Latency::of(&probes.await??);
    results.spans_sent = load.acked;
    results.spans_per_cpu_second = load.acked as f64 / cpu.max(1e-9);
    results.spans_per_wall_second = load.acked as f64 / load.wall.as_secs_f64();
    results.span_ack_latency = Latency::of(&load.latencies);
    let stored = sql(&client, &server, "SELECT count(*) AS n FROM spans WHERE service_name <> '' AND attributes['bench.client'] LIKE 'bench-%'").await?;
    results.spans_stored = stored["rows"][0][0].as_u64().context("no span count")?;
    eprintln!(
        "  {:.0} spans per server CPU-second; stored {}/{}",
        results.spans_per_cpu_second, results.spans_stored, results.spans_sent
    );

    // S5 trace by id, no time range, existing and missing ids.
    let mut rng = Rng::new(options.seed);
    let api = format!("http://{}", server.http);
    let found: Vec<String> = (0..options.lookups)
        .map(|_| {
            format!(
                "{api}/api/traces/{}",
                hex::encode(rng.pick(&load.trace_ids))
            )
        })
        .collect();
    // Its own stream: the generators start from the same seed, so `rng` would repeat their ids.
    let mut unused_ids = Rng::new(options.seed ^ 0x5eed_0ff5_e7ab_cdef);
    let missing: Vec<String> = (0..options.lookups)
        .map(|_| format!("{api}/api/traces/{}", hex::encode(unused_ids.trace_id())))
        .collect();
    results.trace_by_id_found = timed_gets(&client, &found, 200).await?;
    results.trace_by_id_missing = timed_gets(&client, &missing, 404).await?;
    eprintln!(
        "S5: trace by id p50 {:.1} ms p99 {:.1} ms ({} spans stored)",
        results.trace_by_id_found.p50_ms, results.trace_by_id_found.p99_ms, results.spans_stored
    );

    // S6 trace search.
    let search = format!(
        "{api}/api/traces?service=checkout&tags=%7B%22customer.tier%22%3A%22pro%22%7D&minDuration=1ms&limit=20"
    );
    results.trace_search = timed_gets(&client, &vec![search; 20.min(options.lookups)], 200).await?;

    // S3 log ingest over gRPC, 1000 records per request.
    eprintln!(
        "S3: {} log records over OTLP/gRPC, 1000 per request, 4 connections",
        options.logs
    );
    let plan = LoadPlan {
        total: options.logs,
        per_request: 1000,
        connections: 4,
        rate: None,
        transport: Transport::Grpc(server.grpc),
        seed: options.seed ^ 0x10,
        corpus: options.corpus.clone(),
    };
    let counter = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    spawn_progress("logs", options.logs, counter.clone(), done.clone());
    let cpu_before = server.cpu_seconds()?;
    let load = run_load(&client, Signal::Logs, &plan, counter).await?;
    // Indexing finishes at the next commit; count it in.
    let deadline = Instant::now() + Duration::from_secs(120);
    // Attribute values match whole: name every client the load used.
    let clients = (0..plan.connections)
        .map(|connection| format!("bench-{connection}"))
        .collect::<Vec<_>>()
        .join("%20OR%20");
    loop {
        let (_, body) = client
            .get(&format!(
                "{api}/api/logs/search?query=bench.client:({clients})&limit=1"
            ))
            .await?;
        let total = serde_json::from_slice::<Value>(&body)?["total"]
            .as_u64()
            .unwrap_or(0);
        results.logs_stored = total;
        if total >= load.acked || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cpu = server.cpu_seconds()? - cpu_before;
    done.store(true, Ordering::Relaxed);
    results.logs_sent = load.acked;
    results.log_mb_per_cpu_second = load.body_bytes as f64 / 1e6 / cpu.max(1e-9);
    results.logs_per_cpu_second = load.acked as f64 / cpu.max(1e-9);
    eprintln!(
        "  {:.1} MB of log lines per server CPU-second; stored {}/{}",
        results.log_mb_per_cpu_second, results.logs_stored, results.logs_sent
    );

    // S7 log needle: a rare token over everything.
    let needles: Vec<String> = (0..options.lookups.min(100))
        .map(|_| format!("{api}/api/logs/search?query=expired%20AND%20stripe&limit=20"))
        .collect();
    results.log_needle = timed_gets(&client, &needles, 200).await?;

    results.peak_rss_mib = server.rss_bytes()?.1 as f64 / (1 << 20) as f64;
    let raw_log_bytes = load.body_bytes;
    server.stop()?; // graceful: the recent buffer goes to Parquet
    let files = BenchServer::disk_usage(&data_dir);
    results.bytes_per_span = files.spans as f64 / results.spans_sent.max(1) as f64;
    results.log_index_bytes_per_raw_byte = files.logs as f64 / raw_log_bytes.max(1) as f64;
    let _ = std::fs::remove_dir_all(&data_dir);
    if results.spans_stored != results.spans_sent || results.logs_stored != results.logs_sent {
        bail!(
            "sent != stored: spans {}/{}, logs {}/{}",
            results.spans_stored,
            results.spans_sent,
            results.logs_stored,
            results.logs_sent
        );
    }
    Ok(results)
}
