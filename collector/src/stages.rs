//! The span ingest stages one by one, for the criterion benchmarks (`benches/ingest_stages.rs`
//! in the root package), so each stage's cost can be compared with its limit in
//! shared/PERFORMANCE.md. The server itself runs them through [`crate::Collector`].

use periscope_storage::SpanRow;
use prost::Message as _;

use crate::config::IngestConfig;
use crate::error::CollectorError;
use crate::otlp::convert::{Limits, convert_traces};
use crate::otlp::wire::collector::trace::v1::ExportTraceServiceRequest;

/// An OTLP trace export request decoded leniently (invalid UTF-8 survives decoding).
#[derive(Debug, Clone)]
pub struct DecodedTraces(ExportTraceServiceRequest);

/// Stage 1: protobuf bytes → lenient wire messages.
pub fn decode_traces(body: &[u8]) -> Result<DecodedTraces, CollectorError> {
    ExportTraceServiceRequest::decode(body)
        .map(DecodedTraces)
        .map_err(|err| CollectorError::InvalidArgument(format!("invalid OTLP protobuf: {err}")))
}

/// Stage 2: wire messages → validated rows, under the default limits and the current clock.
pub fn traces_to_rows(decoded: DecodedTraces) -> Vec<SpanRow> {
    let limits = Limits::from_config(&IngestConfig::default(), Limits::now_unix_nano());
    convert_traces(decoded.0, &limits).rows
}
