//! Sending load: N connections, each with its own generator, flat out or at a target rate,
//! retrying refused batches as OTLP exporters do. Reports what was acknowledged and how fast.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::client::{BenchClient, Export, Signal, Transport};
use super::workload::{LogWorkload, MetricWorkload, TraceWorkload};

/// Metric series over all connections of a metrics load (shared/PERFORMANCE.md S4).
const METRIC_SERIES: usize = 1000;

/// How to send.
#[derive(Debug, Clone)]
pub(crate) struct LoadPlan {
    /// Records in all.
    pub(crate) total: u64,
    /// Records per request.
    pub(crate) per_request: usize,
    /// Concurrent connections (each its own task and generator).
    pub(crate) connections: usize,
    /// Requests per second over all connections; `None` = flat out.
    pub(crate) rate: Option<f64>,
    /// Where and how.
    pub(crate) transport: Transport,
    /// Seed of the generators.
    pub(crate) seed: u64,
    /// Log corpus directory (logs only).
    pub(crate) corpus: Option<std::path::PathBuf>,
    /// Clients are named `{prefix}-{connection}` (`bench.client`), so each load's records
    /// can be counted apart and `bench.seq` stays unique per client.
    pub(crate) client_prefix: String,
}

impl LoadPlan {
    /// The URL-encoded log query that finds every record of this load. Attribute values
    /// match whole (docs/api.md), so each client is named: `bench.client:(logs-0 OR …)`.
    pub(crate) fn log_query(&self) -> String {
        let clients: Vec<String> = (0..self.connections)
            .map(|connection| format!("{}-{connection}", self.client_prefix))
            .collect();
        format!("bench.client:({})", clients.join("%20OR%20"))
    }
}

/// What a load run did.
#[derive(Debug, Default)]
pub(crate) struct LoadOutcome {
    /// Records acknowledged.
    pub(crate) acked: u64,
    /// Raw log body bytes acknowledged (logs only).
    pub(crate) body_bytes: u64,
    /// OTLP-encoded log record bytes acknowledged (logs only).
    pub(crate) record_bytes: u64,
    /// Refusals that were retried.
    pub(crate) retries: u64,
    /// Time from first send to last ack.
    pub(crate) wall: Duration,
    /// Ack latency of every request.
    pub(crate) latencies: Vec<Duration>,
    /// Trace ids sampled from what was sent (spans, and log records that carry one).
    pub(crate) trace_ids: Vec<[u8; 16]>,
}

enum Generator {
    Traces(TraceWorkload),
    Logs(LogWorkload),
    Metrics(MetricWorkload),
}

/// Protobuf, or OTLP/JSON (the opentelemetry-proto serde form: hex ids, camelCase names).
fn encode<M: prost::Message + serde::Serialize>(
    message: &M,
    json: bool,
) -> anyhow::Result<Vec<u8>> {
    if json {
        Ok(serde_json::to_vec(message)?)
    } else {
        Ok(message.encode_to_vec())
    }
}

impl Generator {
    fn next(&mut self, count: usize, json: bool) -> anyhow::Result<Vec<u8>> {
        match self {
            Generator::Traces(workload) => encode(&workload.next_request(count), json),
            Generator::Logs(workload) => encode(&workload.next_request(count), json),
            Generator::Metrics(workload) => encode(&workload.next_request(count), json),
        }
    }
}

/// Sends `plan.total` records of `signal`; `progress` gets the acked count as it grows.
pub(crate) async fn run_load(
    client: &BenchClient,
    signal: Signal,
    plan: &LoadPlan,
    progress: Arc<std::sync::atomic::AtomicU64>,
) -> anyhow::Result<LoadOutcome> {
    let outcome = Arc::new(Mutex::new(LoadOutcome::default()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    let per_connection = plan.total.div_ceil(plan.connections as u64);
    for connection in 0..plan.connections {
        let client = client.clone();
        let plan = plan.clone();
        let outcome = outcome.clone();
        let progress = progress.clone();
        let quota = per_connection.min(
            plan.total
                .saturating_sub(per_connection * connection as u64),
        );
        let name = format!("{}-{connection}", plan.client_prefix);
        let seed = plan.seed.wrapping_add(connection as u64 * 7919);
        let mut generator = match signal {
            Signal::Traces => Generator::Traces(TraceWorkload::new(&name, seed)),
            Signal::Logs => Generator::Logs(LogWorkload::new(&name, seed, plan.corpus.as_deref())?),
            Signal::Metrics => {
                let series = (METRIC_SERIES / plan.connections).max(1);
                Generator::Metrics(MetricWorkload::new(&name, seed, series, quota))
            }
        };
        let json = plan.transport.is_json();
        tasks.push(tokio::spawn(async move {
            let interval = plan
                .rate
                .map(|rate| Duration::from_secs_f64(plan.connections as f64 / rate));
            let mut next_send = Instant::now();
            let mut sent = 0u64;
            let mut latencies = Vec::new();
            let mut retries = 0;
            while sent < quota {
                if let Some(interval) = interval {
                    tokio::time::sleep_until(next_send.into()).await;
                    next_send += interval;
                }
                let count = plan.per_request.min((quota - sent) as usize);
                let body = generator.next(count, json)?;
                loop {
                    let (result, latency) = client.export(plan.transport, signal, &body).await?;
                    match result {
                        Export::Ok => {
                            latencies.push(latency);
                            break;
                        }
                        Export::Retry => {
                            retries += 1;
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
                sent += count as u64;
                progress.fetch_add(count as u64, std::sync::atomic::Ordering::Relaxed);
            }
            let mut shared = outcome.lock().unwrap_or_else(|p| p.into_inner());
            shared.acked += sent;
            shared.retries += retries;
            shared.latencies.extend(latencies);
            match generator {
                Generator::Traces(workload) => shared.trace_ids.extend(workload.sampled_trace_ids),
                Generator::Logs(workload) => {
                    shared.body_bytes += workload.body_bytes;
                    shared.record_bytes += workload.record_bytes;
                    shared.trace_ids.extend(workload.sampled_trace_ids);
                }
                Generator::Metrics(_) => {}
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let mut outcome = std::mem::take(&mut *outcome.lock().unwrap_or_else(|p| p.into_inner()));
    outcome.wall = started.elapsed();
    Ok(outcome)
}
