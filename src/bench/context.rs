//! What the scenarios of one run share: the server under test, a client, the options, the
//! results so far, and what earlier scenarios stored (so later ones can query it).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use serde_json::{Value, json};

use super::client::{BenchClient, Signal};
use super::cpu::{CpuSample, CpuUse};
use super::ingest::{LoadOutcome, LoadPlan, run_load};
use super::options::{RunOptions, Scenario};
use super::results::{Ingest, Results};
use super::server::BenchServer;
use super::stats::Latency;

/// What is stored on the server so far, by the scenarios that stored it.
#[derive(Debug, Default)]
pub(crate) struct Stored {
    /// Trace ids sampled from the S1 spans.
    pub(crate) trace_ids: Vec<[u8; 16]>,
    /// S1 spans acknowledged (0 until S1's spans went in).
    pub(crate) s1_spans: u64,
    /// Every span acknowledged (S1, S2, S9 probes), for bytes per span.
    pub(crate) all_spans: u64,
    /// S3 log records acknowledged (0 until they went in).
    pub(crate) logs: u64,
    /// Raw body bytes of the S3 log records.
    pub(crate) log_body_bytes: u64,
    /// OTLP-encoded bytes of the S3 log records.
    pub(crate) log_record_bytes: u64,
    /// Trace ids sampled from the S3 log records that carry one.
    pub(crate) log_trace_ids: Vec<[u8; 16]>,
    /// The common term of the S3 corpus (S8).
    pub(crate) common_term: String,
    /// S4 metric points acknowledged (0 until they went in).
    pub(crate) metric_points: u64,
}

/// One run's shared state.
pub(crate) struct Context {
    /// Sizes and selection.
    pub(crate) options: RunOptions,
    /// The server under test.
    pub(crate) server: BenchServer,
    /// Its data directory.
    pub(crate) data_dir: PathBuf,
    /// A client without compression.
    pub(crate) client: BenchClient,
    /// `http://{api address}`.
    pub(crate) api: String,
    /// Every figure so far.
    pub(crate) results: Results,
    /// What earlier scenarios stored.
    pub(crate) stored: Stored,
    /// When the run started (ns since the epoch): the start of "all data".
    pub(crate) started_ns: u64,
    /// Checks that failed; the run writes its results, then fails with these.
    pub(crate) failures: Vec<String>,
}

impl Context {
    /// Whether `scenario` was asked for.
    pub(crate) fn selected(&self, scenario: Scenario) -> bool {
        self.options.selected(scenario)
    }

    /// Records a failure unless every acknowledged record was found stored.
    pub(crate) fn check_stored(&mut self, what: &str, sent: u64, stored: u64) {
        if sent != stored {
            let failure = format!("sent != stored: {sent} {what} acknowledged, {stored} stored");
            eprintln!("  {failure}");
            self.failures.push(failure);
        }
    }

    /// Read-only SQL through `POST /api/sql`.
    pub(crate) async fn sql(&self, query: &str) -> anyhow::Result<Value> {
        self.client
            .post_json(&format!("{}/api/sql", self.api), &json!({"sql": query}))
            .await
    }

    /// `SELECT count(*)` of one table under a condition.
    pub(crate) async fn count(&self, table: &str, condition: &str) -> anyhow::Result<u64> {
        let answer = self
            .sql(&format!(
                "SELECT count(*) AS n FROM {table} WHERE {condition}"
            ))
            .await?;
        answer["rows"][0][0]
            .as_u64()
            .with_context(|| format!("no count in {answer}"))
    }

    /// The server's CPU so far, in all and by thread name.
    pub(crate) fn cpu_sample(&self) -> anyhow::Result<CpuSample> {
        self.server.cpu_sample()
    }

    /// Sends a load of `signal`, with progress lines on long runs, and measures it.
    pub(crate) async fn load(
        &self,
        label: &'static str,
        client: &BenchClient,
        signal: Signal,
        plan: &LoadPlan,
    ) -> anyhow::Result<(LoadOutcome, CpuUse)> {
        let counter = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicBool::new(false));
        spawn_progress(label, plan.total, counter.clone(), done.clone());
        let cpu_before = self.cpu_sample()?;
        let outcome = run_load(client, signal, plan, counter).await;
        done.store(true, Ordering::Relaxed);
        let outcome = outcome?;
        Ok((outcome, self.cpu_sample()?.since(&cpu_before)))
    }
}

/// Figures of one ingest: acknowledged, found stored, per CPU and wall-clock second.
pub(crate) fn ingest_figures(outcome: &LoadOutcome, stored: u64, cpu: &CpuUse) -> Ingest {
    let cpu_seconds = cpu.seconds;
    Ingest {
        cpu_by_thread: cpu.by_thread.clone(),
        sent: outcome.acked,
        stored,
        cpu_seconds,
        per_cpu_second: outcome.acked as f64 / cpu_seconds.max(1e-9),
        per_wall_second: outcome.acked as f64 / outcome.wall.as_secs_f64().max(1e-9),
        ack_latency: Latency::of(&outcome.latencies),
        retries: outcome.retries,
    }
}

/// Prints a progress line every few seconds until `done`.
pub(crate) fn spawn_progress(
    label: &'static str,
    total: u64,
    counter: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
) {
    tokio::spawn(async move {
        let started = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            if done.load(Ordering::Relaxed) {
                break;
            }
            let count = counter.load(Ordering::Relaxed);
            eprintln!(
                "  {label}: {count}/{total} acknowledged ({:.0}/s)",
                count as f64 / started.elapsed().as_secs_f64()
            );
        }
    });
}

/// GETs every url in turn, timing each; fails on any other status than `expect`.
pub(crate) async fn timed_gets(
    client: &BenchClient,
    urls: &[String],
    expect: u16,
) -> anyhow::Result<Latency> {
    let mut samples = Vec::with_capacity(urls.len());
    for url in urls {
        let started = Instant::now();
        let (status, body) = client.get(url).await?;
        samples.push(started.elapsed());
        ensure!(
            status == expect,
            "GET {url} answered {status}, expected {expect}: {}",
            String::from_utf8_lossy(&body[..body.len().min(2000)])
        );
    }
    Ok(Latency::of(&samples))
}

/// The machine the run is on.
pub(crate) fn machine() -> Value {
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
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    json!({"cpu": model, "cores": cores, "memory_gib": memory_kib / (1 << 20), "build": build})
}
