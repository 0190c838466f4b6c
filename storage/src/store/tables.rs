//! The span and metric tables as queries see them: published Parquet files plus the recent
//! in-memory buffer of acknowledged rows not yet flushed. Both live under one lock so a
//! flush swaps "these chunks" for "this file" atomically: a query sees every row exactly once.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Instant;

use arrow::array::RecordBatch;

use crate::catalog::{CatalogState, FileLayout};
use crate::model::Signal;
use crate::span_stats::EdgeCarry;

/// Acknowledged rows of one WAL record, waiting for the flusher.
#[derive(Debug, Clone)]
pub(crate) struct Chunk {
    pub(crate) seq: u64,
    pub(crate) batch: RecordBatch,
    pub(crate) received_at: Instant,
}

/// One published Parquet file as a query sees it: where it is and which times it covers,
/// so queries can skip files outside their time range and read the newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotFile {
    /// Absolute path.
    pub path: PathBuf,
    /// Rows in the file.
    pub num_rows: u64,
    /// Earliest record time (span start, metric point time), ns.
    pub min_time_unix_nano: i64,
    /// Latest record time, ns.
    pub max_time_unix_nano: i64,
    /// How its columns are laid out.
    pub layout: FileLayout,
}

/// What a query reads for one table at one instant.
#[derive(Debug, Clone, Default)]
pub struct TableSnapshot {
    /// Published Parquet files, oldest first.
    pub files: Vec<SnapshotFile>,
    /// Acknowledged rows not yet in any file.
    pub recent: Vec<RecordBatch>,
}

#[derive(Debug, Default)]
pub(crate) struct Tables {
    pub(crate) catalog: CatalogState,
    pub(crate) recent_spans: VecDeque<Chunk>,
    pub(crate) recent_metrics: VecDeque<Chunk>,
    /// Spans of the last span flushes, for calls whose parent and child are flushed apart;
    /// replaced together with the catalog, so a query sees the carry of the files it sees.
    pub(crate) edge_carry: EdgeCarry,
}

impl Tables {
    pub(crate) fn recent_mut(&mut self, signal: Signal) -> &mut VecDeque<Chunk> {
        match signal {
            Signal::Metrics => &mut self.recent_metrics,
            Signal::Spans | Signal::Logs => &mut self.recent_spans,
        }
    }

    pub(crate) fn recent(&self, signal: Signal) -> &VecDeque<Chunk> {
        match signal {
            Signal::Metrics => &self.recent_metrics,
            Signal::Spans | Signal::Logs => &self.recent_spans,
        }
    }

    pub(crate) fn recent_rows(&self, signal: Signal) -> usize {
        self.recent(signal)
            .iter()
            .map(|chunk| chunk.batch.num_rows())
            .sum()
    }
}
