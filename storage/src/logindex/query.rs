//! Turns a user query string and a time range into a tantivy query, enforcing the size limits.

use std::ops::Bound;
use std::sync::Arc;

use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, EmptyQuery, Occur, Query, QueryParser, QueryParserError,
    RangeQuery, TermQuery,
};
use tantivy::query_grammar::{UserInputAst, UserInputLeaf};
use tantivy::schema::IndexRecordOption;
use tantivy::{Searcher, Term};

use super::errors::query_error;
use super::origin_set::OriginSetCache;
use super::origins::{leaf_field, origin_document_term, resource_leaf_query, tests_resource};
use super::query_rewrite::rewrite_query;
use super::schema::{LogFields, ORIGIN, ORIGIN_ID, SEVERITY_NUMBER, TIMESTAMP};
use crate::error::StorageError;

/// Longest query string accepted, in bytes.
pub(crate) const MAX_QUERY_BYTES: usize = 64 * 1024;

/// Most terms, phrases and ranges one query may combine: each becomes a boolean clause whose
/// posting lists are walked for every search.
pub(crate) const MAX_QUERY_CLAUSES: usize = 1024;

/// Builds the query matching the records (never the origin documents) that `text` matches
/// (every record when empty or `*`) with a time between `start_ns` and `end_ns` inclusive.
/// `searcher` answers the parts of `text` that test the resource, whose matches
/// `origin_sets` keeps.
pub(crate) fn build_query(
    parser: &QueryParser,
    searcher: &Searcher,
    fields: &LogFields,
    origin_sets: &Arc<OriginSetCache>,
    text: &str,
    start_ns: Option<i64>,
    end_ns: Option<i64>,
) -> Result<Box<dyn Query>, StorageError> {
    let text = text.trim();
    let (matching, may_match_origins): (Box<dyn Query>, bool) = if text.is_empty() || text == "*" {
        (Box::new(AllQuery), true)
    } else {
        parse_user_query(parser, searcher, fields, origin_sets, text)?
    };
    let mut clauses = vec![(Occur::Must, matching)];
    // Only where the query can reach an origin document does it need this clause: it makes
    // tantivy walk every match, where a bare `info` is counted from the term's document
    // frequency alone.
    if may_match_origins {
        let not_an_origin = TermQuery::new(origin_document_term(fields), IndexRecordOption::Basic);
        clauses.push((Occur::MustNot, Box::new(not_an_origin)));
    }
    if start_ns.is_some() || end_ns.is_some() {
        let bound = |ns: Option<i64>| {
            ns.map_or(Bound::Unbounded, |ns| {
                Bound::Included(Term::from_field_i64(fields.timestamp, ns))
            })
        };
        let range = RangeQuery::new(bound(start_ns), bound(end_ns));
        clauses.push((Occur::Must, Box::new(range)));
    }
    Ok(match clauses.len() {
        1 => clauses.pop().expect("one clause").1,
        _ => Box::new(BooleanQuery::new(clauses)),
    })
}

/// Whether a query could match an origin document: one that holds "everything" (`*`, or
/// what a negation starts from), a field origin documents have, or a resource leaf (which
/// matches a segment's origin documents too when all its records match, `origin_set.rs`).
fn may_match_origin_documents(ast: &UserInputAst) -> bool {
    match ast {
        UserInputAst::Clause(children) => children
            .iter()
            .any(|(_, child)| may_match_origin_documents(child)),
        UserInputAst::Boost(child, _) => may_match_origin_documents(child),
        UserInputAst::Leaf(leaf) => {
            // Origin documents index these (the fast fields, so that their columns are full).
            let origin_fields = [ORIGIN, ORIGIN_ID, TIMESTAMP, SEVERITY_NUMBER];
            matches!(**leaf, UserInputLeaf::All)
                || tests_resource(leaf)
                || leaf_field(leaf).is_some_and(|field| origin_fields.contains(&field))
        }
    }
}

