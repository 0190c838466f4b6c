//! The span ingest stages one by one, for the criterion benchmarks (`benches/ingest_stages.rs`
//! in the root package), so each stage's cost can be compared with its limit in
//! shared/PERFORMANCE.md. The server itself runs them through [`crate::Collector`].

use periscope_storage::arrow::array::RecordBatch;

use crate::config::IngestConfig;
use crate::error::CollectorError;
use crate::otlp::convert::{Limits, convert_traces};

/// Stage 1: an encoded OTLP trace export request → span columns (read, checked and built
/// in one pass), under the default limits and the current clock.
pub fn traces_to_batch(body: &[u8]) -> Result<RecordBatch, CollectorError> {
    let config = IngestConfig::default();
    let limits = Limits::from_config(&config, Limits::now_unix_nano());
    let conversion = convert_traces(body, &limits, config.max_records_per_request)?;
    Ok(conversion.rows.finish()?.into_inner())
}
