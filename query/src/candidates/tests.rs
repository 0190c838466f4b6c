//! The two-step search against one pass over everything with all conditions at once.

use periscope_storage::Signal;

use super::*;
use crate::test_support::{span_row, store_with_parts};
use crate::traces::search_conditions;
use crate::{
    AttrFilter, AttrValue, Engine, FilterOp, QueryConfig, SpanId, SpanRow, TraceSearch, context,
};

const SERVICES: [&str; 3] = ["frontend", "checkout", "payments"];
const TIERS: [&str; 3] = ["free", "pro", "enterprise"];

fn span(trace: u64, step: u64) -> SpanRow {
    let mut trace_bytes = [0u8; 16];
    trace_bytes[8..].copy_from_slice(&(trace * 7919 + 1).to_be_bytes());
    let start = 1_700_000_000_000_000_000 + (trace * 1_000_000 + step * 1_000) as i64;
    let service = SERVICES[(step % 3) as usize];
    SpanRow {
        parent_span_id: (step > 0).then(|| SpanId((trace * 8 + step).to_be_bytes())),
        attributes: vec![(
            "customer.tier".to_string(),
            // Rare and irregular, so a match can be far from the newest trace.
            AttrValue::Str(TIERS[((trace * trace + step) % 13 % 3) as usize].to_string()),
        )],
        ..span_row(
            trace_bytes,
            (trace * 8 + step + 1).to_be_bytes(),
            start,
            service,
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_steps_find_what_one_pass_finds() {
    let dir = tempfile::tempdir().unwrap();
    // Traces interleaved in time across the parts, so files overlap.
    let parts = (0..3u64)
        .map(|part| {
            (0..600u64)
                .filter(|trace| trace % 3 == part)
                .flat_map(|trace| (0..4).map(move |step| span(trace, step)))
                .collect()
        })
        .collect();
    let store = store_with_parts(dir.path(), parts).await;
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
