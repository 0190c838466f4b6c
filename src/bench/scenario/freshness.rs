//! S9 freshness: one span at a time, the time from the client's OK to the span being returned
//! by `GET /api/traces/{id}`, while S1 loads the server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::ensure;
use prost::Message as _;
use tokio::sync::RwLock;

use crate::bench::client::{BenchClient, Export, Signal, Transport};
use crate::bench::workload::TraceWorkload;

/// Sends `count` probes; each waits for a read share of `gate`, so a writer (S5 at a
/// checkpoint) can pause them without stopping the task.
pub(crate) async fn probes(
    client: BenchClient,
    grpc: SocketAddr,
    http: SocketAddr,
    count: usize,
    seed: u64,
    gate: Arc<RwLock<()>>,
) -> anyhow::Result<Vec<Duration>> {
    let mut workload = TraceWorkload::new("probe", seed);
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let open_gate = gate.read().await;
        let request = workload.next_request(1);
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
        drop(open_gate);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(samples)
}