fn parse_user_query(
    parser: &QueryParser,
    searcher: &Searcher,
    fields: &LogFields,
    origin_sets: &Arc<OriginSetCache>,
    text: &str,
) -> Result<(Box<dyn Query>, bool), StorageError> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(StorageError::InvalidQuery(format!(
            "query is {} bytes, the limit is {MAX_QUERY_BYTES}",
            text.len()
        )));
    }
    let rewritten = rewrite_query(text)?;
    // Parsing the grammar ourselves (instead of `QueryParser::parse_query`) lets us count the
    // clauses and repair negative groups before tantivy turns the tree into a query.
    let mut ast = tantivy::query_grammar::parse_query(&rewritten)
        // Tantivy's syntax error names the query; name the one the user wrote.
        .map_err(|_| query_error(&QueryParserError::SyntaxError(text.to_string())))?;
    let clauses = count_clauses(&ast);
    if clauses > MAX_QUERY_CLAUSES {
        return Err(StorageError::InvalidQuery(format!(
            "query has {clauses} clauses, the limit is {MAX_QUERY_CLAUSES}"
        )));
    }
    complete_negative_groups(&mut ast);
    let leaf_query = |leaf: &UserInputLeaf| {
        if tests_resource(leaf) {
            resource_leaf_query(leaf, parser, searcher, fields, origin_sets)
        } else {
            parser
                .build_query_from_user_input_ast(UserInputAst::Leaf(Box::new(leaf.clone())))
                .map_err(|err| query_error(&err))
        }
    };
    Ok((
        to_query(&ast, &leaf_query)?,
        may_match_origin_documents(&ast),
    ))
}

/// Builds the query of one leaf of the tree.
type LeafQuery<'a> = dyn Fn(&UserInputLeaf) -> Result<Box<dyn Query>, StorageError> + 'a;

/// The clause a query parser set up as in `searcher.rs` gives a term that names no operator:
/// `error timeout` means both words.
const DEFAULT_OCCUR: Occur = Occur::Must;

/// Turns the tree into a query as tantivy's parser does, with leaves from `leaf_query`. Built
/// here rather than by the parser because a resource leaf becomes a query the grammar cannot
/// express (`origin_set.rs`).
fn to_query(
    ast: &UserInputAst,
    leaf_query: &LeafQuery<'_>,
) -> Result<Box<dyn Query>, StorageError> {
    Ok(match ast {
        // `()` matches nothing, as the parser has it.
        UserInputAst::Clause(children) if children.is_empty() => Box::new(EmptyQuery),
        UserInputAst::Clause(children) => Box::new(BooleanQuery::new(
            children
                .iter()
                .map(|(occur, child)| {
                    Ok((occur.unwrap_or(DEFAULT_OCCUR), to_query(child, leaf_query)?))
                })
                .collect::<Result<Vec<_>, StorageError>>()?,
        )),
        UserInputAst::Boost(child, boost) => Box::new(BoostQuery::new(
            to_query(child, leaf_query)?,
            boost.into_inner() as f32,
        )),
        UserInputAst::Leaf(leaf) => leaf_query(leaf)?,
    })
}

/// Gives every purely negative group an "everything" clause, so `NOT severity:debug` and
/// `a AND NOT b` (which the grammar parses as `+a +(-b)`) mean "all except". Without it tantivy
/// rejects the first and the inner group of the second matches nothing.
fn complete_negative_groups(ast: &mut UserInputAst) {
    match ast {
        UserInputAst::Clause(children) => {
            for (_, child) in children.iter_mut() {
                complete_negative_groups(child);
            }
            if !children.is_empty()
                && children
                    .iter()
                    .all(|(occur, _)| *occur == Some(Occur::MustNot))
            {
                children.push((None, UserInputAst::Leaf(Box::new(UserInputLeaf::All))));
            }
        }
        UserInputAst::Boost(child, _) => complete_negative_groups(child),
        UserInputAst::Leaf(_) => {}
    }
}

/// Leaves of the query tree: every term, phrase, range, set or exists test is one clause.
fn count_clauses(ast: &UserInputAst) -> usize {
    match ast {
        UserInputAst::Clause(children) => {
            children.iter().map(|(_, child)| count_clauses(child)).sum()
        }
        UserInputAst::Boost(child, _) => count_clauses(child),
        // A set (`IN [..]`) is a single term-set query, however many elements it lists.
        UserInputAst::Leaf(_) => 1,
    }
}
