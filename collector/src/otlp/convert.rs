//! OTLP wire messages → storage rows, with per-record validation. Records that break a rule
//! are rejected one by one (OTLP partial success); soft limits truncate and count.

mod common;
mod logs;
mod metrics;
mod traces;

pub(crate) use common::{Conversion, Limits, check_count};
pub(crate) use logs::convert_logs;
pub(crate) use metrics::convert_metrics;
pub(crate) use traces::convert_traces;
