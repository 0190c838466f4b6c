//! Turns a user query string and a time range into a tantivy query, enforcing the size limits.

use std::ops::Bound;

use tantivy::query::{
    AllQuery, BooleanQuery, Occur, Query, QueryParser, QueryParserError, RangeQuery, TermQuery,
};
use tantivy::query_grammar::{UserInputAst, UserInputLeaf};
use tantivy::schema::IndexRecordOption;
use tantivy::{Searcher, Term};

use super::errors::query_error;
use super::origins::{origin_document_term, resolve_resource_leaves};
use super::query_rewrite::rewrite_query;
use super::schema::LogFields;
use crate::error::StorageError;

/// Longest query string accepted, in bytes.
pub(crate) const MAX_QUERY_BYTES: usize = 64 * 1024;

/// Most terms, phrases and ranges one query may combine: each becomes a boolean clause whose
/// posting lists are walked for every search.
pub(crate) const MAX_QUERY_CLAUSES: usize = 1024;

/// Builds the query matching the records (never the origin documents) that `text` matches
/// (every record when empty or `*`) with a time between `start_ns` and `end_ns` inclusive.
/// `searcher` answers the parts of `text` that test the resource.
pub(crate) fn build_query(
    parser: &QueryParser,
    searcher: &Searcher,
    fields: &LogFields,
    text: &str,
    start_ns: Option<i64>,
    end_ns: Option<i64>,
) -> Result<Box<dyn Query>, StorageError> {
    let text = text.trim();
    let matching: Box<dyn Query> = if text.is_empty() || text == "*" {
        Box::new(AllQuery)
    } else {
        parse_user_query(parser, searcher, fields, text)?
    };
    // Only "everything" can match an origin document (`*`, or the one a negation starts
    // from): records and origins share no other indexed field.
    let not_an_origin = TermQuery::new(origin_document_term(fields), IndexRecordOption::Basic);
    let mut clauses = vec![
        (Occur::Must, matching),
        (Occur::MustNot, Box::new(not_an_origin) as Box<dyn Query>),
    ];
    if start_ns.is_some() || end_ns.is_some() {
        let bound = |ns: Option<i64>| {
            ns.map_or(Bound::Unbounded, |ns| {
                Bound::Included(Term::from_field_i64(fields.timestamp, ns))
            })
        };
        let range = RangeQuery::new(bound(start_ns), bound(end_ns));
        clauses.push((Occur::Must, Box::new(range)));
    }
    Ok(Box::new(BooleanQuery::new(clauses)))
}

fn parse_user_query(
    parser: &QueryParser,
    searcher: &Searcher,
    fields: &LogFields,
    text: &str,
) -> Result<Box<dyn Query>, StorageError> {
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
    resolve_resource_leaves(&mut ast, parser, searcher, fields)?;
    parser
        .build_query_from_user_input_ast(ast)
        .map_err(|err| query_error(&err))
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
