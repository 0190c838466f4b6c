//! `periscope bench`: a load generator (`gen`) and the benchmark suite (`run`) of
//! shared/PERFORMANCE.md. Figures come from the server process's own CPU and memory counters
//! (/proc), so the generator sharing the machine does not distort per-CPU-second rates.

pub(crate) mod client;
mod ingest;
mod report;
pub(crate) mod rng;
mod run;
mod server;
mod stats;
pub mod workload;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use anyhow::{Context, bail};

use run::RunOptions;

use client::{BenchClient, Signal, Transport};
use ingest::{LoadPlan, run_load};

/// Usage of `periscope bench`.
pub const USAGE: &str = "\
periscope bench: load generator and benchmark suite

USAGE:
    periscope bench run [--scale smoke|standard|full] [--spans N] [--logs N] [--lookups N]
                        [--probes N] [--corpus DIR] [--out DIR] [--seed N]
    periscope bench gen --otlp-grpc ADDR | --otlp-http ADDR [--signal traces|logs]
                        [--total N] [--per-request N] [--connections N] [--rate REQ_PER_S]
                        [--gzip] [--corpus DIR] [--seed N]

`run` starts a fresh server on a temp data dir, ingests spans (S1) and logs (S3), probes
freshness (S9), looks traces up by id (S5), searches traces (S6) and logs (S7), checks
sent == stored, and writes <out>/results.json and <out>/results.md (default target/bench).
Scales: smoke = 2k spans, 2k logs (seconds; what CI runs); standard = 1M spans, 1M logs;
full = 10M spans, 20M logs.
";

fn number(args: &mut impl Iterator<Item = String>, flag: &str) -> anyhow::Result<u64> {
    let text = args
        .next()
        .with_context(|| format!("{flag} needs a value"))?;
    text.parse()
        .with_context(|| format!("{flag} takes a number, got {text:?}"))
}

fn text(args: &mut impl Iterator<Item = String>, flag: &str) -> anyhow::Result<String> {
    args.next().with_context(|| format!("{flag} needs a value"))
}

/// Parses and runs `periscope bench …` (arguments after `bench`).
pub fn main(args: impl IntoIterator<Item = String>) -> anyhow::Result<()> {
    let mut args = args.into_iter();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match args.next().as_deref() {
        Some("run") => {
            let options = run_options(args)?;
            let results = runtime.block_on(run::run(&options))?;
            report::write(&options.out_dir, &results)?;
            print!("{}", report::markdown(&results));
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

fn run_options(mut args: impl Iterator<Item = String>) -> anyhow::Result<RunOptions> {
    let mut options = RunOptions {
        spans: 2_000,
        logs: 2_000,
        lookups: 50,
        probes: 20,
        out_dir: PathBuf::from("target/bench"),
        corpus: None,
        seed: 42,
    };
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--scale" => match text(&mut args, &flag)?.as_str() {
                "smoke" => {}
                "standard" => {
                    (options.spans, options.logs, options.lookups, options.probes) =
                        (1_000_000, 1_000_000, 1000, 200);
                }
                "full" => {
                    (options.spans, options.logs, options.lookups, options.probes) =
                        (10_000_000, 20_000_000, 1000, 1000);
                }
                other => bail!("--scale takes smoke, standard or full, got {other:?}"),
            },
            "--spans" => options.spans = number(&mut args, &flag)?,
            "--logs" => options.logs = number(&mut args, &flag)?,
            "--lookups" => options.lookups = number(&mut args, &flag)? as usize,
            "--probes" => options.probes = number(&mut args, &flag)? as usize,
            "--corpus" => options.corpus = Some(PathBuf::from(text(&mut args, &flag)?)),
            "--out" => options.out_dir = PathBuf::from(text(&mut args, &flag)?),
            "--seed" => options.seed = number(&mut args, &flag)?,
            other => bail!("unknown option {other:?} for bench run"),
        }
    }
    if options.lookups == 0 {
        bail!("--lookups must be at least 1");
    }
    Ok(options)
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
    };
    let mut gzip = false;
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--otlp-grpc" => transport = Some(Transport::Grpc(text(&mut args, &flag)?.parse()?)),
            "--otlp-http" => transport = Some(Transport::Http(text(&mut args, &flag)?.parse()?)),
            "--signal" => {
                signal = match text(&mut args, &flag)?.as_str() {
                    "traces" => Signal::Traces,
                    "logs" => Signal::Logs,
                    other => bail!("--signal takes traces or logs, got {other:?}"),
                }
            }
            "--total" => plan.total = number(&mut args, &flag)?,
            "--per-request" => plan.per_request = number(&mut args, &flag)? as usize,
            "--connections" => plan.connections = number(&mut args, &flag)?.max(1) as usize,
            "--rate" => plan.rate = Some(number(&mut args, &flag)? as f64),
            "--gzip" => gzip = true,
            "--corpus" => plan.corpus = Some(PathBuf::from(text(&mut args, &flag)?)),
            "--seed" => plan.seed = number(&mut args, &flag)?,
            other => bail!("unknown option {other:?} for bench gen"),
        }
    }
    plan.transport = transport.context("bench gen needs --otlp-grpc ADDR or --otlp-http ADDR")?;
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
