//! Ingest counters for `/metrics`: records accepted and rejected by signal and reason.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use periscope_storage::Signal;

/// Counters shared by the gRPC and HTTP receivers.
#[derive(Debug, Default)]
pub struct IngestStats {
    accepted: [AtomicU64; 3],
    invalid_utf8: AtomicU64,
    truncated_values: AtomicU64,
    dropped_attributes: AtomicU64,
    dropped_log_ids: AtomicU64,
    /// (signal, reason) → records rejected. Reasons are a small fixed set, so a map under a
    /// short lock is fine; it is touched once per request with rejections, not per record.
    rejected: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// (transport, reason) → whole requests refused.
    refused_requests: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
}

fn slot(signal: Signal) -> usize {
    match signal {
        Signal::Spans => 0,
        Signal::Logs => 1,
        Signal::Metrics => 2,
    }
}

impl IngestStats {
    pub(crate) fn add_accepted(&self, signal: Signal, count: u64) {
        self.accepted[slot(signal)].fetch_add(count, Ordering::Relaxed);
    }

    pub(crate) fn add_soft_limits(&self, invalid_utf8: u64, truncated: u64, dropped: u64) {
        self.invalid_utf8.fetch_add(invalid_utf8, Ordering::Relaxed);
        self.truncated_values
            .fetch_add(truncated, Ordering::Relaxed);
        self.dropped_attributes
            .fetch_add(dropped, Ordering::Relaxed);
    }

    pub(crate) fn add_dropped_log_ids(&self, count: u64) {
        self.dropped_log_ids.fetch_add(count, Ordering::Relaxed);
    }

    pub(crate) fn add_rejected(&self, signal: Signal, reason: &'static str, count: u64) {
        let mut rejected = self.rejected.lock().unwrap_or_else(|p| p.into_inner());
        *rejected.entry((signal.as_str(), reason)).or_insert(0) += count;
    }

    pub(crate) fn add_refused(&self, transport: &'static str, reason: &'static str) {
        let mut refused = self
            .refused_requests
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *refused.entry((transport, reason)).or_insert(0) += 1;
    }

    /// Appends the Prometheus text exposition to `out`.
    pub fn render_prometheus(&self, out: &mut String) {
        let _ = writeln!(out, "# TYPE periscope_ingested_records_total counter");
        for signal in Signal::ALL {
            let _ = writeln!(
                out,
                "periscope_ingested_records_total{{signal=\"{}\"}} {}",
                signal.as_str(),
                self.accepted[slot(signal)].load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(out, "# TYPE periscope_rejected_records_total counter");
        for ((signal, reason), count) in self
            .rejected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "periscope_rejected_records_total{{signal=\"{signal}\",reason=\"{}\"}} {count}",
                escape_label(reason)
            );
        }
        let _ = writeln!(out, "# TYPE periscope_refused_requests_total counter");
        for ((transport, reason), count) in self
            .refused_requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "periscope_refused_requests_total{{transport=\"{transport}\",reason=\"{reason}\"}} {count}"
            );
        }
        let simple = [
            ("periscope_invalid_utf8_total", &self.invalid_utf8),
            ("periscope_truncated_values_total", &self.truncated_values),
            (
                "periscope_dropped_attributes_total",
                &self.dropped_attributes,
            ),
            ("periscope_dropped_log_ids_total", &self.dropped_log_ids),
        ];
        for (name, counter) in simple {
            let _ = writeln!(
                out,
                "# TYPE {name} counter\n{name} {}",
                counter.load(Ordering::Relaxed)
            );
        }
    }
}

fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}
