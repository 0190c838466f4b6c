//! `periscope demo`: sends the traffic of a small simulated shop to a running Periscope, so
//! a newcomer sees every page of the UI populated within a minute. It first backfills a few
//! minutes of history, then sends live traffic until stopped or for `--duration`.

mod metrics;
mod shop;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use prost::Message as _;

use crate::bench::client::{BenchClient, Export, Signal, Transport};
use crate::bench::rng::Rng;
use crate::bench::workload::now_nanos;
use shop::Shop;

/// Usage of `periscope demo`.
pub const USAGE: &str = "\
periscope demo: send the traffic of a simulated shop to a running Periscope

USAGE:
    periscope demo [--otlp-grpc ADDR | --otlp-http ADDR] [--duration 1m] [--rate N]
                   [--backfill 5m] [--seed N] [--ui URL]

OPTIONS:
    --otlp-grpc <ADDR>    send OTLP/gRPC to ADDR [default: 127.0.0.1:4317]
    --otlp-http <ADDR>    send OTLP/HTTP (protobuf) to ADDR instead, e.g. 127.0.0.1:4318
    --duration <D>        stop after D (e.g. 10s, 5m) [default: run until Ctrl-C]
    --rate <N>            user requests per second [default: 4]
    --backfill <D>        history sent first, spread over the last D [default: 5m; 0s for none]
    --seed <N>            random seed, for the same traffic every run [default: the clock]
    --ui <URL>            where the server's UI is, for the link printed once history is sent
                          [default: http://127.0.0.1:8080/]

The shop: frontend -> checkout -> payments and inventory -> postgres, with card declines,
slow queries, logs correlated with traces, access logs tailed from a file, and metrics.
";

struct Options {
    transport: Transport,
    duration: Option<Duration>,
    rate: f64,
    backfill: Duration,
    seed: u64,
    /// Only printed: the demo talks OTLP and cannot learn where the server's UI listens.
    ui: String,
}

fn duration_flag(args: &mut impl Iterator<Item = String>, flag: &str) -> anyhow::Result<Duration> {
    let text = args
        .next()
        .with_context(|| format!("{flag} needs a value"))?;
    let nanos = periscope_ui::parse_duration_ns(flag, &text)
        .map_err(|err| anyhow::anyhow!("{}", err.message()))?;
    Ok(Duration::from_nanos(nanos.max(0) as u64))
}

fn parse(args: impl IntoIterator<Item = String>) -> anyhow::Result<Option<Options>> {
    let mut options = Options {
        transport: Transport::Grpc(SocketAddr::from(([127, 0, 0, 1], 4317))),
        duration: None,
        rate: 4.0,
        backfill: Duration::from_secs(300),
        // Runs after one another must not reuse trace ids.
        seed: now_nanos(),
        ui: "http://127.0.0.1:8080/".to_string(),
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--otlp-grpc" => options.transport = Transport::Grpc(address(&value()?, &flag)?),
            "--otlp-http" => options.transport = Transport::Http(address(&value()?, &flag)?),
            "--rate" => {
                let text = value()?;
                options.rate = text
                    .parse::<f64>()
                    .ok()
                    .filter(|rate| *rate > 0.0 && *rate <= 1000.0)
                    .with_context(|| {
                        format!("--rate takes a number from 0 to 1000, got {text:?}")
                    })?;
            }
            "--seed" => {
                let text = value()?;
                options.seed = text
                    .parse()
                    .with_context(|| format!("--seed takes a number, got {text:?}"))?;
            }
            "--ui" => options.ui = value()?,
            "--duration" => options.duration = Some(duration_flag(&mut args, &flag)?),
            "--backfill" => options.backfill = duration_flag(&mut args, &flag)?,
            "-h" | "--help" => return Ok(None),
            other => bail!("unknown option {other:?} for demo; see `periscope demo --help`"),
        }
    }
    Ok(Some(options))
}

fn address(text: &str, flag: &str) -> anyhow::Result<SocketAddr> {
    text.parse()
        .with_context(|| format!("{flag} takes an address like 127.0.0.1:4317, got {text:?}"))
}

/// Parses and runs `periscope demo …` (arguments after `demo`).
pub fn main(args: impl IntoIterator<Item = String>) -> anyhow::Result<()> {
    let Some(options) = parse(args)? else {
        print!("{USAGE}");
        return Ok(());
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(run(options))
}

async fn send(
    client: &BenchClient,
    transport: Transport,
    signal: Signal,
    bytes: &[u8],
) -> anyhow::Result<()> {
    for attempt in 0..10u32 {
        let sent = client.export(transport, signal, bytes).await;
        match sent {
            Ok((Export::Ok, _)) => return Ok(()),
            Ok((Export::Retry, _)) => {}
            Err(err) if attempt == 0 => {
                return Err(err).with_context(|| {
                    format!(
                        "cannot send to Periscope at {}; is `periscope serve` running?",
                        describe(transport)
                    )
                });
            }
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt + 1))).await;
    }
    bail!("Periscope kept refusing data at {}", describe(transport))
}

