//! Service-to-service calls from parent/child spans, resolved where the spans are: within one
//! flush (or the recent rows, at query time), then against the spans of the last flushes the
//! flusher keeps in memory ([`EdgeCarry`]).
//!
//! A child whose parent is in neither waits in the carry ("pending") and is counted by the
//! flush that brings its parent: services export a span when it ends, so a child often
//! arrives before its parent. What is left out, against a join over every stored span:
//! - a parent and child more than [`MAX_CARRY_SPANS`] spans (at least one flush) apart;
//! - pairs split by a restart (the carry lives in memory only);
//! - a child delivered twice in two different flushes counts twice (once within a flush).
//!
//! The carry costs ~20 bytes per span held: ~5 MB at its limit.

use std::collections::HashMap;
use std::sync::Arc;

use super::rows::{BuildKeyHasher, StatRows};

/// Spans the carry keeps for later children (the newest flush always stays whole).
pub const MAX_CARRY_SPANS: usize = 1 << 18;

/// Flushes the carry looks back over at most.
const MAX_GENERATIONS: usize = 8;

type SpanServices = HashMap<u64, u32, BuildKeyHasher>;

/// A child span whose parent was not found yet.
#[derive(Debug, Clone, Copy)]
struct Pending {
    parent: u64,
    /// Index into its generation's services.
    service: u32,
    failed: bool,
    start_ns: i64,
}

/// What one flush left behind for later ones.
#[derive(Debug, Default)]
struct Generation {
    services: Arc<Vec<Arc<str>>>,
    /// Span key → index into `services`.
    spans: Arc<SpanServices>,
    pending: Vec<Pending>,
}

/// The spans of the last flushes and their children still waiting for a parent; owned by
/// the flusher, read by queries for the recent rows (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct EdgeCarry {
    /// Newest first.
    generations: Vec<Arc<Generation>>,
}

impl EdgeCarry {
    /// Spans held.
    pub fn num_spans(&self) -> usize {
        self.generations
            .iter()
            .map(|generation| generation.spans.len())
            .sum()
    }

    /// Children waiting for a parent.
    pub fn num_pending(&self) -> usize {
        self.generations
            .iter()
            .map(|generation| generation.pending.len())
            .sum()
    }
}

/// A call: a child span of service `callee` whose parent is of `caller` (indices into
/// [`Resolution::services`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedEdge {
    /// Parent's service.
    pub caller: u32,
    /// Child's service.
    pub callee: u32,
    /// The child has status ERROR.
    pub failed: bool,
    /// The child's start, ns.
    pub start_ns: i64,
}

/// The calls found in some rows, and what to carry to the next flush.
#[derive(Debug, Default)]
pub struct Resolution {
    /// Service names the edges point into.
    pub services: Vec<Arc<str>>,
    /// Calls between different services.
    pub edges: Vec<ResolvedEdge>,
    spans: SpanServices,
    pending: Vec<Pending>,
    /// (generation, pending index) of the carried children resolved here.
    resolved: Vec<(usize, usize)>,
}

impl Resolution {
    /// The carry after a flush of these rows: their spans and unresolved children first, the
    /// older generations without the children resolved here, trimmed to the limits.
    pub fn next_carry(self, old: &EdgeCarry) -> EdgeCarry {
        let mut generations = vec![Arc::new(Generation {
            services: Arc::new(self.services),
            spans: Arc::new(self.spans),
            pending: self.pending,
        })];
        let mut held = generations[0].spans.len();
        for (index, generation) in old.generations.iter().enumerate() {
            held += generation.spans.len();
            if generations.len() >= MAX_GENERATIONS || held > MAX_CARRY_SPANS {
                break;
            }
            let resolved: Vec<usize> = self
                .resolved
                .iter()
                .filter(|(generation_index, _)| *generation_index == index)
                .map(|(_, pending_index)| *pending_index)
                .collect();
            if resolved.is_empty() {
                generations.push(generation.clone());
                continue;
            }
            let pending = generation
                .pending
                .iter()
                .enumerate()
                // Pushed in pending order: sorted.
                .filter(|(pending_index, _)| resolved.binary_search(pending_index).is_err())
                .map(|(_, pending)| *pending)
                .collect();
            generations.push(Arc::new(Generation {
                services: generation.services.clone(),
                spans: generation.spans.clone(),
                pending,
            }));
        }
        EdgeCarry { generations }
    }
}

/// Interns service names; consecutive rows usually share one, so the last is checked first.
#[derive(Default)]
struct Interner {
    names: Vec<Arc<str>>,
    index: HashMap<Arc<str>, u32>,
    last: Option<u32>,
}

impl Interner {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(last) = self.last
            && *self.names[last as usize] == *name
        {
            return last;
        }
        let index = match self.index.get(name) {
            Some(index) => *index,
            None => {
                let index = self.names.len() as u32;
                let shared: Arc<str> = Arc::from(name);
                self.names.push(shared.clone());
                self.index.insert(shared, index);
                index
            }
        };
        self.last = Some(index);
        index
    }
}

