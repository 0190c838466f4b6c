//! The state every route shares: cheap-to-clone handles only.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use periscope_query::Engine;

/// Renders the Prometheus text of every part of the server; the root wires it up so this
/// crate needs no knowledge of the collector or storage.
pub type MetricsRenderer = Arc<dyn Fn(&mut String) + Send + Sync>;

/// Shared route state.
#[derive(Clone)]
pub struct UiState {
    /// Query engine.
    pub engine: Engine,
    /// `/metrics` body.
    pub metrics: MetricsRenderer,
    /// `/readyz`: true once the WAL is replayed and ingest accepted.
    pub ready: Arc<AtomicBool>,
    /// Host names served besides localhost and IP literals (`server.allowed_hosts`).
    pub allowed_hosts: Arc<[String]>,
}