fn describe(transport: Transport) -> String {
    match transport {
        Transport::Grpc(address) => format!("{address} (OTLP/gRPC)"),
        Transport::Http(address) => format!("{address} (OTLP/HTTP)"),
        Transport::HttpJson(address) => format!("{address} (OTLP/HTTP JSON)"),
    }
}

async fn flush(shop: &mut Shop, client: &BenchClient, transport: Transport) -> anyhow::Result<()> {
    let (traces, logs) = shop.take();
    send(client, transport, Signal::Traces, &traces.encode_to_vec()).await?;
    send(client, transport, Signal::Logs, &logs.encode_to_vec()).await
}

async fn run(options: Options) -> anyhow::Result<()> {
    let client = BenchClient::new(false);
    let started_ns = now_nanos();
    let mut shop = Shop::new(options.seed, (started_ns / 1000) as i64);
    let mut rng = Rng::new(options.seed ^ 0x5eed);
    let tick = Duration::from_millis(500);
    let tick_ns = tick.as_nanos() as u64;

    // History first, at half the live rate, so charts have a shape at once.
    let backfill_ns = options.backfill.as_nanos() as u64;
    // Counters count from the start of the history.
    let counters_start = started_ns.saturating_sub(backfill_ns);
    let mut cursor = started_ns.saturating_sub(backfill_ns);
    let mut num_traces = 0u64;
    let mut backfill_ticks = 0u64;
    while cursor + tick_ns <= started_ns {
        num_traces += generate(&mut shop, &mut rng, options.rate / 2.0, cursor, tick_ns);
        cursor += tick_ns;
        backfill_ticks += 1;
        if backfill_ticks.is_multiple_of(20) {
            // Every 10 s of history: spans and logs so far, then the metrics of that moment.
            flush(&mut shop, &client, options.transport).await?;
            let request = metrics::request(&shop.requests, &mut rng, counters_start, cursor);
            send(
                &client,
                options.transport,
                Signal::Metrics,
                &request.encode_to_vec(),
            )
            .await?;
        }
    }
    flush(&mut shop, &client, options.transport).await?;
    println!(
        "demo: sent {num_traces} traces of history to {}; now sending live traffic (Ctrl-C to stop)",
        describe(options.transport)
    );
    println!("demo: open {} to see it", options.ui);

    let deadline = options
        .duration
        .map(|duration| tokio::time::Instant::now() + duration);
    let mut interval = tokio::time::interval(tick);
    let mut ticks = 0u64;
    let mut stop = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = &mut stop => break,
        }
        if deadline.is_some_and(|deadline| tokio::time::Instant::now() >= deadline) {
            break;
        }
        let now = now_nanos();
        num_traces += generate(&mut shop, &mut rng, options.rate, now - tick_ns, tick_ns);
        flush(&mut shop, &client, options.transport).await?;
        ticks += 1;
        if ticks % 10 == 1 {
            let request = metrics::request(&shop.requests, &mut rng, counters_start, now);
            send(
                &client,
                options.transport,
                Signal::Metrics,
                &request.encode_to_vec(),
            )
            .await?;
        }
        if ticks.is_multiple_of(60) {
            println!("demo: {num_traces} traces sent");
        }
    }
    let request = metrics::request(&shop.requests, &mut rng, counters_start, now_nanos());
    send(
        &client,
        options.transport,
        Signal::Metrics,
        &request.encode_to_vec(),
    )
    .await?;
    println!("demo: done, {num_traces} traces sent");
    Ok(())
}

/// Adds about `rate` × tick requests spread over `[from, from + tick_ns)`, plus a few
/// background log lines; returns how many traces.
fn generate(shop: &mut Shop, rng: &mut Rng, rate: f64, from: u64, tick_ns: u64) -> u64 {
    let expected = rate * tick_ns as f64 / 1e9;
    let whole = expected.floor() as u64;
    let extra = u64::from(rng.below(1000) as f64 / 1000.0 < expected - whole as f64);
    let count = whole + extra;
    for _ in 0..count {
        shop.trace(from + rng.below(tick_ns));
    }
    if rng.chance(40) {
        shop.background(from + rng.below(tick_ns));
    }
    count
}
