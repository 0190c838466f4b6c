//! Parsers: a record's text → fields (JSON, logfmt or regex captures), then the well-known
//! fields lifted out: body, event time, severity and trace context (shared/COMPAT.md §11).
//! Whatever a parser cannot read stays the body, untouched: a bad line is never dropped.

mod fields;
mod logfmt;
mod time;

use serde_json::{Map, Value};

use crate::config::{ParserConfig, ParserKind, TimestampFormat};

pub use fields::{Parsed, key_value};

/// A compiled `parser` section.
#[derive(Debug)]
pub struct Parser {
    kind: ParserKind,
    regex: Option<regex::Regex>,
    message_fields: Vec<String>,
    timestamp_fields: Vec<String>,
    timestamp_format: TimestampFormat,
    severity_fields: Vec<String>,
}

impl Parser {
    /// Compiles the section (already validated).
    ///
    /// # Errors
    /// The regex error, if the pattern does not compile.
    pub fn new(config: &ParserConfig) -> Result<Self, String> {
        let regex = match &config.pattern {
            Some(pattern) => Some(crate::config::source::compile_regex(pattern)?),
            None => None,
        };
        let or = |field: &Option<String>, defaults: &[&str]| match field {
            Some(name) => vec![name.clone()],
            None => defaults.iter().map(|s| (*s).to_string()).collect(),
        };
        Ok(Self {
            kind: config.kind,
            regex,
            message_fields: or(&config.message_field, &["message", "msg"]),
            timestamp_fields: or(
                &config.timestamp_field,
                &["time", "timestamp", "ts", "@timestamp"],
            ),
            timestamp_format: config.timestamp_format,
            severity_fields: or(
                &config.severity_field,
                &["level", "severity", "lvl", "log.level"],
            ),
        })
    }

    /// Parses one record's text.
    pub fn parse(&self, text: &str) -> Parsed {
        let fields = match self.kind {
            ParserKind::None => None,
            ParserKind::Json => match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(map)) => Some(map),
                _ => None,
            },
            ParserKind::Logfmt => logfmt::parse(text),
            ParserKind::Regex => self.regex.as_ref().and_then(|regex| captures(regex, text)),
        };
        match fields {
            Some(map) => fields::extract(
                map,
                text,
                &self.message_fields,
                &self.timestamp_fields,
                self.timestamp_format,
                &self.severity_fields,
            ),
            None => Parsed::plain(text),
        }
    }
}

fn captures(regex: &regex::Regex, text: &str) -> Option<Map<String, Value>> {
    let caps = regex.captures(text)?;
    let mut map = Map::new();
    for name in regex.capture_names().flatten() {
        if let Some(m) = caps.name(name) {
            map.insert(name.to_string(), Value::String(m.as_str().to_string()));
        }
    }
    Some(map)
}

#[cfg(test)]
mod tests;
