//! `periscope bench`: a load generator (`gen`) and the benchmark suite (`run`) of
//! shared/PERFORMANCE.md. Figures come from the server process's own CPU and memory counters
//! (/proc), so the generator sharing the machine does not distort per-CPU-second rates.

pub(crate) mod client;
mod context;
mod cpu;
mod ingest;
mod options;
mod report;
mod results;
pub(crate) mod rng;
mod run;
mod scenario;
mod server;
mod stats;
pub mod workload;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use anyhow::bail;

use client::{BenchClient, Signal, Transport};
use ingest::{LoadPlan, run_load};
use options::{number, text};

/// Usage of `periscope bench`.
pub const USAGE: &str = "\
periscope bench: load generator and benchmark suite

USAGE:
    periscope bench run [SCENARIO…] [--scale smoke|standard|full] [--spans N] [--http-spans N]
                        [--logs N] [--metric-points N] [--lookups N] [--s5-also-at N] [--probes N]
                        [--page-requests N] [--steady-seconds N] [--steady-rate SPANS_PER_S]
                        [--corpus DIR] [--out DIR] [--seed N]
    periscope bench gen --otlp-grpc ADDR | --otlp-http ADDR [--signal traces|logs|metrics]
                        [--total N] [--per-request N] [--connections N] [--rate REQ_PER_S]
                        [--gzip] [--json] [--corpus DIR] [--seed N]

`run` starts a fresh server on a temp data dir and runs the scenarios of
shared/PERFORMANCE.md given by id (none = all): S1 spans over gRPC, S9 freshness during S1,
S5 trace by id, S6 trace search, S2 spans over OTLP/HTTP (protobuf + gzip, JSON), S3 logs,
S7 log needle, S8 log aggregate, S4 metrics, UI page times, S10 steady state (on a server of
its own). Data a scenario queries is ingested even when its ingest scenario is not selected
(then not reported). It checks sent == stored and writes <out>/results.json and
<out>/results.md (default target/bench); a failed check fails the run after writing them.
Scales: smoke = seconds (what CI runs); standard = 1M spans, 1M logs, 1M metric points,
200k HTTP spans per encoding, 60 s steady at 10k spans/s + 2k lines/s; full = 10M spans (S5 at 1M and 10M), 20M logs,
10M points, 2M HTTP spans per encoding, 600 s steady. Size flags override the scale.

`gen` sends load to any server; --rate is requests per second over all connections (without
it, flat out); --json sends OTLP/JSON over --otlp-http.
";

/// Parses and runs `periscope bench …` (arguments after `bench`).
pub fn main(args: impl IntoIterator<Item = String>) -> anyhow::Result<()> {
    let mut args = args.into_iter();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match args.next().as_deref() {
        Some("run") => {
            let arguments: Vec<String> = args.collect();
            let options = options::parse(arguments.clone().into_iter())?;
            let (mut results, failures) = runtime.block_on(run::run(&options))?;
            results.arguments = arguments;
            report::write(&options.out_dir, &results)?;
            print!("{}", report::markdown(&results));
            if !failures.is_empty() {
                bail!("{}", failures.join("; "));
            }
            Ok(())
        }
        Some("gen") => runtime.block_on(generate(args)),
        Some("-h" | "--help") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown bench command {other:?}; see `periscope bench --help`"),
    }
}

async fn generate(mut args: impl Iterator<Item = String>) -> anyhow::Result<()> {
    let mut transport = None;
    let mut signal = Signal::Traces;
    let mut plan = LoadPlan {
        total: 100_000,
        per_request: 100,
        connections: 8,
        rate: None,
        transport: Transport::Grpc(([127, 0, 0, 1], 4317).into()),
        seed: 42,
        corpus: None,
        client_prefix: "bench".to_string(),
    };
    let mut gzip = false;
    let mut json = false;
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--otlp-grpc" => transport = Some(Transport::Grpc(text(&mut args, &flag)?.parse()?)),
            "--otlp-http" => transport = Some(Transport::Http(text(&mut args, &flag)?.parse()?)),
            "--signal" => {
                signal = match text(&mut args, &flag)?.as_str() {
                    "traces" => Signal::Traces,
                    "logs" => Signal::Logs,
                    "metrics" => Signal::Metrics,
                    other => bail!("--signal takes traces, logs or metrics, got {other:?}"),
                }
            }
            "--total" => plan.total = number(&mut args, &flag)?,
            "--per-request" => plan.per_request = number(&mut args, &flag)? as usize,
            "--connections" => plan.connections = number(&mut args, &flag)?.max(1) as usize,
            "--rate" => plan.rate = Some(number(&mut args, &flag)? as f64),
            "--gzip" => gzip = true,
            "--json" => json = true,
            "--corpus" => plan.corpus = Some(PathBuf::from(text(&mut args, &flag)?)),
            "--seed" => plan.seed = number(&mut args, &flag)?,
            other => bail!("unknown option {other:?} for bench gen"),
        }
    }
    plan.transport = match (transport, json) {
        (Some(Transport::Http(address)), true) => Transport::HttpJson(address),
        (Some(Transport::Grpc(_)), true) => bail!("--json needs --otlp-http"),
        (Some(transport), _) => transport,
        (None, _) => bail!("bench gen needs --otlp-grpc ADDR or --otlp-http ADDR"),
    };
    let client = BenchClient::new(gzip);
    let outcome = run_load(&client, signal, &plan, Arc::new(AtomicU64::new(0))).await?;
    let latency = stats::Latency::of(&outcome.latencies);
    println!(
        "sent {} records in {:.2} s ({:.0}/s), {} retries, ack latency p50 {:.1} ms p99 {:.1} ms",
        outcome.acked,
        outcome.wall.as_secs_f64(),
        outcome.acked as f64 / outcome.wall.as_secs_f64(),
        outcome.retries,
        latency.p50_ms,
        latency.p99_ms
    );
    Ok(())
}