/// Finds the calls in `batches`: parents among the same rows first, then among the carry's
/// spans; and the carry's waiting children whose parent is among these rows. A span
/// delivered twice among `batches` counts once.
pub fn resolve_edges(batches: &[StatRows], carry: &EdgeCarry) -> Resolution {
    let num_rows = batches.iter().map(StatRows::len).sum();
    let mut interner = Interner::default();
    let mut spans = SpanServices::with_capacity_and_hasher(num_rows, BuildKeyHasher::default());
    let mut children: Vec<Pending> = Vec::new();
    for rows in batches {
        for row in 0..rows.len() {
            let Some(key) = rows.span_key(row) else {
                continue;
            };
            let service = interner.intern(rows.service(row));
            if spans.insert(key, service).is_some() {
                continue;
            }
            if let Some(parent) = rows.parent_key(row) {
                children.push(Pending {
                    parent,
                    service,
                    failed: rows.failed(row),
                    start_ns: rows.start_ns(row),
                });
            }
        }
    }
    let mut edges = Vec::new();
    let mut push = |caller: u32, callee: u32, child: &Pending| {
        if caller != callee {
            edges.push(ResolvedEdge {
                caller,
                callee,
                failed: child.failed,
                start_ns: child.start_ns,
            });
        }
    };
    let mut pending = Vec::new();
    for child in children {
        if let Some(&caller) = spans.get(&child.parent) {
            push(caller, child.service, &child);
            continue;
        }
        let carried = carry.generations.iter().find_map(|generation| {
            let service = generation.spans.get(&child.parent)?;
            Some(generation.services[*service as usize].clone())
        });
        match carried {
            Some(caller) => push(interner.intern(&caller), child.service, &child),
            None => pending.push(child),
        }
    }
    let mut resolved = Vec::new();
    for (generation_index, generation) in carry.generations.iter().enumerate() {
        for (pending_index, child) in generation.pending.iter().enumerate() {
            if let Some(&caller) = spans.get(&child.parent) {
                let callee = interner.intern(&generation.services[child.service as usize]);
                push(caller, callee, child);
                resolved.push((generation_index, pending_index));
            }
        }
    }
    Resolution {
        services: interner.names,
        edges,
        spans,
        pending,
        resolved,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::spans_to_batch;
    use crate::model::{SpanId, SpanRow};
    use crate::test_support::span_row;

    fn span(service: &str, span: u8, parent: Option<u8>, status: i32) -> SpanRow {
        SpanRow {
            parent_span_id: parent.map(|parent| SpanId([parent; 8])),
            end_time_unix_nano: 2_000,
            status_code: status,
            ..span_row([7; 16], [span; 8], 1_000 + i64::from(span), service)
        }
    }

    fn resolve(spans: &[SpanRow], carry: &EdgeCarry) -> (Vec<(String, String, bool)>, EdgeCarry) {
        let batch = spans_to_batch(spans).unwrap();
        let resolution = resolve_edges(&[StatRows::new(&batch).unwrap()], carry);
        let mut edges: Vec<(String, String, bool)> = resolution
            .edges
            .iter()
            .map(|edge| {
                (
                    resolution.services[edge.caller as usize].to_string(),
                    resolution.services[edge.callee as usize].to_string(),
                    edge.failed,
                )
            })
            .collect();
        edges.sort();
        (edges, resolution.next_carry(carry))
    }

    fn edge(caller: &str, callee: &str, failed: bool) -> (String, String, bool) {
        (caller.to_string(), callee.to_string(), failed)
    }

    #[test]
    fn calls_are_resolved_within_a_flush_and_across_flushes_both_ways() {
        // First flush: the root, a child within the flush (delivered twice), a same-service
        // child, and a child whose parent (9) comes in the next flush.
        let first = [
            span("frontend", 1, None, 0),
            span("checkout", 2, Some(1), 0),
            span("checkout", 2, Some(1), 0),
            span("checkout", 3, Some(2), 0),
            span("payments", 4, Some(9), 2),
        ];
        let (edges, carry) = resolve(&first, &EdgeCarry::default());
        assert_eq!(edges, [edge("frontend", "checkout", false)]);
        assert_eq!(carry.num_pending(), 1);
        assert_eq!(carry.num_spans(), 4);
        // Second flush: the late parent, and a child of a span flushed before.
        let second = [
            span("inventory", 9, Some(3), 0),
            span("postgres", 5, Some(2), 0),
        ];
        let (edges, carry) = resolve(&second, &carry);
        assert_eq!(
            edges,
            [
                edge("checkout", "inventory", false),
                edge("checkout", "postgres", false),
                edge("inventory", "payments", true),
            ]
        );
        assert_eq!(carry.num_pending(), 0, "the waiting child was counted once");
        assert_eq!(carry.num_spans(), 6);
        // A third flush finds nothing more to resolve.
        let (edges, _) = resolve(&[span("frontend", 6, None, 0)], &carry);
        assert!(edges.is_empty());
    }
}
