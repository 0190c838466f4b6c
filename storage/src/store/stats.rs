//! Storage counters, rendered as Prometheus text by `/metrics`. Plain atomics: the hot path
//! pays one relaxed add per request, never a lock.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::model::Signal;

/// Per-signal and WAL counters.
#[derive(Debug, Default)]
pub struct StorageStats {
    pub(crate) records_appended: [AtomicU64; 3],
    pub(crate) wal_bytes: AtomicU64,
    pub(crate) wal_write_errors: AtomicU64,
    pub(crate) wal_corrupt_records: AtomicU64,
    pub(crate) wal_torn_tail_bytes: AtomicU64,
    pub(crate) wal_replayed_records: AtomicU64,
    pub(crate) refused_backpressure: AtomicU64,
    pub(crate) files_written: AtomicU64,
    pub(crate) flush_errors: AtomicU64,
    pub(crate) log_commits: AtomicU64,
    /// Age of the oldest acknowledged record not yet in Parquet or the log index, ms.
    pub(crate) flush_lag_ms: [AtomicU64; 3],
}

fn index(signal: Signal) -> usize {
    match signal {
        Signal::Spans => 0,
        Signal::Logs => 1,
        Signal::Metrics => 2,
    }
}

impl StorageStats {
    pub(crate) fn add_appended(&self, signal: Signal, num_records: u64) {
        self.records_appended[index(signal)].fetch_add(num_records, Ordering::Relaxed);
    }

    pub(crate) fn set_flush_lag(&self, signal: Signal, lag_ms: u64) {
        self.flush_lag_ms[index(signal)].store(lag_ms, Ordering::Relaxed);
    }

    /// Records of all signals appended to the WAL since the server started.
    pub fn records_appended_total(&self) -> u64 {
        self.records_appended
            .iter()
            .map(|counter| counter.load(Ordering::Relaxed))
            .sum()
    }

    /// Bytes of WAL segments on disk.
    pub fn wal_bytes(&self) -> u64 {
        self.wal_bytes.load(Ordering::Relaxed)
    }

    /// Appends the Prometheus text exposition of these counters to `out`.
    pub fn render_prometheus(&self, out: &mut String) {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# TYPE periscope_storage_records_appended_total counter"
        );
        for signal in Signal::ALL {
            let value = load(&self.records_appended[index(signal)]);
            let _ = writeln!(
                out,
                "periscope_storage_records_appended_total{{signal=\"{}\"}} {value}",
                signal.as_str()
            );
        }
        let _ = writeln!(out, "# TYPE periscope_flush_lag_seconds gauge");
        for signal in Signal::ALL {
            let lag_ms = load(&self.flush_lag_ms[index(signal)]);
            let _ = writeln!(
                out,
                "periscope_flush_lag_seconds{{signal=\"{}\"}} {:.3}",
                signal.as_str(),
                lag_ms as f64 / 1000.0
            );
        }
        let simple: [(&str, &str, &AtomicU64); 9] = [
            ("periscope_wal_bytes", "gauge", &self.wal_bytes),
            (
                "periscope_wal_write_errors_total",
                "counter",
                &self.wal_write_errors,
            ),
            (
                "periscope_wal_corrupt_records_total",
                "counter",
                &self.wal_corrupt_records,
            ),
            (
                "periscope_wal_torn_tail_bytes_total",
                "counter",
                &self.wal_torn_tail_bytes,
            ),
            (
                "periscope_wal_replayed_records_total",
                "counter",
                &self.wal_replayed_records,
            ),
            (
                "periscope_storage_refused_total",
                "counter",
                &self.refused_backpressure,
            ),
            (
                "periscope_parquet_files_written_total",
                "counter",
                &self.files_written,
            ),
            (
                "periscope_flush_errors_total",
                "counter",
                &self.flush_errors,
            ),
            (
                "periscope_log_index_commits_total",
                "counter",
                &self.log_commits,
            ),
        ];
        for (name, kind, counter) in simple {
            let _ = writeln!(out, "# TYPE {name} {kind}\n{name} {}", load(counter));
        }
    }
}
