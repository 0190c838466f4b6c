//! results.json and a markdown table with the floors of shared/PERFORMANCE.md beside each
//! figure. Rows appear for the scenarios that ran.

use std::fmt::Write as _;
use std::path::Path;

use super::results::{Ingest, Results};
use super::stats::Latency;

/// Writes `results.json` and `results.md` into `out_dir`.
pub(crate) fn write(out_dir: &Path, results: &Results) -> anyhow::Result<()> {
    std::fs::create_dir_all(out_dir)?;
    std::fs::write(
        out_dir.join("results.json"),
        serde_json::to_vec_pretty(results)?,
    )?;
    std::fs::write(out_dir.join("results.md"), markdown(results))?;
    Ok(())
}

/// Table rows: metric, measured, floor.
struct Rows(Vec<(String, String, String)>);

impl Rows {
    fn add(&mut self, metric: impl Into<String>, measured: String, floor: &str) {
        self.0.push((metric.into(), measured, floor.to_string()));
    }

    fn ingest(&mut self, id: &str, what: &str, ingest: &Ingest, floor: &str) {
        self.add(
            format!("{id} {what} per server CPU-second"),
            format!(
                "{:.0} ({} sent, {} stored)",
                ingest.per_cpu_second, ingest.sent, ingest.stored
            ),
            floor,
        );
        self.add(
            format!("{id} {what} per wall-clock second; ack p50 / p99"),
            format!(
                "{:.0}; {}",
                ingest.per_wall_second,
                p50_p99(&ingest.ack_latency)
            ),
            "—",
        );
        self.cpu_by_thread(id, ingest);
    }

    /// Where the server's CPU went, busiest thread name first.
    fn cpu_by_thread(&mut self, id: &str, ingest: &Ingest) {
        if ingest.cpu_by_thread.is_empty() {
            return;
        }
        let mut threads: Vec<(&String, &f64)> = ingest.cpu_by_thread.iter().collect();
        threads.sort_by(|a, b| b.1.total_cmp(a.1));
        let parts: Vec<String> = threads
            .iter()
            .filter(|(_, seconds)| **seconds >= 0.01)
            .map(|(name, seconds)| format!("{name} {seconds:.2}"))
            .collect();
        self.add(
            format!("{id} server CPU seconds by thread"),
            format!("{:.2}: {}", ingest.cpu_seconds, parts.join(", ")),
            "—",
        );
    }
}

fn p50_p99(latency: &Latency) -> String {
    format!("{:.1} / {:.1} ms", latency.p50_ms, latency.p99_ms)
}

fn p50_p95(latency: &Latency) -> String {
    format!("{:.1} / {:.1} ms", latency.p50_ms, latency.p95_ms)
}

