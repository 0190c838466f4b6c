//! Rewrites the field names of a user query into schema fields before tantivy parses it.
//!
//! A small scanner rather than a regex: it follows tantivy's grammar closely enough to know
//! where a field name can start (start of a term, after `(`, `+`, `-` or whitespace) and never
//! looks inside quoted phrases or range brackets, so `"a:b"` and `[a:b TO c]` stay untouched.
//! Field-name characters and escapes mirror `field_name` in tantivy-query-grammar.

use std::borrow::Cow;

use super::schema::{
    ATTRIBUTES, BODY, RESOURCE, SERVICE, SEVERITY, SEVERITY_NUMBER, SPAN_ID, TIMESTAMP, TRACE_ID,
};
use crate::error::StorageError;

/// Deepest nesting of parentheses and `NOT`s accepted. Tantivy's parser recurses once per
/// level, so an unbounded depth could overflow the stack of the thread running the search.
pub(crate) const MAX_NESTING: usize = 32;

/// Characters that cannot appear unescaped in a field name (tantivy's `SPECIAL_CHARS`).
const FIELD_NAME_SPECIAL: &[char] = &[
    '+', '^', '`', ':', '{', '}', '"', '\'', '[', ']', '(', ')', '!', '\\', '*', ' ',
];

/// Rewrites field names: aliases become schema fields, `trace_id`/`span_id` values are
/// lowercased, and names that are not schema fields are looked up in the record attributes.
pub(crate) fn rewrite_query(query: &str) -> Result<String, StorageError> {
    let mut out = String::with_capacity(query.len() + 32);
    let mut rest = query;
    // Whether a field name may start here.
    let mut at_term_start = true;
    // Parser recursion levels: each open `(` costs one plus the `NOT`s right before it
    // (remembered per group so `)` gives them back), each pending `NOT` one more.
    let mut open_groups: Vec<usize> = Vec::new();
    let mut nesting = 0usize;
    let mut pending_nots = 0usize;
    while let Some(c) = rest.chars().next() {
        if at_term_start && !c.is_whitespace() {
            if is_keyword(rest, "NOT") {
                pending_nots += 1;
                check_nesting(nesting + pending_nots)?;
                out.push_str("NOT");
                rest = &rest["NOT".len()..];
                at_term_start = false;
                continue;
            }
            if let Some(field) = parse_field_name(rest) {
                let target = map_field_name(&field.name, &rest[..field.raw_len]);
                out.push_str(&target);
                out.push(':');
                rest = &rest[field.consumed..];
                if target == TRACE_ID || target == SPAN_ID {
                    rest = push_lowercased_value(rest, &mut out);
                }
                at_term_start = false;
                pending_nots = 0;
                continue;
            }
        }
        let mut len = c.len_utf8();
        let mut next_at_term_start = false;
        match c {
            _ if c.is_whitespace() => next_at_term_start = true,
            '"' | '\'' => len = quoted_len(rest),
            '[' | '{' => len = range_len(rest),
            '\\' => len += rest[len..].chars().next().map_or(0, char::len_utf8),
            '(' => {
                let cost = 1 + pending_nots;
                nesting += cost;
                check_nesting(nesting)?;
                open_groups.push(cost);
                next_at_term_start = true;
            }
            ')' => nesting -= open_groups.pop().unwrap_or(0),
            '+' | '-' if at_term_start => next_at_term_start = true,
            _ => {}
        }
        // A term, or a group (which took them over), ends a run of `NOT`s.
        if !(c.is_whitespace() || matches!(c, '+' | '-')) {
            pending_nots = 0;
        }
        out.push_str(&rest[..len]);
        rest = &rest[len..];
        at_term_start = next_at_term_start;
    }
    Ok(out)
}

fn check_nesting(level: usize) -> Result<(), StorageError> {
    if level > MAX_NESTING {
        return Err(StorageError::InvalidQuery(format!(
            "query nests parentheses or NOT deeper than {MAX_NESTING} levels"
        )));
    }
    Ok(())
}

/// `keyword` as a whole word followed by whitespace, as tantivy requires for `NOT`.
fn is_keyword(text: &str, keyword: &str) -> bool {
    text.strip_prefix(keyword)
        .and_then(|after| after.chars().next())
        .is_some_and(char::is_whitespace)
}

/// Length of the quoted string at the start of `text`, quotes included; backslash escapes the
/// next character. An unterminated quote runs to the end (tantivy then reports the error).
fn quoted_len(text: &str) -> usize {
    let mut chars = text.char_indices();
    let Some((_, quote)) = chars.next() else {
        return 0;
    };
    while let Some((pos, c)) = chars.next() {
        if c == '\\' {
            chars.next();
        } else if c == quote {
            return pos + c.len_utf8();
        }
    }
    text.len()
}

