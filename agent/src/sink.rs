//! The sink: sends the disk buffer to the collector over OTLP (gRPC or HTTP), in order,
//! with retries, failover across endpoints and the answers of shared/RELIABILITY.md §1.3.

mod grpc;
mod http;
mod outcome;
mod retry;
mod sender;
#[cfg(test)]
mod tests;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Notify;

pub use outcome::Outcome;

/// `google.rpc.Status` and friends, shared with the local receiver.
pub(crate) mod rpc {
    pub(crate) use super::outcome::{ProtoAny, ProtoDuration, RetryInfo, RpcStatus};
}
pub use retry::Backoff;
pub use sender::run_sender;

use crate::buffer::Signal;
use crate::config::{Compression, Protocol, SinkConfig};

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// The bearer token, replaceable at runtime (SIGHUP), and a signal that it changed.
#[derive(Debug, Default)]
pub struct Credentials {
    token: RwLock<Option<String>>,
    changed: Notify,
}

impl Credentials {
    /// Credentials holding `token`.
    pub fn new(token: Option<String>) -> Self {
        Self {
            token: RwLock::new(token),
            changed: Notify::new(),
        }
    }

    /// Replaces the token and wakes a sender paused by 401 / 403.
    pub fn replace(&self, token: Option<String>) {
        if let Ok(mut slot) = self.token.write() {
            *slot = token;
        }
        self.changed.notify_waiters();
    }

    fn header(&self) -> Option<String> {
        let token = self.token.read().ok()?;
        token.as_ref().map(|t| format!("Bearer {t}"))
    }

    async fn wait_for_change(&self) {
        self.changed.notified().await;
    }
}

/// Sends one export request at a time to the current endpoint.
#[derive(Debug)]
pub struct Exporter {
    endpoints: Vec<String>,
    current: usize,
    failures_in_round: usize,
    protocol: Protocol,
    compression: Compression,
    timeout: Duration,
    credentials: Arc<Credentials>,
    client: HttpClient,
}

impl Exporter {
    /// An exporter for the configured endpoints.
    pub fn new(config: &SinkConfig, credentials: Arc<Credentials>) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let mut builder = Client::builder(TokioExecutor::new());
        builder.pool_idle_timeout(Duration::from_secs(60));
        if config.protocol == Protocol::Grpc {
            // gRPC is HTTP/2 with prior knowledge (h2c): no upgrade dance.
            builder.http2_only(true);
        }
        Self {
            endpoints: config
                .endpoints
                .iter()
                .map(|e| e.trim_end_matches('/').to_string())
                .collect(),
            current: 0,
            failures_in_round: 0,
            protocol: config.protocol,
            compression: config.compression,
            timeout: Duration::from_millis(config.request_timeout_ms),
            credentials,
            client: builder.build(connector),
        }
    }

    /// The endpoint requests currently go to.
    pub fn endpoint(&self) -> &str {
        &self.endpoints[self.current]
    }

    /// Sends one request (an `Export*ServiceRequest`, uncompressed) and classifies the answer.
    pub async fn export(&self, signal: Signal, raw: Bytes) -> Outcome {
        let (payload, gzipped) = match self.compression {
            Compression::Gzip => match gzip(&raw) {
                Ok(compressed) => (compressed, true),
                Err(err) => {
                    return Outcome::Retry {
                        after: None,
                        reason: format!("gzip failed: {err}"),
                    };
                }
            },
            Compression::None => (raw, false),
        };
        let authorization = self.credentials.header();
        let request = match self.protocol {
            Protocol::Grpc => grpc::request(
                self.endpoint(),
                signal,
                payload,
                gzipped,
                authorization.as_deref(),
            ),
            Protocol::Http => http::request(
                self.endpoint(),
                signal,
                payload,
                gzipped,
                authorization.as_deref(),
            ),
        };
        let request = match request {
            Ok(request) => request,
            Err(err) => {
                return Outcome::Final {
                    reason: crate::metrics::DropReason::Final,
                    message: err,
                };
            }
        };
        let response = tokio::time::timeout(self.timeout, async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|err| format!("{err:?}"))?;
            let (parts, body) = response.into_parts();
            let collected = http_body_util::BodyExt::collect(body)
                .await
                .map_err(|err| err.to_string())?;
            let trailers = collected.trailers().cloned();
            Ok::<_, String>((parts, collected.to_bytes(), trailers))
        })
        .await;
        match response {
            Err(_) => Outcome::Retry {
                after: None,
                reason: format!("no answer within {:?}", self.timeout),
            },
            Ok(Err(reason)) => Outcome::Retry {
                after: None,
                reason,
            },
            Ok(Ok((parts, bytes, trailers))) => match self.protocol {
                Protocol::Grpc => grpc::classify(signal, &parts, &bytes, trailers.as_ref()),
                Protocol::Http => http::classify(signal, &parts, &bytes),
            },
        }
    }

    /// After a failure: moves to the next endpoint. Returns true when every endpoint has
    /// failed since the last success (time to back off).
    pub fn fail_over(&mut self) -> bool {
        self.current = (self.current + 1) % self.endpoints.len();
        self.failures_in_round += 1;
        if self.failures_in_round >= self.endpoints.len() {
            self.failures_in_round = 0;
            return true;
        }
        false
    }

    /// After a success.
    pub fn succeeded(&mut self) {
        self.failures_in_round = 0;
    }
}

fn gzip(data: &[u8]) -> std::io::Result<Bytes> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4),
        flate2::Compression::fast(),
    );
    encoder.write_all(data)?;
    Ok(encoder.finish()?.into())
}
