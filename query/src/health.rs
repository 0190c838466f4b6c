//! Service health over a window (the services pages): the span files' precomputed summaries
//! (`periscope_storage::span_stats`) added up, plus the recent rows not flushed yet read
//! live. A window that meets a file written before summaries existed is answered by the
//! scanning path (`services.rs`) instead, exactly as before.

mod file_stats;
mod merge;
#[cfg(test)]
mod tests;

pub(crate) use file_stats::FileStats;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use periscope_storage::span_stats::{EdgeCarry, SpanStats, StatRows, resolve_edges};

use crate::Engine;
use crate::error::QueryError;
use crate::services::{self, DependencyEdge, RequestStats, TimeWindow};
use merge::{Frame, Tally};

/// What a window is answered from, when every file it meets has a summary.
struct Sources {
    summaries: Vec<Arc<SpanStats>>,
    recent: Vec<StatRows>,
    carry: EdgeCarry,
}

/// The summaries meeting `frame`'s window and the recent rows; `None` when a file the
/// window meets has no summary (the caller scans).
async fn sources(engine: &Engine, frame: &Frame) -> Result<Option<Sources>, QueryError> {
    let (snapshot, carry) = engine.store.spans_with_carry();
    let summaries = engine.file_stats.of(&snapshot.files).await?;
    let mut kept = Vec::new();
    for (file, summary) in snapshot.files.iter().zip(summaries) {
        match summary {
            // Its own range: calls resolved late may lie before the file's spans.
            Some(stats) => {
                if stats
                    .bucket_range()
                    .is_some_and(|range| frame.meets_buckets(range))
                {
                    kept.push(stats);
                }
            }
            None => {
                if file.max_time_unix_nano >= frame.start_ns()
                    && file.min_time_unix_nano <= frame.end_ns()
                {
                    return Ok(None);
                }
            }
        }
    }
    let recent = snapshot
        .recent
        .iter()
        .map(StatRows::new)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Sources {
        summaries: kept,
        recent,
        carry,
    }))
}

/// Per service (or only `service`), with a request series of `points` points (0: none).
/// A service's requests are its entry spans, or all its spans when it has none.
pub(crate) async fn service_stats(
    engine: &Engine,
    window: TimeWindow,
    points: usize,
    service: Option<&str>,
) -> Result<Vec<RequestStats>, QueryError> {
    let frame = Frame::new(window, points);
    let Some(sources) = sources(engine, &frame).await? else {
        let context = engine.session_in_window(window).await?;
        return services::service_stats(&context, window, points, service).await;
    };
    let wanted = |name: &str| service.is_none_or(|service| service == name);
    // Per service: [other spans, entry spans].
    let mut by_service: BTreeMap<String, [Tally; 2]> = BTreeMap::new();
    for stats in &sources.summaries {
        for cell in &stats.services {
            let name = &stats.names[cell.service as usize];
            if wanted(name) {
                tally(&mut by_service, name, cell.entry).add_counts(&frame, &cell.counts);
            }
        }
    }
    for rows in &sources.recent {
        for index in 0..rows.len() {
            if !frame.contains(rows.start_ns(index)) {
                continue;
            }
            let row = rows.row(index);
            if wanted(row.service) {
                tally(&mut by_service, row.service, row.entry).add_span(
                    &frame,
                    row.start_ns,
                    row.duration_ns,
                    row.failed,
                );
            }
        }
    }
    Ok(by_service
        .into_iter()
        .filter(|(_, [others, entries])| others.requests() + entries.requests() > 0.0)
        .map(|(name, [others, entries])| {
            // Entry-span stats win when there is at least one (rounded) entry span.
            let chosen = if entries.requests() >= 0.5 {
                entries
            } else {
                others
            };
            chosen.into_stats(name, &frame)
        })
        .collect())
}

/// The tally of `name`'s entry spans or other spans, created on first use (without
/// allocating the name for the ones that exist).
fn tally<'a>(
    by_service: &'a mut BTreeMap<String, [Tally; 2]>,
    name: &str,
    entry: bool,
) -> &'a mut Tally {
    if !by_service.contains_key(name) {
        by_service.insert(name.to_string(), Default::default());
    }
    let tallies = by_service.get_mut(name).expect("inserted above");
    &mut tallies[usize::from(entry)]
}