/// Length of the range or set brackets at the start of `text` (`[a TO b}`, `[x y]`), skipping
/// quoted bounds.
fn range_len(text: &str) -> usize {
    let mut pos = 1;
    while let Some(c) = text[pos..].chars().next() {
        match c {
            '"' | '\'' => pos += quoted_len(&text[pos..]),
            '\\' => {
                pos += 1;
                pos += text[pos..].chars().next().map_or(0, char::len_utf8);
            }
            ']' | '}' => return pos + 1,
            _ => pos += c.len_utf8(),
        }
    }
    text.len()
}

/// A field prefix found at the start of a term.
#[derive(Debug, PartialEq, Eq)]
struct FieldPrefix {
    /// The name with escapes interpreted the way tantivy does.
    name: String,
    /// Bytes of the name as written (escapes kept).
    raw_len: usize,
    /// Bytes up to and including the `:` and the whitespace after it.
    consumed: usize,
}

/// Parses `name:` at the start of `text` like tantivy's `field_name`: a run of non-special
/// characters (not starting with `-`), where `\` escapes a special character, then optional
/// whitespace, a colon and optional whitespace.
fn parse_field_name(text: &str) -> Option<FieldPrefix> {
    let mut name = String::new();
    let mut pos = 0;
    while let Some(c) = text[pos..].chars().next() {
        let escaped = (c == '\\')
            .then(|| text[pos + 1..].chars().next())
            .flatten()
            .filter(|next| FIELD_NAME_SPECIAL.contains(next));
        if let Some(special) = escaped {
            name.push(special);
            pos += 1 + special.len_utf8();
        } else if (c == '\\' && pos > 0)
            || !(FIELD_NAME_SPECIAL.contains(&c) || (pos == 0 && c == '-'))
        {
            name.push(c);
            pos += c.len_utf8();
        } else {
            break;
        }
    }
    if pos == 0 {
        return None;
    }
    let raw_len = pos;
    let after_name = text[pos..].trim_start_matches(is_multispace);
    let after_colon = after_name.strip_prefix(':')?;
    let value = after_colon.trim_start_matches(is_multispace);
    Some(FieldPrefix {
        name,
        raw_len,
        consumed: text.len() - value.len(),
    })
}

/// The whitespace nom's `multispace0` accepts around the colon.
fn is_multispace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Schema field for a user field name. `raw` is the name as written, reused for attribute
/// paths so escapes reach tantivy unchanged.
fn map_field_name<'a>(name: &str, raw: &'a str) -> Cow<'a, str> {
    match name {
        BODY | SERVICE | SEVERITY | SEVERITY_NUMBER | TRACE_ID | SPAN_ID | TIMESTAMP
        | ATTRIBUTES | RESOURCE => Cow::Borrowed(raw),
        "service.name" | "service_name" => Cow::Borrowed(SERVICE),
        "level" | "severity_text" => Cow::Borrowed(SEVERITY),
        _ if is_json_path_of(name, ATTRIBUTES) || is_json_path_of(name, RESOURCE) => {
            Cow::Borrowed(raw)
        }
        _ => Cow::Owned(format!("{ATTRIBUTES}.{raw}")),
    }
}

fn is_json_path_of(name: &str, field: &str) -> bool {
    name.strip_prefix(field)
        .is_some_and(|path| path.starts_with('.'))
}