fn rows(results: &Results) -> Rows {
    let mut rows = Rows(Vec::new());
    if let Some(s1) = &results.s1 {
        rows.ingest("S1", "spans (gRPC)", s1, "≥ 100 000");
    }
    if let Some(s2) = &results.s2 {
        rows.ingest("S2", "spans (HTTP protobuf + gzip)", &s2.protobuf_gzip, "—");
        rows.ingest("S2", "spans (HTTP JSON)", &s2.json, "—");
    }
    if let Some(s3) = &results.s3 {
        // Two readings of "log MB": the lines alone (raw text, the stricter), and the
        // records as OTLP sends them, with attributes and ids (docs/benchmarks.md).
        rows.add(
            "S3 log MB indexed per server CPU-second: bodies",
            format!(
                "{:.2} ({} records sent, {} stored)",
                s3.mb_per_cpu_second, s3.records.sent, s3.records.stored
            ),
            "≥ 12",
        );
        rows.add(
            "S3 log MB indexed per server CPU-second: OTLP records",
            format!("{:.2}", s3.record_mb_per_cpu_second),
            "≥ 12",
        );
        rows.add(
            "S3 log records per server CPU-second",
            format!("{:.0}", s3.records.per_cpu_second),
            "—",
        );
        rows.cpu_by_thread("S3", &s3.records);
    }
    if let Some(s4) = &results.s4 {
        rows.ingest("S4", "metric points", s4, "—");
    }
    if let Some(s9) = &results.s9 {
        rows.add("S9 ack → visible p50 / p99", p50_p99(s9), "p99 ≤ 2000 ms");
    }
    for s5 in &results.s5 {
        rows.add(
            format!("S5 trace by id p50 / p99 ({} spans)", s5.spans_stored),
            p50_p99(&s5.found),
            "p99 ≤ 50 ms at 10M",
        );
        rows.add(
            format!("S5 missing trace id p50 / p99 ({} spans)", s5.spans_stored),
            p50_p99(&s5.missing),
            "—",
        );
    }
    if let Some(s6) = &results.s6 {
        rows.add("S6 trace search p50 / p99", p50_p99(s6), "p50 ≤ 300 ms");
    }
    if let Some(s7) = &results.s7 {
        rows.add(
            format!(
                "S7 log needle, rare token ({} hits) p50 / p99 ({} lines)",
                s7.rare_token_hits, s7.lines_stored
            ),
            p50_p99(&s7.rare_token),
            "p50 ≤ 50 ms at 10M",
        );
        rows.add(
            format!(
                "S7 log needle, trace id p50 / p99 ({} lines)",
                s7.lines_stored
            ),
            p50_p99(&s7.trace_id),
            "p50 ≤ 50 ms at 10M",
        );
    }
    if let Some(s8) = &results.s8 {
        rows.add(
            format!(
                "S8 log aggregate: {:?} ({} hits) + 60-bucket histogram, logs page p50 / p99 ({} lines)",
                s8.term, s8.hits, s8.lines_stored
            ),
            p50_p99(&s8.latency),
            "p50 ≤ 1000 ms at 10M",
        );
    }
    for page in &results.pages {
        rows.add(
            format!("UI {} (`{}`) p50 / p95", page.page, page.path),
            p50_p95(&page.latency),
            "p95 ≤ 200 ms",
        );
    }
    if let Some(disk) = &results.disk {
        if let Some(bytes) = disk.bytes_per_span {
            rows.add(
                "bytes on disk per span (Parquet)",
                format!("{bytes:.1}"),
                "≤ 50",
            );
        }
        if let Some(ratio) = disk.log_index_bytes_per_raw_byte {
            rows.add(
                "log index bytes / raw log bytes (bodies)",
                format!("{ratio:.3}"),
                "≤ 0.35",
            );
        }
        if let Some(ratio) = disk.log_index_bytes_per_record_byte {
            rows.add(
                "log index bytes / OTLP log record bytes",
                format!("{ratio:.3}"),
                "≤ 0.35",
            );
        }
        if let Some(bytes) = disk.bytes_per_metric_point {
            rows.add("bytes on disk per metric point", format!("{bytes:.1}"), "—");
        }
        rows.add(
            "idle / peak server RSS",
            format!(
                "{:.1} / {:.1} MiB",
                results.idle_rss_mib, results.peak_rss_mib
            ),
            "idle ≤ 60 MiB",
        );
    }
    if let Some(s10) = &results.s10 {
        rows.add(
            format!(
                "S10 steady state ({:.0} spans/s + {:.0} lines/s, {:.0} s): server CPU",
                s10.spans_per_second, s10.logs_per_second, s10.seconds
            ),
            format!("{:.1} % of a core", s10.cpu_percent_of_core),
            "≤ 10 %",
        );
        rows.add(
            "S10 RSS median / max",
            format!("{:.1} / {:.1} MiB", s10.rss_median_mib, s10.rss_max_mib),
            "≤ 150 MiB",
        );
        rows.add(
            "S10 disk growth",
            format!("{:.2} MiB per minute", s10.disk_growth_mib_per_minute),
            "—",
        );
    }
    rows
}

/// The results as a markdown table.
pub(crate) fn markdown(results: &Results) -> String {
    let mut out = String::new();
    let machine = &results.machine;
    let _ = writeln!(
        out,
        "Machine: {} ({} cores, {} GiB), {} build. Scenarios: {}.\n",
        machine["cpu"].as_str().unwrap_or("?"),
        machine["cores"],
        machine["memory_gib"],
        machine["build"].as_str().unwrap_or("?"),
        results.scenarios.join(" ")
    );
    let _ = writeln!(out, "| metric | measured | floor |\n|---|---|---|");
    for (metric, measured, floor) in rows(results).0 {
        let _ = writeln!(out, "| {metric} | {measured} | {floor} |");
    }
    out
}
