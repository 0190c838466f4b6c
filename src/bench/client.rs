//! A minimal OTLP and API client for benchmarks, on hyper: gRPC (HTTP/2, length-prefixed
//! protobuf) or OTLP/HTTP, optionally gzip, plus JSON GETs and POSTs for the query API.

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Which OTLP signal a request carries.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Signal {
    /// Spans.
    Traces,
    /// Log records.
    Logs,
    /// Metric data points.
    Metrics,
}

/// The wire used to send OTLP.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Transport {
    /// OTLP/gRPC to this address.
    Grpc(SocketAddr),
    /// OTLP/HTTP protobuf to this address.
    Http(SocketAddr),
    /// OTLP/HTTP JSON (hex ids, as the OTLP specification asks) to this address.
    HttpJson(SocketAddr),
}

impl Transport {
    /// Whether bodies are OTLP/JSON rather than protobuf.
    pub(crate) fn is_json(self) -> bool {
        matches!(self, Transport::HttpJson(_))
    }
}

/// The outcome of one export.
#[derive(Debug)]
pub(crate) enum Export {
    /// Acknowledged (durable).
    Ok,
    /// Refused with a retryable status.
    Retry,
}

/// Sends OTLP exports and API calls.
#[derive(Clone)]
pub(crate) struct BenchClient {
    http1: Client<HttpConnector, Full<Bytes>>,
    http2: Client<HttpConnector, Full<Bytes>>,
    gzip: bool,
}

fn gzip(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?)
}

impl BenchClient {
    /// A client; `gzip` compresses export bodies.
    pub(crate) fn new(gzip: bool) -> BenchClient {
        let http1 = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(64)
            .build_http();
        let http2 = Client::builder(TokioExecutor::new())
            .http2_only(true)
            .build_http();
        BenchClient { http1, http2, gzip }
    }

    /// Sends one export; returns the outcome and the latency to the acknowledgement.
    pub(crate) async fn export(
        &self,
        transport: Transport,
        signal: Signal,
        message: &[u8],
    ) -> anyhow::Result<(Export, Duration)> {
        let body = if self.gzip {
            gzip(message)?
        } else {
            message.to_vec()
        };
        let started = Instant::now();
        let outcome = match transport {
            Transport::Grpc(address) => self.export_grpc(address, signal, body).await?,
            Transport::Http(address) => self.export_http(address, signal, body, false).await?,
            Transport::HttpJson(address) => self.export_http(address, signal, body, true).await?,
        };
        Ok((outcome, started.elapsed()))
    }

    async fn export_grpc(
        &self,
        address: SocketAddr,
        signal: Signal,
        body: Vec<u8>,
    ) -> anyhow::Result<Export> {
        let path = match signal {
            Signal::Traces => "opentelemetry.proto.collector.trace.v1.TraceService/Export",
            Signal::Logs => "opentelemetry.proto.collector.logs.v1.LogsService/Export",
            Signal::Metrics => "opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        };
        let mut framed = Vec::with_capacity(body.len() + 5);
        framed.push(u8::from(self.gzip));
        framed.extend_from_slice(&(body.len() as u32).to_be_bytes());
        framed.extend_from_slice(&body);
        let mut request = Request::post(format!("http://{address}/{path}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers");
        if self.gzip {
            request = request.header("grpc-encoding", "gzip");
        }
        let response = self
            .http2
            .request(request.body(Full::new(Bytes::from(framed)))?)
            .await?;
        let header_status = response.headers().get("grpc-status").cloned();
        let collected = response.into_body().collect().await?;
        let status = header_status
            .or_else(|| {
                collected
                    .trailers()
                    .and_then(|t| t.get("grpc-status").cloned())
            })
            .context("grpc response without grpc-status")?;
        // The response message follows a 5-byte frame header; it is empty unless records
        // were rejected (partial success).
        let message = collected.to_bytes();
        match status.to_str()? {
            "0" if message.len() > 5 => {
                bail!("export partly rejected ({} response bytes)", message.len())
            }
            "0" => Ok(Export::Ok),
            "14" | "8" => Ok(Export::Retry),
            other => bail!("export refused with grpc status {other}"),
        }
    }

    async fn export_http(
        &self,
        address: SocketAddr,
        signal: Signal,
        body: Vec<u8>,
        json: bool,
    ) -> anyhow::Result<Export> {
        let path = match signal {
            Signal::Traces => "/v1/traces",
            Signal::Logs => "/v1/logs",
            Signal::Metrics => "/v1/metrics",
        };
        let content_type = if json {
            "application/json"
        } else {
            "application/x-protobuf"
        };
        let mut request =
            Request::post(format!("http://{address}{path}")).header("content-type", content_type);
        if self.gzip {
            request = request.header("content-encoding", "gzip");
        }
        let response = self
            .http1
            .request(request.body(Full::new(Bytes::from(body)))?)
            .await?;
        let status = response.status().as_u16();
        let answer = response.into_body().collect().await?.to_bytes();
        match status {
            // A partial success is an OK that lost records: the bench must not count them.
            // Full success is an empty protobuf body or `{}`.
            200 if !answer.is_empty() && answer.as_ref() != b"{}" => bail!(
                "export partly rejected: {}",
                String::from_utf8_lossy(&answer)
            ),
            200 => Ok(Export::Ok),
            429 | 502..=504 => Ok(Export::Retry),
            other => bail!(
                "export refused with http status {other}: {}",
                String::from_utf8_lossy(&answer)
            ),
        }
    }

    /// GET returning (status, body).
    pub(crate) async fn get(&self, url: &str) -> anyhow::Result<(u16, Bytes)> {
        let response = self
            .http1
            .request(Request::get(url).body(Full::new(Bytes::new()))?)
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.into_body().collect().await?.to_bytes()))
    }

    /// POST of a JSON value, returning the parsed JSON answer.
    pub(crate) async fn post_json(
        &self,
        url: &str,
        value: &serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        let request = Request::post(url)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(serde_json::to_vec(value)?)))?;
        let response = self.http1.request(request).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        if status != 200 {
            bail!(
                "POST {url} answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(serde_json::from_slice(&body)?)
    }
}
