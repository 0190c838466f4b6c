//! The two-step search against one pass over everything with all conditions at once.

use std::sync::Arc;

use periscope_storage::{IngestBatch, Signal, StorageConfig, Store};

use super::*;
use crate::traces::search_conditions;
use crate::{
    AttrFilter, AttrValue, Engine, FilterOp, Origin, QueryConfig, SpanId, SpanRow, TraceId,
    TraceSearch, context,
};

const SERVICES: [&str; 3] = ["frontend", "checkout", "payments"];
const TIERS: [&str; 3] = ["free", "pro", "enterprise"];

fn span(trace: u64, step: u64) -> SpanRow {
    let mut trace_bytes = [0u8; 16];
    trace_bytes[8..].copy_from_slice(&(trace * 7919 + 1).to_be_bytes());
    let start = 1_700_000_000_000_000_000 + (trace * 1_000_000 + step * 1_000) as i64;
    SpanRow {
        trace_id: TraceId(trace_bytes),
        span_id: SpanId((trace * 8 + step + 1).to_be_bytes()),
        parent_span_id: (step > 0).then(|| SpanId((trace * 8 + step).to_be_bytes())),
        trace_state: String::new(),
        flags: 0,
        name: "op".to_string(),
        kind: 2,
        start_time_unix_nano: start,
        end_time_unix_nano: start + 1_000,
        status_code: 0,
        status_message: String::new(),
        attributes: vec![(
            "customer.tier".to_string(),
            // Rare and irregular, so a match can be far from the newest trace.
            AttrValue::Str(TIERS[((trace * trace + step) % 13 % 3) as usize].to_string()),
        )],
        dropped_attributes_count: 0,
        events: Vec::new(),
        dropped_events_count: 0,
        links: Vec::new(),
        dropped_links_count: 0,
        origin: Arc::new(Origin {
            service_name: SERVICES[(step % 3) as usize].to_string(),
            ..Origin::default()
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_steps_find_what_one_pass_finds() {
    let dir = tempfile::tempdir().unwrap();
    let config = StorageConfig {
        flush_interval_secs: 3600,
        ..StorageConfig::default()
    };
    let store = Store::open(dir.path(), config).unwrap();
    for part in 0..3u64 {
        // Traces interleaved in time across the parts, so files overlap.
        let rows: Vec<SpanRow> = (0..600u64)
            .filter(|trace| trace % 3 == part)
            .flat_map(|trace| (0..4).map(move |step| span(trace, step)))
            .collect();
        store
            .append(Store::prepare(IngestBatch::Spans(rows)).unwrap())
            .await
            .unwrap();
        if part < 2 {
            store.flush_now().unwrap();
        }
    }
    let engine = Engine::new(store.clone(), QueryConfig::default()).unwrap();
    let filter = |op: FilterOp, value: &str| AttrFilter {
        key: "customer.tier".to_string(),
        op,
        value: value.to_string(),
    };
    let searches = [
        (vec![filter(FilterOp::Eq, "pro")], false, 7),
        (vec![filter(FilterOp::Eq, "enterprise")], false, 500),
        (
            vec![filter(FilterOp::Ne, "free"), filter(FilterOp::Eq, "x")],
            true,
            30,
        ),
        (vec![filter(FilterOp::Eq, "nobody")], false, 20),
    ];
    for (filters, any_filter, limit) in searches {
        let search = TraceSearch {
            service: Some("checkout".to_string()),
            filters,
            any_filter,
            limit,
            ..TraceSearch::default()
        };
        let found: Vec<String> = engine
            .search_traces(&search)
            .await
            .unwrap()
            .iter()
            .map(|trace| trace.trace_id.to_hex())
            .collect();
        let conditions = search_conditions(&search).unwrap();
        let one_pass = Conditions {
            cheap: format!("{} AND {}", conditions.cheap, conditions.costly.unwrap()),
            costly: None,
        };
        let session = context::spans_session(
            &engine.store,
            &engine.config,
            &engine.caches,
            store.snapshot(Signal::Spans),
        )
        .await
        .unwrap();
        let expected: Vec<String> = candidates(&session, &one_pass, limit, true)
            .await
            .unwrap()
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(found, expected, "{search:?}");
    }
}
