//! `periscope-agent`: one small process per host that tails log files and receives local
//! OTLP, and forwards both to the Periscope collector over OTLP without losing a line.
//!
//! Data path: file sources ([`tail`] → [`multiline`] → [`parse`] → [`record`]) and the local
//! OTLP receiver ([`receiver`]) append to the disk buffer ([`buffer`], a `periscope-wal` log,
//! fsync'd before anything counts as in custody); the sink ([`sink`]) sends the buffer to the
//! collector in order and frees it once acknowledged. A file's checkpoint ([`checkpoint`])
//! only moves past lines the buffer holds durably, so a crash resends but never skips.
//!
//! Depends on no Periscope crate except `periscope-wal`, and on no DataFusion, tantivy, arrow
//! or parquet: it runs on every host and must stay small (checked by `.ci/run`).

pub mod buffer;
pub mod checkpoint;
pub mod config;
pub mod error;
pub mod metrics;
pub mod multiline;
pub mod parse;
pub mod receiver;
pub mod record;
pub mod run;
pub mod sink;
pub mod source;
pub mod tail;

pub use config::Config;
pub use error::AgentError;
