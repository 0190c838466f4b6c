//! Periscope collector: the OTLP receivers. gRPC (port 4317) and HTTP (port 4318), protobuf
//! and OTLP-JSON, gzip and zstd. Decodes leniently (invalid UTF-8 is replaced), validates
//! each record (bad ones are rejected through OTLP partial success), converts to storage
//! rows and acknowledges only after the WAL fsync.
//!
//! Depends on storage only; never on query, ui or DataFusion.

mod body;
mod config;
mod decompress;
mod error;
mod grpc;
mod http;
mod otlp;
mod pipeline;
mod rpc_status;
mod span_request;
pub mod stages;
mod stats;

pub use config::IngestConfig;
pub use error::CollectorError;
pub use grpc::grpc_router;
pub use http::http_router;
pub use pipeline::Collector;
pub use span_request::span_request_decoder;
pub use stats::IngestStats;
