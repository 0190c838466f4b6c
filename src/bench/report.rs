//! results.json and a markdown table.

use std::fmt::Write as _;
use std::path::Path;

use super::run::Results;

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

/// The results as a markdown table with the floors of shared/PERFORMANCE.md beside them.
pub(crate) fn markdown(results: &Results) -> String {
    let mut out = String::new();
    let machine = &results.machine;
    let _ = writeln!(
        out,
        "Machine: {} ({} cores, {} GiB), {} build.\n",
        machine["cpu"].as_str().unwrap_or("?"),
        machine["cores"],
        machine["memory_gib"],
        machine["build"].as_str().unwrap_or("?")
    );
    let _ = writeln!(out, "| metric | measured | floor |\n|---|---|---|");
    let rows: [(String, String, &str); 13] = [
        (
            "S1 spans ingested per server CPU-second".into(),
            format!(
                "{:.0} ({} spans)",
                results.spans_per_cpu_second, results.spans_sent
            ),
            "≥ 100 000",
        ),
        (
            "S1 spans per wall-clock second".into(),
            format!("{:.0}", results.spans_per_wall_second),
            "—",
        ),
        (
            "S1 ack latency p50 / p99".into(),
            format!(
                "{:.1} / {:.1} ms",
                results.span_ack_latency.p50_ms, results.span_ack_latency.p99_ms
            ),
            "—",
        ),
        (
            "S3 log MB indexed per server CPU-second".into(),
            format!(
                "{:.2} ({} records)",
                results.log_mb_per_cpu_second, results.logs_sent
            ),
            "≥ 12",
        ),
        (
            "S3 log records per server CPU-second".into(),
            format!("{:.0}", results.logs_per_cpu_second),
            "—",
        ),
        (
            "bytes on disk per span (Parquet)".into(),
            format!("{:.1}", results.bytes_per_span),
            "≤ 50",
        ),
        (
            "log index bytes / raw log bytes".into(),
            format!("{:.3}", results.log_index_bytes_per_raw_byte),
            "≤ 0.35",
        ),
        (
            "S9 ack → visible p50 / p99".into(),
            format!(
                "{:.1} / {:.1} ms",
                results.ack_to_visible.p50_ms, results.ack_to_visible.p99_ms
            ),
            "p99 ≤ 2000 ms",
        ),
        (
            format!(
                "S5 trace by id p50 / p99 ({} spans stored)",
                results.spans_stored
            ),
            format!(
                "{:.1} / {:.1} ms",
                results.trace_by_id_found.p50_ms, results.trace_by_id_found.p99_ms
            ),
            "p99 ≤ 50 ms at 10M",
        ),
        (
            "S5 missing trace id p50 / p99".into(),
            format!(
                "{:.1} / {:.1} ms",
                results.trace_by_id_missing.p50_ms, results.trace_by_id_missing.p99_ms
            ),
            "—",
        ),
        (
            "S6 trace search p50".into(),
            format!("{:.1} ms", results.trace_search.p50_ms),
            "≤ 300 ms",
        ),
        (
            format!("S7 log needle p50 ({} lines)", results.logs_stored),
            format!("{:.1} ms", results.log_needle.p50_ms),
            "≤ 50 ms at 10M",
        ),
        (
            "idle / peak server RSS".into(),
            format!(
                "{:.1} / {:.1} MiB",
                results.idle_rss_mib, results.peak_rss_mib
            ),
            "idle ≤ 60 MiB",
        ),
    ];
    for (metric, measured, floor) in rows {
        let _ = writeln!(out, "| {metric} | {measured} | {floor} |");
    }
    out
}
