//! `[sink]`, `[buffer]`, `[otlp]` and `[metrics]`: where data goes and how it is held.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How the sink talks to the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// OTLP/gRPC (port 4317 by default).
    Grpc,
    /// OTLP/HTTP protobuf (port 4318 by default).
    Http,
}

/// Request compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// gzip (the default, as the OTel Collector's exporter).
    Gzip,
    /// Uncompressed.
    None,
}

/// `[sink]`: the collector.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    /// Collector base URLs, e.g. `["http://collector-a:4317", "http://collector-b:4317"]`.
    /// The first is used until it fails; then the next (failover).
    pub endpoints: Vec<String>,
    /// See [`Protocol`].
    #[serde(default = "default_protocol")]
    pub protocol: Protocol,
    /// See [`Compression`].
    #[serde(default = "default_compression")]
    pub compression: Compression,
    /// Sent as `authorization: Bearer …`.
    #[serde(default)]
    pub bearer_token: Option<String>,
    /// A file holding the bearer token (re-read on SIGHUP); exclusive with `bearer_token`.
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    /// One export request may take this long before it counts as failed (and is retried).
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// How records are grouped into requests.
    #[serde(default)]
    pub batch: BatchConfig,
}

fn default_protocol() -> Protocol {
    Protocol::Grpc
}
fn default_compression() -> Compression {
    Compression::Gzip
}
fn default_request_timeout_ms() -> u64 {
    30_000
}

/// `[sink.batch]` (Vector's names): a batch is cut when any limit is reached.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// Uncompressed bytes per request.
    #[serde(default = "default_batch_max_bytes")]
    pub max_bytes: usize,
    /// Records per batch.
    #[serde(default = "default_batch_max_events")]
    pub max_events: usize,
    /// Longest a record waits for its batch to fill.
    #[serde(default = "default_batch_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_batch_max_bytes() -> usize {
    1024 * 1024
}
fn default_batch_max_events() -> usize {
    5000
}
fn default_batch_timeout_ms() -> u64 {
    1000
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            max_bytes: default_batch_max_bytes(),
            max_events: default_batch_max_events(),
            timeout_ms: default_batch_timeout_ms(),
        }
    }
}

impl SinkConfig {
    pub(super) fn validate(&self) -> Result<(), String> {
        if self.endpoints.is_empty() {
            return Err("endpoints must list at least one collector URL".to_string());
        }
        for endpoint in &self.endpoints {
            let uri: http::Uri = endpoint
                .parse()
                .map_err(|err| format!("endpoint {endpoint:?}: {err}"))?;
            match uri.scheme_str() {
                Some("http") => {}
                Some("https") => {
                    return Err(format!(
                        "endpoint {endpoint:?}: https is not supported yet; use http:// on a trusted network"
                    ));
                }
                _ => return Err(format!("endpoint {endpoint:?} must start with http://")),
            }
            if uri.host().is_none() {
                return Err(format!("endpoint {endpoint:?} has no host"));
            }
        }
        if self.bearer_token.is_some() && self.bearer_token_file.is_some() {
            return Err("set bearer_token or bearer_token_file, not both".to_string());
        }
        if !(100..=600_000).contains(&self.request_timeout_ms) {
            return Err("request_timeout_ms must be within 100..=600000".to_string());
        }
        if !(1024..=64 * 1024 * 1024).contains(&self.batch.max_bytes) {
            return Err("batch.max_bytes must be within 1024..=67108864".to_string());
        }
        if !(1..=100_000).contains(&self.batch.max_events) {
            return Err("batch.max_events must be within 1..=100000".to_string());
        }
        if !(1..=60_000).contains(&self.batch.timeout_ms) {
            return Err("batch.timeout_ms must be within 1..=60000".to_string());
        }
        Ok(())
    }
}

/// What happens when the disk buffer reaches `max_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// Stop reading files and answer local OTLP with 503 until the collector catches up.
    Block,
    /// Delete the oldest unsent data (counted in `dropped_records_total{reason="buffer_full"}`).
    DropOldest,
}

/// `[buffer]`: the disk buffer every record passes through.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BufferConfig {
    /// Cap on the buffer's bytes on disk.
    #[serde(default = "default_buffer_max_bytes")]
    pub max_bytes: u64,
    /// See [`WhenFull`].
    #[serde(default = "default_when_full")]
    pub when_full: WhenFull,
    /// Unsent records kept in memory as well, so the sink rarely reads the disk.
    #[serde(default = "default_memory_bytes")]
    pub memory_bytes: usize,
}

fn default_buffer_max_bytes() -> u64 {
    1024 * 1024 * 1024
}
fn default_when_full() -> WhenFull {
    WhenFull::Block
}
fn default_memory_bytes() -> usize {
    16 * 1024 * 1024
}

impl Default for BufferConfig {
    fn default() -> Self {
        Self {
            max_bytes: default_buffer_max_bytes(),
            when_full: default_when_full(),
            memory_bytes: default_memory_bytes(),
        }
    }
}

impl BufferConfig {
    pub(super) fn validate(&self) -> Result<(), String> {
        if self.max_bytes < 256 * 1024 {
            return Err("max_bytes must be at least 262144".to_string());
        }
        if self.memory_bytes > 1024 * 1024 * 1024 {
            return Err("memory_bytes must be at most 1073741824".to_string());
        }
        Ok(())
    }

    /// Segment size for the buffer's WAL: small enough that `drop_oldest` and acknowledged
    /// data free space in steps of an eighth of the cap, large enough to keep file counts low.
    pub fn segment_bytes(&self) -> u64 {
        (self.max_bytes / 8).clamp(32 * 1024, 32 * 1024 * 1024)
    }
}

/// `[otlp]`: the local OTLP receiver. Off unless an address is set, so it never collides
/// with a Periscope server on the same host.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpReceiverConfig {
    /// OTLP/gRPC listen address, e.g. `127.0.0.1:4317`.
    #[serde(default)]
    pub grpc_address: Option<SocketAddr>,
    /// OTLP/HTTP listen address, e.g. `127.0.0.1:4318`.
    #[serde(default)]
    pub http_address: Option<SocketAddr>,
    /// Largest request body after decompression; larger gets 413 / `RESOURCE_EXHAUSTED`.
    #[serde(default = "default_max_request_bytes")]
    pub max_request_bytes: usize,
}

fn default_max_request_bytes() -> usize {
    20 * 1024 * 1024
}

impl Default for OtlpReceiverConfig {
    fn default() -> Self {
        Self {
            grpc_address: None,
            http_address: None,
            max_request_bytes: default_max_request_bytes(),
        }
    }
}

impl OtlpReceiverConfig {
    /// Whether any listener is configured.
    pub fn is_enabled(&self) -> bool {
        self.grpc_address.is_some() || self.http_address.is_some()
    }

    pub(super) fn validate(&self) -> Result<(), String> {
        if !(1024..=64 * 1024 * 1024).contains(&self.max_request_bytes) {
            return Err("max_request_bytes must be within 1024..=67108864".to_string());
        }
        Ok(())
    }
}

/// `[metrics]`: Prometheus text at `/metrics` and health at `/healthz`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve the endpoint at all.
    #[serde(default = "default_metrics_enabled")]
    pub enabled: bool,
    /// Listen address (port 0 picks a free port; see `listen.json`).
    #[serde(default = "default_metrics_address")]
    pub address: SocketAddr,
}

fn default_metrics_enabled() -> bool {
    true
}

fn default_metrics_address() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9598))
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: default_metrics_enabled(),
            address: default_metrics_address(),
        }
    }
}
