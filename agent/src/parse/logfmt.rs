//! logfmt: `key=value key2="quoted \"value\"" flag`. Values stay strings; a line that holds
//! no `key=value` pair at all is not logfmt.

use serde_json::{Map, Value};

/// Parses a logfmt line; `None` when no pair was found.
pub(crate) fn parse(text: &str) -> Option<Map<String, Value>> {
    let mut map = Map::new();
    let mut pairs = 0;
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut key_end = text.len();
        while let Some(&(i, c)) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                key_end = i;
                break;
            }
            chars.next();
        }
        let key = &text[start..key_end];
        if chars.peek().map(|&(_, c)| c) != Some('=') {
            // A bare word: logfmt's boolean flag.
            if !key.is_empty() {
                map.insert(key.to_string(), Value::Bool(true));
            }
            continue;
        }
        chars.next();
        let value = if chars.peek().map(|&(_, c)| c) == Some('"') {
            chars.next();
            let mut value = String::new();
            while let Some((_, c)) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, 't')) => value.push('\t'),
                        Some((_, other)) => value.push(other),
                        None => {}
                    },
                    other => value.push(other),
                }
            }
            value
        } else {
            let value_start = chars.peek().map_or(text.len(), |&(i, _)| i);
            let mut value_end = text.len();
            while let Some(&(i, c)) = chars.peek() {
                if c.is_whitespace() {
                    value_end = i;
                    break;
                }
                chars.next();
            }
            text[value_start..value_end].to_string()
        };
        if !key.is_empty() {
            map.insert(key.to_string(), Value::String(value));
            pairs += 1;
        }
    }
    (pairs > 0).then_some(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_quotes_escapes_and_flags() {
        let map = parse(r#"level=info msg="hello \"world\"" took=3ms ok empty="""#).unwrap();
        assert_eq!(map["level"], "info");
        assert_eq!(map["msg"], "hello \"world\"");
        assert_eq!(map["took"], "3ms");
        assert_eq!(map["ok"], true);
        assert_eq!(map["empty"], "");
        assert!(parse("just some words").is_none());
    }
}