/// Copies an id value lowercased (ids are indexed as lowercase hex) when it is a plain word or a
/// phrase; groups, sets and ranges are left to the field's lowercasing tokenizer. Returns the
/// rest of the query.
fn push_lowercased_value<'a>(rest: &'a str, out: &mut String) -> &'a str {
    let len = match rest.chars().next() {
        Some('"' | '\'') => quoted_len(rest),
        Some('(' | '[' | '{' | '*') | None => 0,
        Some(_) if is_keyword(rest, "IN") => 0,
        Some(_) => rest
            .find(|c: char| c.is_whitespace() || c == ')')
            .unwrap_or(rest.len()),
    };
    out.push_str(&rest[..len].to_lowercase());
    &rest[len..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(query: &str) -> String {
        rewrite_query(query).expect("rewrite")
    }

    #[test]
    fn unknown_fields_search_attributes() {
        assert_eq!(rewrite("http.method:GET"), "attributes.http.method:GET");
        assert_eq!(
            rewrite("error AND http.status_code:500"),
            "error AND attributes.http.status_code:500"
        );
        assert_eq!(rewrite("café:naïve"), "attributes.café:naïve");
        assert_eq!(rewrite("source:x"), "attributes.source:x");
    }

    #[test]
    fn aliases_become_schema_fields() {
        assert_eq!(rewrite("service.name:checkout"), "service:checkout");
        assert_eq!(rewrite("service_name:checkout"), "service:checkout");
        assert_eq!(
            rewrite("level:ERROR OR severity_text:warn"),
            "severity:ERROR OR severity:warn"
        );
        assert_eq!(
            rewrite("severity_number:[17 TO 24]"),
            "severity_number:[17 TO 24]"
        );
    }

    #[test]
    fn schema_fields_and_json_paths_are_kept() {
        for query in [
            "body:timeout",
            "attributes.user.id:42",
            "resource.host.name:web-1",
            "timestamp:>5",
            "service:checkout",
        ] {
            assert_eq!(rewrite(query), query);
        }
    }

    #[test]
    fn quotes_are_respected() {
        assert_eq!(rewrite(r#""a:b c:d" e:f"#), r#""a:b c:d" attributes.e:f"#);
        assert_eq!(rewrite("'a:b' c:d"), "'a:b' attributes.c:d");
        assert_eq!(
            rewrite(r#"body:"say \"k:v\" now" k:v"#),
            r#"body:"say \"k:v\" now" attributes.k:v"#
        );
        assert_eq!(rewrite(r#"msg:"a:b""#), r#"attributes.msg:"a:b""#);
        // Unterminated quote: nothing after it is rewritten, tantivy reports the error.
        assert_eq!(rewrite(r#""open a:b"#), r#""open a:b"#);
    }

    #[test]
    fn ranges_and_sets_are_copied_verbatim() {
        assert_eq!(
            rewrite("t:[2024-01-01T00:00:00Z TO *]"),
            "attributes.t:[2024-01-01T00:00:00Z TO *]"
        );
        assert_eq!(
            rewrite("k: IN [a:b \"c]\"]"),
            "attributes.k:IN [a:b \"c]\"]"
        );
    }

    #[test]
    fn operators_groups_and_prefixes() {
        assert_eq!(
            rewrite("-a:1 +b:2 NOT c:3 (d:4 OR e:5)"),
            "-attributes.a:1 +attributes.b:2 NOT attributes.c:3 (attributes.d:4 OR attributes.e:5)"
        );
        assert_eq!(rewrite("k:(a OR b)"), "attributes.k:(a OR b)");
        assert_eq!(rewrite("foo : bar"), "attributes.foo:bar");
        // A colon inside a word after a field is a value character, not a new field.
        assert_eq!(rewrite("a:b:c"), "attributes.a:b:c");
        assert_eq!(rewrite("x-y:1"), "attributes.x-y:1");
        assert_eq!(rewrite(r"a\:b:c"), r"attributes.a\:b:c");
    }

    #[test]
    fn id_values_are_lowercased() {
        assert_eq!(rewrite("trace_id:ABCDEF"), "trace_id:abcdef");
        assert_eq!(rewrite("span_id:\"AB12\" AND X"), "span_id:\"ab12\" AND X");
        assert_eq!(rewrite("(trace_id:AB)"), "(trace_id:ab)");
        assert_eq!(rewrite("trace_id: IN [AB CD]"), "trace_id:IN [AB CD]");
    }

    #[test]
    fn plain_terms_are_untouched() {
        for query in [
            "",
            "*",
            "hello world",
            "\"exact phrase\"",
            "a AND NOT b",
            "-x +y",
        ] {
            assert_eq!(rewrite(query), query);
        }
    }

    #[test]
    fn nesting_is_capped() {
        let deep = format!(
            "{}x{}",
            "(".repeat(MAX_NESTING + 1),
            ")".repeat(MAX_NESTING + 1)
        );
        assert!(matches!(
            rewrite_query(&deep),
            Err(StorageError::InvalidQuery(_))
        ));
        let nots = format!("{}x", "NOT ".repeat(MAX_NESTING + 1));
        assert!(matches!(
            rewrite_query(&nots),
            Err(StorageError::InvalidQuery(_))
        ));
        let ok = format!("{}x{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        assert!(rewrite_query(&ok).is_ok());
        // NOTs inside nested groups count with the groups around them.
        let mixed = format!("{}x", "NOT (a ".repeat(MAX_NESTING / 2 + 1));
        assert!(matches!(
            rewrite_query(&mixed),
            Err(StorageError::InvalidQuery(_))
        ));
        let mixed_ok = format!("{}x", "NOT (a ".repeat(MAX_NESTING / 2));
        assert!(rewrite_query(&mixed_ok).is_ok());
        // Sequential groups and NOTs do not add up.
        assert!(rewrite_query(&"(a) NOT b ".repeat(100)).is_ok());
    }
}
