//! The scenarios of shared/PERFORMANCE.md, one family per file, sharing a [`Context`].
//!
//! [`Context`]: super::context::Context

pub(crate) mod freshness;
pub(crate) mod http_spans;
pub(crate) mod logs;
pub(crate) mod metrics;
pub(crate) mod pages;
pub(crate) mod queries;
pub(crate) mod spans;
pub(crate) mod steady;
