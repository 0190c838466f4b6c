//! A trace as a tree of spans: parent/child links (orphans become roots), the critical path,
//! and the flat list of waterfall rows the template renders (nested `<details>` opened and
//! closed in order, since templates cannot recurse). Large traces render their upper levels
//! only; deeper subtrees are fetched when opened.

use std::collections::{HashMap, HashSet};

use periscope_query::{SpanId, SpanRow};

use super::format;
use super::summary::service_class;

/// Rows rendered at most before deeper subtrees are left to load on demand.
pub(crate) const EAGER_ROWS: usize = 300;
/// Below this many spans a trace renders whole.
pub(crate) const SMALL_TRACE: usize = 300;
/// Depth rendered eagerly in large traces.
pub(crate) const EAGER_DEPTH: usize = 4;

/// Span indices arranged as a tree.
pub(crate) struct SpanTree<'a> {
    pub(crate) spans: &'a [SpanRow],
    pub(crate) roots: Vec<usize>,
    pub(crate) children: Vec<Vec<usize>>,
    pub(crate) parent: Vec<Option<usize>>,
    pub(crate) trace_start_ns: i64,
    pub(crate) trace_len_ns: i64,
}

impl<'a> SpanTree<'a> {
    /// Builds the tree; children in start order. Spans must be in start order already.
    pub(crate) fn new(spans: &'a [SpanRow]) -> SpanTree<'a> {
        let index: HashMap<SpanId, usize> = spans
            .iter()
            .enumerate()
            .map(|(position, span)| (span.span_id, position))
            .collect();
        let mut children = vec![Vec::new(); spans.len()];
        let mut parent = vec![None; spans.len()];
        let mut roots = Vec::new();
        for (position, span) in spans.iter().enumerate() {
            match span
                .parent_span_id
                .and_then(|id| index.get(&id))
                .filter(|found| **found != position)
            {
                Some(&found) => {
                    children[found].push(position);
                    parent[position] = Some(found);
                }
                None => roots.push(position),
            }
        }
        // A cycle (corrupt parents) would hide spans; give every unreachable span a root.
        let mut reachable = vec![false; spans.len()];
        let mark = |from: usize, reachable: &mut Vec<bool>, children: &Vec<Vec<usize>>| {
            let mut stack = vec![from];
            while let Some(node) = stack.pop() {
                if !std::mem::replace(&mut reachable[node], true) {
                    stack.extend(children[node].iter().copied());
                }
            }
        };
        for root in &roots {
            mark(*root, &mut reachable, &children);
        }
        for position in 0..spans.len() {
            if reachable[position] {
                continue;
            }
            roots.push(position);
            if let Some(old_parent) = parent[position].take() {
                children[old_parent].retain(|child| *child != position);
            }
            mark(position, &mut reachable, &children);
        }
        let trace_start_ns = spans
            .iter()
            .map(|span| span.start_time_unix_nano)
            .min()
            .unwrap_or(0);
        let trace_end_ns = spans
            .iter()
            .map(|span| span.end_time_unix_nano)
            .max()
            .unwrap_or(trace_start_ns);
        SpanTree {
            spans,
            roots,
            children,
            parent,
            trace_start_ns,
            trace_len_ns: (trace_end_ns - trace_start_ns).max(1),
        }
    }

    pub(crate) fn find(&self, span_id: SpanId) -> Option<usize> {
        self.spans.iter().position(|span| span.span_id == span_id)
    }

    pub(crate) fn depth(&self, mut node: usize) -> usize {
        let mut depth = 0;
        while let Some(parent) = self.parent[node] {
            depth += 1;
            node = parent;
        }
        depth
    }

    fn descendants(&self, node: usize) -> usize {
        let mut count = 0;
        let mut stack = self.children[node].clone();
        while let Some(next) = stack.pop() {
            count += 1;
            stack.extend(self.children[next].iter().copied());
        }
        count
    }

    /// The spans on the critical path: walking back from the end of each root, the child
    /// that finished last before the current point, then the one before its start, and so on.
    pub(crate) fn critical_path(&self) -> HashSet<usize> {
        let mut marked = HashSet::new();
        let Some(&longest_root) = self
            .roots
            .iter()
            .max_by_key(|root| self.spans[**root].end_time_unix_nano)
        else {
            return marked;
        };
        let mut work = vec![(longest_root, self.spans[longest_root].end_time_unix_nano)];
        while let Some((node, bound)) = work.pop() {
            marked.insert(node);
            let span = &self.spans[node];
            let mut cursor = bound.min(span.end_time_unix_nano);
            let mut by_end = self.children[node].clone();
            by_end.sort_by_key(|child| std::cmp::Reverse(self.spans[*child].end_time_unix_nano));
            for child in by_end {
                let child_span = &self.spans[child];
                if child_span.start_time_unix_nano < cursor && cursor > span.start_time_unix_nano {
                    work.push((child, cursor));
                    cursor = child_span.start_time_unix_nano;
                }
            }
        }
        marked
    }
}

/// One row of the waterfall.
pub(crate) struct WaterfallRow {
    pub(crate) select_href: String,
    pub(crate) span_id: String,
    pub(crate) name: String,
    pub(crate) service: String,
    pub(crate) class: String,
    pub(crate) depth_class: String,
    pub(crate) duration: String,
    pub(crate) offset: String,
    pub(crate) x: String,
    pub(crate) width: String,
    pub(crate) error: bool,
    pub(crate) critical: bool,
    pub(crate) selected: bool,
    /// Children rendered inside this row's `<details>`.
    pub(crate) has_children: bool,
    /// Children left to load on demand (`hx-get` on opening).
    pub(crate) lazy: bool,
    pub(crate) hidden: usize,
    /// `</div></details>` to emit after this row.
    pub(crate) closes: usize,
}

/// What to render.
pub(crate) struct RowPlan<'t> {
    pub(crate) tree: &'t SpanTree<'t>,
    pub(crate) critical: &'t HashSet<usize>,
    pub(crate) selected: Option<usize>,
    /// Spans that must be rendered (the selected span's ancestors).
    pub(crate) keep_open: HashSet<usize>,
    /// Large traces render rows above this depth eagerly.
    pub(crate) eager_depth: usize,
    /// Link selecting a span, completed with its id (`…&span=`).
    pub(crate) select_base: String,
}