/// Per operation (span name) of one service, over all its spans, busiest first.
pub(crate) async fn operation_stats(
    engine: &Engine,
    service: &str,
    window: TimeWindow,
) -> Result<Vec<RequestStats>, QueryError> {
    let frame = Frame::new(window, 0);
    let Some(sources) = sources(engine, &frame).await? else {
        let context = engine.session_in_window(window).await?;
        return services::operation_stats(&context, service, window).await;
    };
    let mut by_name: HashMap<String, Tally> = HashMap::new();
    for stats in &sources.summaries {
        for cell in &stats.operations {
            if stats.names[cell.service as usize] != service {
                continue;
            }
            let name = &stats.names[cell.operation as usize];
            if !by_name.contains_key(name) {
                by_name.insert(name.clone(), Tally::default());
            }
            if let Some(tally) = by_name.get_mut(name) {
                tally.add_counts(&frame, &cell.counts);
            }
        }
    }
    for rows in &sources.recent {
        for index in 0..rows.len() {
            if !frame.contains(rows.start_ns(index)) || rows.service(index) != service {
                continue;
            }
            let row = rows.row(index);
            by_name.entry(row.name.to_string()).or_default().add_span(
                &frame,
                row.start_ns,
                row.duration_ns,
                row.failed,
            );
        }
    }
    let mut stats: Vec<RequestStats> = by_name
        .into_iter()
        .filter(|(_, tally)| tally.requests() > 0.0)
        .map(|(name, tally)| tally.into_stats(name, &frame))
        .filter(|stats| stats.requests > 0)
        .collect();
    services::busiest_first(&mut stats);
    Ok(stats)
}

/// Service-to-service calls, busiest first.
pub(crate) async fn dependencies(
    engine: &Engine,
    window: TimeWindow,
) -> Result<Vec<DependencyEdge>, QueryError> {
    let frame = Frame::new(window, 0);
    let Some(sources) = sources(engine, &frame).await? else {
        let context = engine.session_in_window(window).await?;
        return services::dependencies(&context, window).await;
    };
    // (caller, callee) → (calls, errors).
    let mut edges: HashMap<(String, String), (f64, f64)> = HashMap::new();
    let mut add = |caller: &str, callee: &str, calls: f64, errors: f64| {
        let key = (caller.to_string(), callee.to_string());
        let edge = edges.entry(key).or_default();
        edge.0 += calls;
        edge.1 += errors;
    };
    for stats in &sources.summaries {
        for cell in &stats.edges {
            let (mut calls, mut errors) = (0.0, 0.0);
            for bucket in &cell.buckets {
                let share = frame.share(bucket.bucket);
                calls += bucket.count as f64 * share;
                errors += bucket.errors as f64 * share;
            }
            if calls > 0.0 {
                let name = |index: u32| stats.names[index as usize].as_str();
                add(name(cell.caller), name(cell.callee), calls, errors);
            }
        }
    }
    if !sources.recent.is_empty() {
        let resolution = resolve_edges(&sources.recent, &sources.carry);
        let mut live: HashMap<(u32, u32), (f64, f64)> = HashMap::new();
        for edge in &resolution.edges {
            if frame.contains(edge.start_ns) {
                let counts = live.entry((edge.caller, edge.callee)).or_default();
                counts.0 += 1.0;
                counts.1 += f64::from(u8::from(edge.failed));
            }
        }
        for ((caller, callee), (calls, errors)) in live {
            let name = |index: u32| &*resolution.services[index as usize];
            add(name(caller), name(callee), calls, errors);
        }
    }
    let mut out: Vec<DependencyEdge> = edges
        .into_iter()
        .map(|((caller, callee), (calls, errors))| DependencyEdge {
            caller,
            callee,
            calls: calls.round() as u64,
            errors: errors.round() as u64,
        })
        .filter(|edge| edge.calls > 0)
        .collect();
    services::busiest_edges_first(&mut out);
    Ok(out)
}
