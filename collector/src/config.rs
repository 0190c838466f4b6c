//! Ingest limits: the `[ingest]` section of periscope.toml. Defaults are those of
//! shared/RELIABILITY.md §2.2; each one bites with a counter or a clear error.

use serde::{Deserialize, Serialize};

use crate::error::CollectorError;

/// Validated ingest limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// Largest request body after decompression (HTTP and gRPC); larger → 413 / RESOURCE_EXHAUSTED.
    #[serde(default = "default_max_request_bytes")]
    pub max_request_bytes: usize,
    /// Records (spans, log records, data points) per request; more → 413.
    #[serde(default = "default_max_records_per_request")]
    pub max_records_per_request: usize,
    /// Attributes kept per span, event, link, log record or data point; the rest are dropped
    /// and counted in `dropped_attributes_count`.
    #[serde(default = "default_max_attributes")]
    pub max_attributes: usize,
    /// Attribute keys and string values longer than this are truncated (and counted).
    #[serde(default = "default_max_attribute_bytes")]
    pub max_attribute_bytes: usize,
    /// Deepest `AnyValue` nesting accepted; deeper records are rejected.
    #[serde(default = "default_max_nesting_depth")]
    pub max_nesting_depth: usize,
    /// Records older than this are rejected (seconds before now).
    #[serde(default = "default_max_age_secs")]
    pub max_age_secs: u64,
    /// Records further in the future than this are rejected (seconds after now).
    #[serde(default = "default_max_future_secs")]
    pub max_future_secs: u64,
    /// Request bytes being decoded or waiting for the WAL at once; more → 503.
    #[serde(default = "default_max_inflight_bytes")]
    pub max_inflight_bytes: usize,
}

fn default_max_request_bytes() -> usize {
    20 << 20
}
fn default_max_records_per_request() -> usize {
    100_000
}
fn default_max_attributes() -> usize {
    128
}
fn default_max_attribute_bytes() -> usize {
    2048
}
fn default_max_nesting_depth() -> usize {
    16
}
fn default_max_age_secs() -> u64 {
    7 * 24 * 3600
}
fn default_max_future_secs() -> u64 {
    600
}
fn default_max_inflight_bytes() -> usize {
    256 << 20
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_request_bytes: default_max_request_bytes(),
            max_records_per_request: default_max_records_per_request(),
            max_attributes: default_max_attributes(),
            max_attribute_bytes: default_max_attribute_bytes(),
            max_nesting_depth: default_max_nesting_depth(),
            max_age_secs: default_max_age_secs(),
            max_future_secs: default_max_future_secs(),
            max_inflight_bytes: default_max_inflight_bytes(),
        }
    }
}

impl IngestConfig {
    /// Checks ranges; the message names the key.
    pub fn validate(&self) -> Result<(), CollectorError> {
        let fail = |message: &str| Err(CollectorError::Config(message.to_string()));
        if !(1024..=64 << 20).contains(&self.max_request_bytes) {
            return fail("ingest.max_request_bytes must be between 1 KiB and 64 MiB");
        }
        if self.max_records_per_request == 0 {
            return fail("ingest.max_records_per_request must be positive");
        }
        if self.max_attribute_bytes < 16 {
            return fail("ingest.max_attribute_bytes must be at least 16");
        }
        if !(1..=64).contains(&self.max_nesting_depth) {
            return fail("ingest.max_nesting_depth must be between 1 and 64");
        }
        if self.max_inflight_bytes < self.max_request_bytes {
            return fail("ingest.max_inflight_bytes must be at least max_request_bytes");
        }
        Ok(())
    }
}