impl RowPlan<'_> {
    /// Rows of `starts` and their subtrees, depth measured from `base_depth`.
    pub(crate) fn rows(&self, starts: &[usize], base_depth: usize) -> Vec<WaterfallRow> {
        let whole = self.tree.spans.len() <= SMALL_TRACE;
        let mut rows: Vec<WaterfallRow> = Vec::new();
        // (node, depth); a `None` node closes the `<details>` of the row that opened it.
        let mut stack: Vec<Option<(usize, usize)>> = starts
            .iter()
            .rev()
            .map(|node| Some((*node, base_depth)))
            .collect();
        while let Some(entry) = stack.pop() {
            let Some((node, depth)) = entry else {
                if let Some(last) = rows.last_mut() {
                    last.closes += 1;
                }
                continue;
            };
            let children = &self.tree.children[node];
            let eager = whole
                || self.keep_open.contains(&node)
                || (depth < self.eager_depth && rows.len() < EAGER_ROWS);
            let expand = !children.is_empty() && eager;
            rows.push(self.row(node, depth, expand));
            if expand {
                stack.push(None);
                stack.extend(children.iter().rev().map(|child| Some((*child, depth + 1))));
            }
        }
        rows
    }

    fn row(&self, node: usize, depth: usize, expand: bool) -> WaterfallRow {
        let tree = self.tree;
        let span = &tree.spans[node];
        let offset_ns = span.start_time_unix_nano - tree.trace_start_ns;
        let scale = 1000.0 / tree.trace_len_ns as f64;
        let x = offset_ns as f64 * scale;
        let width = (span.duration_ns() as f64 * scale).max(1.0);
        let has_children = !tree.children[node].is_empty();
        WaterfallRow {
            select_href: format!("{}{}", self.select_base, span.span_id.to_hex()),
            span_id: span.span_id.to_hex(),
            name: span.name.clone(),
            service: span.origin.service_name.clone(),
            class: service_class(&span.origin.service_name),
            depth_class: format!("d{}", depth.min(10)),
            duration: format::duration(span.duration_ns() as f64),
            offset: format::duration(offset_ns as f64),
            x: format!("{x:.2}"),
            width: format!("{:.2}", width.min(1000.0 - x).max(1.0)),
            error: span.status_code == 2,
            critical: self.critical.contains(&node),
            selected: self.selected == Some(node),
            has_children: expand,
            lazy: has_children && !expand,
            hidden: if has_children && !expand {
                tree.descendants(node)
            } else {
                0
            },
            closes: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use periscope_storage::test_support::span_row;

    fn span(id: u8, parent: Option<u8>, start: i64, end: i64) -> SpanRow {
        SpanRow {
            parent_span_id: parent.map(|p| SpanId([p; 8])),
            name: format!("span {id}"),
            end_time_unix_nano: end,
            ..span_row([1; 16], [id; 8], start, "svc")
        }
    }

    #[test]
    fn critical_path_follows_the_last_finishing_children() {
        // root 0..100: b 10..90 finishes last; a 0..40 covers the time before b starts;
        // d 30..50 runs entirely while b does, so it never holds the root up.
        let spans = vec![
            span(1, None, 0, 100),
            span(2, Some(1), 0, 40),
            span(3, Some(1), 10, 90),
            span(4, Some(3), 20, 30),
            span(5, Some(1), 30, 50),
        ];
        let tree = SpanTree::new(&spans);
        let path = tree.critical_path();
        for on_path in [0, 1, 2, 3] {
            assert!(path.contains(&on_path), "span index {on_path}");
        }
        assert!(!path.contains(&4), "d overlaps b entirely");
    }

    #[test]
    fn rows_nest_and_close_their_details() {
        let spans = vec![
            span(1, None, 0, 100),
            span(2, Some(1), 0, 40),
            span(3, Some(2), 5, 30),
            span(4, Some(1), 50, 90),
        ];
        let tree = SpanTree::new(&spans);
        let critical = tree.critical_path();
        let plan = RowPlan {
            tree: &tree,
            critical: &critical,
            selected: None,
            keep_open: HashSet::new(),
            eager_depth: EAGER_DEPTH,
            select_base: "?span=".to_string(),
        };
        let rows = plan.rows(&tree.roots, 0);
        let names: Vec<&str> = rows.iter().map(|row| row.name.as_str()).collect();
        assert_eq!(names, ["span 1", "span 2", "span 3", "span 4"]);
        let opens = rows.iter().filter(|row| row.has_children).count();
        let closes: usize = rows.iter().map(|row| row.closes).sum();
        assert_eq!(opens, closes, "every <details> closes");
        assert_eq!(rows[2].closes, 1, "span 3 closes span 2's children");
        assert_eq!(rows[3].closes, 1, "span 4 closes the root's children");
    }

    #[test]
    fn orphans_and_cycles_become_roots() {
        let spans = vec![
            span(1, Some(9), 0, 10),
            span(2, Some(3), 0, 5),
            span(3, Some(2), 1, 4),
        ];
        let tree = SpanTree::new(&spans);
        assert_eq!(tree.roots.len(), 2, "orphan plus one span of the cycle");
        let critical = tree.critical_path();
        let plan = RowPlan {
            tree: &tree,
            critical: &critical,
            selected: None,
            keep_open: HashSet::new(),
            eager_depth: EAGER_DEPTH,
            select_base: "?span=".to_string(),
        };
        assert_eq!(plan.rows(&tree.roots, 0).len(), 3);
    }
}
