//! Facts about a whole trace that several pages show: root, timing, counts, services, and
//! the colour class of a service.

use std::collections::BTreeSet;

use periscope_query::{SpanId, SpanRow, Trace};

/// The CSS class (`s0`…`s9`) of a service: a hash of its name, so the same service has the
/// same colour on every page.
pub(crate) fn service_class(service: &str) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in service.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("s{}", hash % 10)
}

/// A service name with its colour class.
#[derive(Debug, Clone)]
pub(crate) struct ServiceChip {
    pub(crate) name: String,
    pub(crate) class: String,
}

impl ServiceChip {
    pub(crate) fn new(name: &str) -> ServiceChip {
        ServiceChip {
            name: name.to_string(),
            class: service_class(name),
        }
    }
}

/// Summary of one trace.
#[derive(Debug, Clone)]
pub(crate) struct TraceSummary {
    pub(crate) trace_id: String,
    pub(crate) root_service: String,
    pub(crate) root_name: String,
    /// False when the root span has not arrived (yet): the earliest span stands in.
    pub(crate) has_root: bool,
    pub(crate) start_ns: i64,
    pub(crate) duration_ns: i64,
    pub(crate) num_spans: usize,
    pub(crate) num_errors: usize,
    pub(crate) services: Vec<ServiceChip>,
}

fn is_root(span: &SpanRow, ids: &BTreeSet<SpanId>) -> bool {
    span.parent_span_id
        .is_none_or(|parent| !ids.contains(&parent))
}

impl TraceSummary {
    pub(crate) fn of(trace: &Trace) -> TraceSummary {
        let ids: BTreeSet<SpanId> = trace.spans.iter().map(|span| span.span_id).collect();
        let start_ns = trace
            .spans
            .iter()
            .map(|span| span.start_time_unix_nano)
            .min()
            .unwrap_or(0);
        let end_ns = trace
            .spans
            .iter()
            .map(|span| span.end_time_unix_nano.max(span.start_time_unix_nano))
            .max()
            .unwrap_or(start_ns);
        // A true root (no parent) first, else the earliest span whose parent is missing.
        let root = trace
            .spans
            .iter()
            .find(|span| span.parent_span_id.is_none())
            .or_else(|| trace.spans.iter().find(|span| is_root(span, &ids)));
        let services: BTreeSet<&str> = trace
            .spans
            .iter()
            .map(|span| span.origin.service_name.as_str())
            .collect();
        TraceSummary {
            trace_id: trace.trace_id.to_hex(),
            root_service: root
                .map(|span| span.origin.service_name.clone())
                .unwrap_or_default(),
            root_name: root.map(|span| span.name.clone()).unwrap_or_default(),
            has_root: trace.spans.iter().any(|span| span.parent_span_id.is_none()),
            start_ns,
            duration_ns: end_ns - start_ns,
            num_spans: trace.spans.len(),
            num_errors: trace
                .spans
                .iter()
                .filter(|span| span.status_code == 2)
                .count(),
            services: services.into_iter().map(ServiceChip::new).collect(),
        }
    }

    pub(crate) fn root_class(&self) -> String {
        service_class(&self.root_service)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_colours_are_stable() {
        assert_eq!(service_class("checkout"), service_class("checkout"));
        assert!(service_class("anything").starts_with('s'));
    }
}
