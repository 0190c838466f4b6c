//! The service dependency graph as SVG geometry: services placed in columns by call depth
//! (callers left of callees), edges as curves labelled with call and error counts.

use std::collections::{BTreeMap, BTreeSet};

use periscope_query::DependencyEdge;

use super::summary::service_class;

const COLUMN_WIDTH: f64 = 310.0;
const ROW_HEIGHT: f64 = 80.0;
const NODE_WIDTH: f64 = 150.0;
const NODE_HEIGHT: f64 = 36.0;
const MARGIN: f64 = 20.0;
/// How far below its ends an edge that skips columns bends, so it passes under the nodes
/// in between instead of through them.
const DETOUR: f64 = 72.0;

pub(crate) struct GraphNode {
    pub(crate) name: String,
    pub(crate) href: String,
    pub(crate) class: String,
    pub(crate) x: String,
    pub(crate) y: String,
    pub(crate) text_x: String,
    pub(crate) text_y: String,
}

pub(crate) struct GraphEdge {
    pub(crate) path: String,
    pub(crate) label: String,
    pub(crate) label_x: String,
    pub(crate) label_y: String,
    pub(crate) error: bool,
    pub(crate) title: String,
}

pub(crate) struct Graph {
    pub(crate) width: String,
    pub(crate) height: String,
    pub(crate) nodes: Vec<GraphNode>,
    pub(crate) edges: Vec<GraphEdge>,
}

fn fmt(value: f64) -> String {
    format!("{value:.1}")
}

/// Lays out `edges`; `href(service)` links each node.
pub(crate) fn layout(edges: &[DependencyEdge], href: impl Fn(&str) -> String) -> Graph {
    let names: BTreeSet<&str> = edges
        .iter()
        .flat_map(|edge| [edge.caller.as_str(), edge.callee.as_str()])
        .collect();
    // Longest call depth from any caller, bounded by the number of services (cycles).
    let mut level: BTreeMap<&str, usize> = names.iter().map(|name| (*name, 0)).collect();
    for _ in 0..names.len() {
        let mut changed = false;
        for edge in edges {
            let caller_level = level[edge.caller.as_str()];
            let callee_level = level[edge.callee.as_str()];
            if callee_level < caller_level + 1 && caller_level + 1 < names.len() {
                level.insert(edge.callee.as_str(), caller_level + 1);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut columns: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for (name, column) in &level {
        columns.entry(*column).or_default().push(name);
    }
    let mut position: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    let mut max_rows = 1;
    for (column, members) in &columns {
        max_rows = max_rows.max(members.len());
        for (row, name) in members.iter().enumerate() {
            position.insert(
                name,
                (
                    MARGIN + *column as f64 * COLUMN_WIDTH,
                    MARGIN + row as f64 * ROW_HEIGHT,
                ),
            );
        }
    }
    let nodes = position
        .iter()
        .map(|(name, (x, y))| GraphNode {
            name: (*name).to_string(),
            href: href(name),
            class: service_class(name),
            x: fmt(*x),
            y: fmt(*y),
            text_x: fmt(x + NODE_WIDTH / 2.0),
            text_y: fmt(y + NODE_HEIGHT / 2.0 + 4.5),
        })
        .collect();
    let mut lowest = 0.0f64;
    let graph_edges = edges
        .iter()
        .map(|edge| {
            let (cx, cy) = position[edge.caller.as_str()];
            let (tx, ty) = position[edge.callee.as_str()];
            let (start_x, start_y) = (cx + NODE_WIDTH, cy + NODE_HEIGHT / 2.0);
            let (end_x, end_y) = (tx, ty + NODE_HEIGHT / 2.0);
            let skipped = level[edge.callee.as_str()].abs_diff(level[edge.caller.as_str()]);
            let forward = end_x > start_x;
            let detour = if skipped > 1 || !forward {
                // Pass below every node of the columns in between.
                let (low, high) = {
                    let a = level[edge.caller.as_str()];
                    let b = level[edge.callee.as_str()];
                    (a.min(b), a.max(b))
                };
                let bottom = position
                    .iter()
                    .filter(|(name, _)| (low + 1..high).contains(&level[*name]))
                    .map(|(_, (_, y))| y + NODE_HEIGHT)
                    .fold(0.0f64, f64::max);
                let middle = (start_y + end_y) / 2.0;
                DETOUR.max((bottom + 30.0 - middle) / 0.75)
            } else {
                0.0
            };
            let bend = ((end_x - start_x).abs() / 2.0).max(60.0);
            let path = format!(
                "M{} {} C{} {}, {} {}, {} {}",
                fmt(start_x),
                fmt(start_y),
                fmt(start_x + bend),
                fmt(start_y + detour),
                fmt(end_x - bend),
                fmt(end_y + detour),
                fmt(end_x - 6.0),
                fmt(end_y)
            );
            let label = if edge.errors > 0 {
                format!("{} calls · {} errors", edge.calls, edge.errors)
            } else {
                format!("{} calls", edge.calls)
            };
            // A cubic's middle lies at 3/4 of its control points' offset.
            let middle_y = (start_y + end_y) / 2.0 + detour * 0.75;
            lowest = lowest.max(middle_y + 10.0);
            GraphEdge {
                path,
                title: format!("{} → {}: {label}", edge.caller, edge.callee),
                label,
                label_x: fmt((start_x + end_x) / 2.0),
                label_y: fmt(middle_y - 6.0),
                error: edge.errors > 0,
            }
        })
        .collect();
    Graph {
        width: fmt(MARGIN * 2.0 + columns.len().max(1) as f64 * COLUMN_WIDTH),
        height: fmt((MARGIN * 2.0 + max_rows as f64 * ROW_HEIGHT).max(lowest + MARGIN)),
        nodes,
        edges: graph_edges,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(caller: &str, callee: &str) -> DependencyEdge {
        DependencyEdge {
            caller: caller.to_string(),
            callee: callee.to_string(),
            calls: 3,
            errors: 1,
        }
    }

    #[test]
    fn callers_sit_left_of_callees_even_with_cycles() {
        let graph = layout(
            &[
                edge("frontend", "checkout"),
                edge("checkout", "db"),
                edge("db", "frontend"),
            ],
            |name| format!("/services/{name}"),
        );
        assert_eq!(graph.nodes.len(), 3);
        let x = |name: &str| -> f64 {
            graph
                .nodes
                .iter()
                .find(|node| node.name == name)
                .unwrap()
                .x
                .parse()
                .unwrap()
        };
        assert!(x("checkout") > x("frontend") || x("frontend") > x("db"));
        assert_eq!(graph.edges[0].label, "3 calls · 1 errors");
    }
}
